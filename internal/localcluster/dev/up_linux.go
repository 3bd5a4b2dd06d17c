package dev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"boxoffice.dev/boxoffice/internal/localcluster/clusterdns"
	"boxoffice.dev/boxoffice/internal/localcluster/controlplane"
	"boxoffice.dev/boxoffice/internal/localcluster/fault"
	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/nodeagent"
	"boxoffice.dev/boxoffice/internal/localcluster/state"
)

// Options are the flags of `localcluster up` (and, StateDir and Bridge,
// of `localcluster clean`).
type Options struct {
	StateDir string
	Bins     string
	Repo     string
	Bridge   string
	PodCIDR  string
	// Images are IMAGE=BINARY mappings (--image, repeatable).
	Images     []string
	Manager    string
	Sample     string
	ReadyFile  string
	ExposePort int
	Webhooks   bool
	Nodes      int
	// Logf reports progress (on stderr).
	Logf func(string, ...any)
}

// ReadyInfo is what --ready-file holds.
type ReadyInfo struct {
	Kubeconfig string `json:"kubeconfig"`
	Server     string `json:"server"`
	StateDir   string `json:"stateDir"`
	Bins       string `json:"bins"`
	HostIP     string `json:"hostIP"`
	ManagerLog string `json:"managerLog,omitempty"`
	// ControlSocket takes fault injection (package fault).
	ControlSocket string   `json:"controlSocket"`
	Nodes         []string `json:"nodes"`
	// BreakGlassKubeconfig is a user in the manager's break-glass group.
	BreakGlassKubeconfig string `json:"breakGlassKubeconfig"`
	Webhooks             bool   `json:"webhooks"`
}

// Clean removes what a crashed run with these options left behind.
func Clean(o *Options) error {
	unlock, err := state.Lock(o.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	state.CleanupStale(o.StateDir, o.Bridge, o.Logf)
	return nil
}

// ParseImages reads --image IMAGE=BINARY flags into a map of absolute
// binary paths; every binary must exist.
func ParseImages(flags []string) (map[string]string, error) {
	images := map[string]string{}
	for _, m := range flags {
		img, bin, ok := strings.Cut(m, "=")
		if !ok || img == "" || bin == "" {
			return nil, fmt.Errorf("--image %q: want IMAGE=BINARY", m)
		}
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("--image %s: %w", m, err)
		}
		images[img] = abs
	}
	return images, nil
}

