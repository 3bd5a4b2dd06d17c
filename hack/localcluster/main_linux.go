// Command localcluster runs a real Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler built from the Go
// module proxy) and three in-process node agents (node-1..node-3, one zone
// each) that run pods as host processes, each in its own network and mount
// namespace on a bridge. It needs root.
//
//	localcluster up [flags]     start; Ctrl-C (SIGINT/SIGTERM) stops and removes everything
//	localcluster clean [flags]  remove what a crashed run left behind
//	localcluster nodes          list the running cluster's nodes and their fault states
//	localcluster node kill|pause|cut|heal NODE
//	                            inject a fault into a node of the running cluster, or heal it
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
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

	"boxoffice.dev/boxoffice/internal/localcluster/clusterdns"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	closeInheritedOnExec()
	args := os.Args[1:]
	cmd := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "pod-exec": // hidden: runs inside a pod's namespaces
		os.Exit(podExecMain(args))
	case "up":
		os.Exit(upMain(args))
	case "clean":
		os.Exit(cleanMain(args))
	case "node", "nodes":
		os.Exit(nodeMain(cmd, args))
	default:
		fmt.Fprintf(os.Stderr, "localcluster: unknown command %q (want up, clean, nodes or node)\n", cmd)
		os.Exit(2)
	}
}

type options struct {
	stateDir   string
	bins       string
	repo       string
	bridge     string
	podCIDR    string
	images     multiFlag
	manager    string
	sample     string
	readyFile  string
	exposePort int
	webhooks   bool
	nodes      int
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func commonFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.stateDir, "state-dir", defaultStateDir, "Directory for certificates, etcd data, logs, pod files and volumes; removed on exit.")
	fs.StringVar(&o.bridge, "bridge", "bxlc0", "Name of the bridge the pods are attached to.")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s localcluster: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func needRoot() bool {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "localcluster needs root: it creates network namespaces, a bridge, veth pairs and bind mounts for pods.\n"+
			"Run it as root (for example: sudo make dev).")
		return false
	}
	if _, err := exec.LookPath("ip"); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster needs the ip command (Debian package iproute2).")
		return false
	}
	return true
}

func cleanMain(args []string) int {
	o := &options{}
	fs := flag.NewFlagSet("clean", flag.ContinueOnError)
	commonFlags(fs, o)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !needRoot() {
		return 1
	}
	unlock, err := lock(o.stateDir)
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer unlock()
	cleanupStale(o.stateDir, o.bridge, logf)
	logf("clean")
	return 0
}

// lock keeps two local clusters from sharing (and cleaning up) one state dir.
func lock(stateDir string) (func(), error) {
	path := strings.TrimSuffix(stateDir, "/") + ".lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another local cluster is running with state dir %s (lock %s)", stateDir, path)
	}
	return func() { os.Remove(path); f.Close() }, nil
}

func upMain(args []string) int {
	o := &options{}
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	commonFlags(fs, o)
	fs.StringVar(&o.bins, "bins", os.Getenv("LOCALCLUSTER_BINS"), "Directory with etcd, kube-apiserver and kube-controller-manager (default: built by hack/envtest-bins.sh).")
	fs.StringVar(&o.repo, "repo", ".", "Repository root (for hack/envtest-bins.sh, config/crd/bases and config/samples).")
	fs.StringVar(&o.podCIDR, "pod-cidr", "10.244.0.0/24", "Private range for pod addresses; the host takes the first address on the bridge.")
	fs.Var(&o.images, "image", "IMAGE=BINARY: run BINARY for containers of IMAGE (repeatable). Other images fail with ErrImageNeverPull.")
	fs.StringVar(&o.manager, "manager", "", "Run this boxoffice binary as the operator (installs the CRDs first).")
	fs.StringVar(&o.sample, "sample", "", "Apply this Showtime (opening now, demo payments) and wait until it is Ready.")
	fs.StringVar(&o.readyFile, "ready-file", "", "Write a JSON description of the running cluster here once it is up.")
	fs.IntVar(&o.exposePort, "expose-port", 18080, "With --sample: forward 127.0.0.1:PORT to the sample's front end (0: off).")
	fs.IntVar(&o.nodes, "nodes", 3, "Number of nodes (node-1..node-N, each in its own zone zone-1..zone-N).")
	fs.BoolVar(&o.webhooks, "webhooks", true, "With --manager: serve the operator's admission webhooks to the API server, if the manager has them.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !needRoot() {
		return 1
	}
	if err := up(o); err != nil {
		logf("error: %v", err)
		return 1
	}
	return 0
}

