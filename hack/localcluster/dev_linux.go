package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// devSession runs the operator against the local cluster: CRDs, the manager
// as a host process, its webhooks if it has them, and the sample Showtime.
type devSession struct {
	o        *options
	cp       *controlPlane
	cfg      *rest.Config
	cs       kubernetes.Interface
	logf     func(string, ...any)
	webhooks bool
	// faults is the fault-injection help printed with the sample.
	faults string
}

var (
	crdGVR     = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	vwcGVR     = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	mwcGVR     = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
	showtimeGV = schema.GroupVersionResource{Group: "boxoffice.dev", Version: "v1alpha1", Resource: "showtimes"}
)

// readObjects decodes every YAML document in the files.
func readObjects(files ...string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if err == io.EOF {
					break
				}
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(m) == 0 {
				continue
			}
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out, nil
}

func applyObj(ctx context.Context, dc dynamic.Interface, gvr schema.GroupVersionResource, u *unstructured.Unstructured) error {
	var ri dynamic.ResourceInterface = dc.Resource(gvr)
	if ns := u.GetNamespace(); ns != "" {
		ri = dc.Resource(gvr).Namespace(ns)
	}
	_, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "localcluster", Force: true})
	return err
}

// InstallCRDs applies config/crd/bases and waits until each is established.
func (d *devSession) installCRDs(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(d.o.repo, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs in %s/config/crd/bases", d.o.repo)
	}
	objs, err := readObjects(files...)
	if err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(d.cfg)
	if err != nil {
		return err
	}
	for _, u := range objs {
		if err := applyObj(ctx, dc, crdGVR, u); err != nil {
			return fmt.Errorf("CRD %s: %w", u.GetName(), err)
		}
	}
	for _, u := range objs {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := dc.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", u.GetName(), err)
		}
	}
	d.logf("installed %d CRDs", len(objs))
	return nil
}

// managerFlags lists the flags the manager binary knows (from its -help).
func managerFlags(bin string) string {
	out, _ := exec.Command(bin, "manager", "-help").CombinedOutput()
	return string(out)
}

// startManager installs the CRDs and runs `boxoffice manager` on the host.
func (d *devSession) startManager(ctx context.Context) (*component, error) {
	if err := d.installCRDs(ctx); err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(d.o.manager)
	if err != nil {
		return nil, err
	}
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	probePort, err := freePort()
	if err != nil {
		return nil, err
	}
	image := ""
	for _, m := range d.o.images {
		image, _, _ = strings.Cut(m, "=")
		break
	}
	args := []string{"manager",
		"--default-image=" + image, "--metrics-secure=false",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
		"--operator-namespace=default",
	}
	help := managerFlags(bin)
	webhookArgs, err := d.webhookSetup(ctx, help)
	if err != nil {
		return nil, err
	}
	args = append(args, webhookArgs...)
	logPath := filepath.Join(d.cp.logDir, "manager.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+d.cp.ManagerKubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	d.cp.rec.add(cmd.Process.Pid, "manager")
	c := &component{name: "manager", cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		d.cp.rec.remove(cmd.Process.Pid)
		close(c.done)
	}()
	d.logf("started the manager (%s %s); log %s", bin, strings.Join(args, " "), logPath)
	if err := waitHTTP(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort), 2*time.Minute, c.done); err != nil {
		return c, fmt.Errorf("manager: %w; its log ends:\n%s", err, tail(logPath, 3000))
	}
	return c, nil
}