func resolveBins(o *Options) (string, error) {
	if o.Bins != "" {
		return o.Bins, nil
	}
	o.Logf("building control-plane binaries with hack/envtest-bins.sh (cached; the first build takes a while)")
	cmd := exec.Command(filepath.Join(o.Repo, "hack", "envtest-bins.sh"), "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest-bins.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// cluster is one run of `up`: what it started, so that stop removes it all.
type cluster struct {
	o      *Options
	images map[string]string
	bins   string
	self   string
	specs  []network.NodeSpec
	pn     *network.PodNetwork
	rec    *state.Record
	cp     *controlplane.ControlPlane
	cfg    *rest.Config
	cs     kubernetes.Interface
	fleet  *nodeagent.Fleet
	// stopAgents ends every node agent.
	stopAgents context.CancelFunc
	manager    *controlplane.Component
	socket     string
}

// Up runs a local cluster until SIGINT or SIGTERM (or until a control-plane
// process or the manager exits), then removes everything it made.
func Up(o *Options) error {
	c := &cluster{o: o}
	if err := c.prepare(); err != nil {
		return err
	}
	unlock, err := state.Lock(o.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	state.CleanupStale(o.StateDir, o.Bridge, o.Logf)
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return err
	}
	c.rec = state.NewRecord(state.RecordFile(o.StateDir), o.Bridge)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := c.pn.Up(); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	defer c.stop()
	if err := c.start(ctx); err != nil {
		return err
	}
	stopControl := func() {}
	if c.socket, stopControl, err = fault.Serve(o.StateDir, c.fleet); err != nil {
		return err
	}
	defer stopControl()
	info, err := c.startDev(ctx)
	if err != nil {
		return err
	}
	return c.wait(ctx, info)
}

// prepare checks the flags and finds the binaries; it changes nothing on
// the host.
func (c *cluster) prepare() error {
	var err error
	if c.images, err = ParseImages(c.o.Images); err != nil {
		return err
	}
	if c.bins, err = resolveBins(c.o); err != nil {
		return err
	}
	if c.self, err = os.Executable(); err != nil {
		return err
	}
	if c.pn, err = network.NewPodNetwork(c.o.Bridge, c.o.PodCIDR); err != nil {
		return err
	}
	c.specs, err = network.PlanNodes(c.pn.Prefix(), c.o.Nodes)
	return err
}

// start runs the control plane and boots the nodes.
func (c *cluster) start(ctx context.Context) error {
	began := time.Now()
	c.cp = &controlplane.ControlPlane{Bins: c.bins, Dir: filepath.Join(c.o.StateDir, "cp"), LogDir: filepath.Join(c.o.StateDir, "logs"),
		Record: c.rec, Logf: c.o.Logf, NodeGrace: nodeagent.NodeGrace}
	if err := c.cp.Up(ctx, c.pn.HostIP().String()); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.cp.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 50, 100
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	c.cfg = cfg
	agentCtx, stopAgents := context.WithCancel(context.Background())
	c.stopAgents = stopAgents
	dnsAddr := net.JoinHostPort(c.pn.HostIP().String(), strconv.Itoa(network.DNSPort))
	dns := &clusterdns.Server{Addr: dnsAddr, Domain: network.ClusterDomain, Client: c.cs}
	if err := dns.Start(agentCtx); err != nil {
		return err
	}
	c.o.Logf("cluster DNS on %s", dnsAddr)
	c.fleet = nodeagent.NewFleet(agentCtx, c.specs, c.pn, nodeagent.Config{
		Client: c.cs, StateDir: c.o.StateDir, Self: c.self, Images: c.images, Record: c.rec, Logf: c.o.Logf,
		APIHost: c.cp.Host, APIPort: c.cp.Port,
	})
	if err := c.fleet.Start(); err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	c.o.Logf("control plane and %d nodes up in %s; KUBECONFIG=%s", len(c.specs), time.Since(began).Round(time.Second), c.cp.Kubeconfig)
	return nil
}

// startDev runs the manager (with --manager), writes the ready file, and
// applies the sample (with --sample) or prints how to use the cluster.
func (c *cluster) startDev(ctx context.Context) (ReadyInfo, error) {
	o := c.o
	info := ReadyInfo{Kubeconfig: c.cp.Kubeconfig, BreakGlassKubeconfig: c.cp.BreakGlassKubeconfig, Server: c.cp.Server,
		StateDir: o.StateDir, Bins: c.bins, HostIP: c.pn.HostIP().String(), ControlSocket: c.socket}
	for _, s := range c.specs {
		info.Nodes = append(info.Nodes, s.Name)
	}
	help := FaultHelp(c.self, o.StateDir, c.specs)
	var dev *devSession
	if o.Manager != "" {
		dev = &devSession{o: o, cp: c.cp, cfg: c.cfg, cs: c.cs, logf: o.Logf, faults: help}
		mgr, err := dev.startManager(ctx)
		c.manager = mgr
		if err != nil {
			return info, err
		}
		info.ManagerLog = filepath.Join(c.cp.LogDir, "manager.log")
		info.Webhooks = dev.webhooks
	}
	if o.ReadyFile != "" {
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := os.WriteFile(o.ReadyFile, b, 0o644); err != nil {
			return info, err
		}
	}
	if o.Sample != "" && dev != nil {
		return info, dev.applySample(ctx)
	}
	fmt.Printf("\nLocal cluster up.\n  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl\n%s\nCtrl-C stops it and removes everything it made.\n\n", c.cp.Kubeconfig, c.bins, help)
	return info, nil
}

// wait returns nil on a signal, or an error when a control-plane process or
// the manager exits.
func (c *cluster) wait(ctx context.Context, info ReadyInfo) error {
	exited := c.cp.Exited()
	var mgrDone <-chan struct{}
	if c.manager != nil {
		mgrDone = c.manager.Done()
	}
	select {
	case <-ctx.Done():
		return nil
	case msg := <-exited:
		return errors.New(msg)
	case <-mgrDone:
		return fmt.Errorf("the manager exited (%v); its log ends:\n%s", c.manager.Err(), state.Tail(info.ManagerLog, 3000))
	}
}

// stop removes everything the run made, in reverse order.
func (c *cluster) stop() {
	c.o.Logf("stopping")
	if c.manager != nil {
		c.manager.Stop(10 * time.Second)
	}
	if c.stopAgents != nil {
		c.stopAgents()
	}
	if c.fleet != nil {
		c.fleet.Wait(20 * time.Second)
	}
	if c.cp != nil {
		c.cp.Stop()
	}
	state.CleanupStale(c.o.StateDir, c.o.Bridge, func(string, ...any) {})
	c.pn.Down()
	c.o.Logf("stopped; removed the bridge, pod namespaces and %s", c.o.StateDir)
}