// readyInfo is what --ready-file holds.
type readyInfo struct {
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

func resolveBins(o *options) (string, error) {
	if o.bins != "" {
		return o.bins, nil
	}
	logf("building control-plane binaries with hack/envtest-bins.sh (cached; the first build takes a while)")
	cmd := exec.Command(filepath.Join(o.repo, "hack", "envtest-bins.sh"), "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest-bins.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func up(o *options) (retErr error) {
	images := map[string]string{}
	for _, m := range o.images {
		img, bin, ok := strings.Cut(m, "=")
		if !ok || img == "" || bin == "" {
			return fmt.Errorf("--image %q: want IMAGE=BINARY", m)
		}
		abs, err := filepath.Abs(bin)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("--image %s: %w", m, err)
		}
		images[img] = abs
	}
	bins, err := resolveBins(o)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	unlock, err := lock(o.stateDir)
	if err != nil {
		return err
	}
	defer unlock()

	cleanupStale(o.stateDir, o.bridge, logf)
	if err := os.MkdirAll(o.stateDir, 0o755); err != nil {
		return err
	}
	rec := &record{path: filepath.Join(o.stateDir, "record.json"), Bridge: o.bridge}
	rec.save()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	began := time.Now()

	pn, err := newPodNetwork(o.bridge, o.podCIDR)
	if err != nil {
		return err
	}
	specs, err := planNodes(pn.prefix, o.nodes)
	if err != nil {
		return err
	}
	if err := pn.up(); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	cp := &controlPlane{bins: bins, dir: filepath.Join(o.stateDir, "cp"), logDir: filepath.Join(o.stateDir, "logs"), rec: rec, logf: logf}
	agentCtx, stopAgent := context.WithCancel(context.Background())
	var fl *fleet
	var extra []*component
	defer func() {
		logf("stopping")
		for i := len(extra) - 1; i >= 0; i-- {
			stopComponent(extra[i], 10*time.Second)
		}
		stopAgent()
		if fl != nil {
			fl.wait(20 * time.Second)
		}
		cp.stop()
		cleanupStale(o.stateDir, o.bridge, func(string, ...any) {})
		pn.down()
		logf("stopped; removed the bridge, pod namespaces and %s", o.stateDir)
	}()

	if err := cp.up(ctx, pn.hostIP.String()); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dns := &clusterdns.Server{Addr: net.JoinHostPort(pn.hostIP.String(), strconv.Itoa(dnsPort)), Domain: clusterDomain, Client: cs}
	if err := dns.Start(agentCtx); err != nil {
		return err
	}
	fl = newFleet(agentCtx, specs, pn, func(ctx context.Context, spec nodeSpec, net *podNetwork) *agent {
		return &agent{ctx: ctx, node: spec.Name, zone: spec.Zone, cs: cs, stateDir: o.stateDir, self: self, images: images, net: net, rec: rec, logf: logf, apiHost: cp.Host, apiPort: cp.Port}
	}, logf)
	if err := fl.start(); err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	sock, stopControl, err := serveControl(o.stateDir, fl)
	if err != nil {
		return err
	}
	defer stopControl()
	logf("control plane and %d nodes up in %s; KUBECONFIG=%s", len(specs), time.Since(began).Round(time.Second), cp.Kubeconfig)

	info := readyInfo{Kubeconfig: cp.Kubeconfig, BreakGlassKubeconfig: cp.BreakGlassKubeconfig, Server: cp.Server, StateDir: o.stateDir, Bins: bins, HostIP: pn.hostIP.String(), ControlSocket: sock}
	for _, s := range specs {
		info.Nodes = append(info.Nodes, s.Name)
	}
	var dev *devSession
	if o.manager != "" {
		dev = &devSession{o: o, cp: cp, cfg: cfg, cs: cs, logf: logf, faults: faultHelp(self, o.stateDir, specs)}
		mgr, err := dev.startManager(ctx)
		if mgr != nil {
			extra = append(extra, mgr)
		}
		if err != nil {
			return err
		}
		info.ManagerLog = filepath.Join(cp.logDir, "manager.log")
		info.Webhooks = dev.webhooks
	}
	if o.readyFile != "" {
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := os.WriteFile(o.readyFile, b, 0o644); err != nil {
			return err
		}
	}
	if o.sample != "" && dev != nil {
		if err := dev.applySample(ctx, pn); err != nil {
			return err
		}
	} else {
		fmt.Printf("\nLocal cluster up.\n  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl\n%s\nCtrl-C stops it and removes everything it made.\n\n", cp.Kubeconfig, bins, faultHelp(self, o.stateDir, specs))
	}

	exited := cp.exited()
	var mgrDone <-chan struct{}
	if len(extra) > 0 {
		mgrDone = extra[0].done
	}
	select {
	case <-ctx.Done():
		return nil
	case msg := <-exited:
		return errors.New(msg)
	case <-mgrDone:
		return fmt.Errorf("the manager exited (%v); its log ends:\n%s", extra[0].err, tail(info.ManagerLog, 3000))
	}
}

func stopComponent(c *component, grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