// webhookSetup serves the manager's admission webhooks to the API server on
// the host: a serving certificate for 127.0.0.1 from the cluster CA, and the
// webhook configurations from config/webhook with URLs instead of a Service.
// It does nothing when the manager has no webhook flag.
func (d *devSession) webhookSetup(ctx context.Context, help string) ([]string, error) {
	manifests := filepath.Join(d.o.repo, "config", "webhook", "manifests.yaml")
	_, statErr := os.Stat(manifests)
	if !d.o.webhooks || !hasFlag(help, "-enable-webhooks") || statErr != nil {
		d.logf("admission webhooks: not served (the manager has no --enable-webhooks flag, or config/webhook/manifests.yaml is missing, or --webhooks=false)")
		return []string{"--enable-webhooks=false"}[:boolInt(hasFlag(help, "-enable-webhooks"))], nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(d.cp.dir, "webhook")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	crt, key, err := d.cp.pki.issue("webhook", "boxoffice-webhook", nil, []string{"127.0.0.1", "localhost"})
	if err != nil {
		return nil, err
	}
	for src, dst := range map[string]string{crt: "tls.crt", key: "tls.key"} {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			return nil, err
		}
	}
	ca, err := os.ReadFile(d.cp.pki.CAFile)
	if err != nil {
		return nil, err
	}
	objs, err := readObjects(manifests)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(d.cfg)
	if err != nil {
		return nil, err
	}
	for _, u := range objs {
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		for i, h := range hooks {
			m := h.(map[string]any)
			cc, _ := m["clientConfig"].(map[string]any)
			path := "/"
			if svc, ok := cc["service"].(map[string]any); ok {
				if p, ok := svc["path"].(string); ok {
					path = p
				}
			}
			m["clientConfig"] = map[string]any{"url": fmt.Sprintf("https://127.0.0.1:%d%s", port, path), "caBundle": encodeB64(ca)}
			hooks[i] = m
		}
		_ = unstructured.SetNestedSlice(u.Object, hooks, "webhooks")
		u.SetName("boxoffice-" + u.GetName())
		gvr := vwcGVR
		if u.GetKind() == "MutatingWebhookConfiguration" {
			gvr = mwcGVR
		}
		if err := applyObj(ctx, dc, gvr, u); err != nil {
			return nil, fmt.Errorf("webhook configuration %s: %w", u.GetName(), err)
		}
	}
	d.webhooks = true
	args := []string{"--enable-webhooks=true"}
	for _, f := range []string{"-webhook-cert-dir", "-webhook-cert-path"} {
		if hasFlag(help, f) {
			args = append(args, "-"+f+"="+dir)
		}
	}
	// The certificate and the CA bundle are made here.
	if hasFlag(help, "-cert-rotation") {
		args = append(args, "--cert-rotation=false")
	}
	if hasFlag(help, "-break-glass-groups") {
		args = append(args, "--break-glass-groups="+BreakGlassGroup)
	}
	if hasFlag(help, "-webhook-port") {
		args = append(args, fmt.Sprintf("--webhook-port=%d", port))
	} else if hasFlag(help, "-webhook-bind-address") {
		args = append(args, fmt.Sprintf("--webhook-bind-address=127.0.0.1:%d", port))
	}
	d.logf("admission webhooks: served by the manager at https://127.0.0.1:%d", port)
	return args, nil
}

// hasFlag reports whether a Go flag usage text lists -name.
func hasFlag(help, name string) bool {
	for _, line := range strings.Split(help, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == name || f[0] == "-"+name) {
			return true
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// applySample applies the sample Showtime opening now with demo payments,
// waits until it is Ready, and prints where to book.
func (d *devSession) applySample(ctx context.Context, pn *podNetwork) error {
	objs, err := readObjects(d.o.sample)
	if err != nil || len(objs) != 1 {
		return fmt.Errorf("sample %s: want one Showtime (%v)", d.o.sample, err)
	}
	u := objs[0]
	if u.GetNamespace() == "" {
		u.SetNamespace("default")
	}
	opens := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	_ = unstructured.SetNestedField(u.Object, opens, "spec", "sales", "opensAt")
	closes, _, _ := unstructured.NestedString(u.Object, "spec", "sales", "closesAt")
	if t, err := time.Parse(time.RFC3339, closes); err != nil || t.Before(time.Now().Add(24*time.Hour)) {
		_ = unstructured.SetNestedField(u.Object, time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339), "spec", "sales", "closesAt")
		_ = unstructured.SetNestedField(u.Object, time.Now().Add(30*24*time.Hour+time.Hour).UTC().Format(time.RFC3339), "spec", "startsAt")
	}
	_ = unstructured.SetNestedField(u.Object, true, "spec", "frontend", "payments", "demo")
	// The page is served over plain HTTP here: a Secure cookie would be
	// refused by browsers on any host but localhost.
	_ = unstructured.SetNestedField(u.Object, true, "spec", "frontend", "plainHTTP")
	dc, err := dynamic.NewForConfig(d.cfg)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := applyObj(ctx, dc, showtimeGV, u); err != nil {
		return fmt.Errorf("applying the sample: %w", err)
	}
	d.logf("applied Showtime %s/%s (on sale from %s, demo payments); waiting until it is Ready", u.GetNamespace(), u.GetName(), opens)
	var phase string
	err = wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := dc.Resource(showtimeGV).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase, _, _ = unstructured.NestedString(got.Object, "status", "phase")
		return phase == "Ready" || phase == "OnSale", nil
	})
	if err != nil {
		return fmt.Errorf("the sample Showtime is not Ready after 5 minutes (phase %q): see kubectl describe showtime and %s/logs", phase, d.o.stateDir)
	}
	readyIn := time.Since(began).Round(100 * time.Millisecond)
	sample := boxv1.NamedShowtime(u.GetNamespace(), u.GetName())
	name := sample.FrontendName()
	ips := d.readyAddresses(ctx, u.GetNamespace(), name)
	var fwd string
	if d.o.exposePort > 0 {
		addr := fmt.Sprintf("127.0.0.1:%d", d.o.exposePort)
		if err := forward(ctx, addr, func() []string { return d.readyAddresses(ctx, u.GetNamespace(), name) }, 8080); err != nil {
			d.logf("no forward on %s: %v", addr, err)
		} else {
			fwd = "http://" + addr + "/"
		}
	}
	fmt.Printf("\nBox office is running on the local cluster (Showtime %s %s after apply).\n\n", phase, readyIn)
	fmt.Printf("  Booking page:   ")
	if len(ips) > 0 {
		fmt.Printf("http://%s:8080/", ips[0])
	}
	if fwd != "" {
		fmt.Printf("   (forwarded: %s)", fwd)
	}
	fmt.Printf("\n  kubectl:        export KUBECONFIG=%s PATH=%s:$PATH\n", d.cp.Kubeconfig, d.cp.bins)
	fmt.Printf(`
  Try next:
    kubectl get showtimes                      # phase, seats available / held / sold
    kubectl get pods,svc,pvc -o wide           # shard and front-end pods with their IPs
    kubectl describe showtime %[1]s
    kubectl delete pod %[4]s     # the member comes back on its volume; the others sell on
    kubectl get showtime %[1]s -o jsonpath='{.status.shard.members[?(@.role=="leader")].node}'
                                               # the leader's node: kill or cut it (Faults below);
                                               # writes pause a few seconds, MEMBERS shows 2/3
    kubectl label showtime %[1]s tier=headline   # refused: the sale freeze (webhook)
    book seats in the page, then kubectl get showtimes again
  Logs: manager %[2]s/logs/manager.log, pods %[2]s/pods/*/<container>.log
%[3]s
  Ctrl-C stops everything and removes what it made.

`, u.GetName(), d.o.stateDir, d.faults, sample.ShardPodName(0))
	_ = pn
	return nil
}

// readyAddresses are a Service's ready endpoint IPs.
func (d *devSession) readyAddresses(ctx context.Context, ns, svc string) []string {
	l, err := d.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil
	}
	var ips []string
	for _, es := range l.Items {
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ips = append(ips, ep.Addresses...)
			}
		}
	}
	sort.Strings(ips)
	return ips
}

// forward is a small stand-in for a Service's load balancing: each
// connection to addr goes to one of the ready pod addresses, round robin.
func forward(ctx context.Context, addr string, targets func() []string, port int) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); l.Close() }()
	var mu sync.Mutex
	n := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ts := targets()
				if len(ts) == 0 {
					return
				}
				mu.Lock()
				t := ts[n%len(ts)]
				n++
				mu.Unlock()
				up, err := net.DialTimeout("tcp", net.JoinHostPort(t, fmt.Sprint(port)), 5*time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return nil
}

var _ = apierrors.IsNotFound
var _ = corev1.PodRunning
