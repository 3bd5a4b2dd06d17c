package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/state"
	"boxoffice.dev/boxoffice/internal/testproc"
)

// ControlPlane is etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler.
type ControlPlane struct {
	// Bins holds the binaries, Dir the certificates and etcd data, LogDir
	// the processes' logs.
	Bins, Dir, LogDir string
	Record            *state.Record
	Logf              func(string, ...any)
	// NodeGrace is how long a node may miss heartbeats before it is NotReady.
	NodeGrace time.Duration
	PKI       *PKI
	// Host and Port are where the API server listens (the host's address
	// on the pod bridge); Server is its URL.
	Host       string
	Port       int
	adminCert  string
	adminKey   string
	Server     string
	Kubeconfig string
	// ManagerKubeconfig is the operator's own identity, so that freezes
	// (which exempt the operator) apply to the admin user.
	ManagerKubeconfig string
	// BreakGlassKubeconfig is a user in the break-glass group.
	BreakGlassKubeconfig string
	comps                []*Component
}

func (cp *ControlPlane) start(name string, args ...string) (*Component, error) {
	bin := filepath.Join(cp.Bins, name)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s not found in %s (build it with hack/envtest-bins.sh %s): %w", name, cp.Bins, name, err)
	}
	c, err := StartComponent(cp.Record, name, filepath.Join(cp.LogDir, name+".log"), nil, bin, args...)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cp.comps = append(cp.comps, c)
	return c, nil
}

// Exited reports a control-plane process that stopped on its own.
func (cp *ControlPlane) Exited() <-chan string {
	ch := make(chan string, len(cp.comps))
	for _, c := range cp.comps {
		go func() {
			<-c.done
			ch <- fmt.Sprintf("%s exited (%v); see %s", c.name, c.Err(), filepath.Join(cp.LogDir, c.name+".log"))
		}()
	}
	return ch
}

// Stop ends the processes in reverse start order: SIGTERM, then SIGKILL.
func (cp *ControlPlane) Stop() {
	for i := len(cp.comps) - 1; i >= 0; i-- {
		cp.comps[i].Stop(10 * time.Second)
	}
}

// WaitHTTP polls url every 500ms with client until it answers 200, for at
// most timeout; it gives up when died closes (the process exited).
func WaitHTTP(ctx context.Context, client *http.Client, url string, timeout time.Duration, died <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return testproc.Poll{Interval: 500 * time.Millisecond, Exited: died, Client: client}.WaitHTTP(ctx, url, http.StatusOK)
}

// BreakGlassGroup is the group the manager lets break a freeze on this cluster.
const BreakGlassGroup = "boxoffice:break-glass"

// controllers run by kube-controller-manager: what Deployments, StatefulSets,
// Services, garbage collection, autoscaling, volumes and service accounts need.
var kcmControllers = []string{
	"deployment-controller", "replicaset-controller", "statefulset-controller",
	"endpointslice-controller", "endpointslice-mirroring-controller", "endpoints-controller",
	"garbage-collector-controller", "horizontal-pod-autoscaler-controller",
	"serviceaccount-controller", "serviceaccount-token-controller", "root-ca-certificate-publisher-controller",
	"namespace-controller", "persistentvolume-binder-controller",
	"persistentvolumeclaim-protection-controller", "persistentvolume-protection-controller",
	"disruption-controller", "pod-garbage-collector-controller", "job-controller", "cronjob-controller",
	"ttl-after-finished-controller",
	// A node whose heartbeats stop turns NotReady (after NodeGrace), gets
	// the unreachable taints, and its pods are evicted once they stop
	// tolerating it.
	"node-lifecycle-controller", "taint-eviction-controller",
}

// files are the certificates and keys the control plane is started with.
type files struct {
	servCert, servKey string
	saKey, saPub      string
}

// Up starts etcd, kube-apiserver on hostIP, kube-controller-manager and
// kube-scheduler, each once the one before is healthy, and writes the
// kubeconfigs.
func (cp *ControlPlane) Up(ctx context.Context, hostIP string) error {
	for _, d := range []string{cp.Dir, cp.LogDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	f, err := cp.certificates(hostIP)
	if err != nil {
		return err
	}
	ports := map[string]int{}
	for _, n := range []string{"etcd", "etcd-peer", "apiserver", "kcm", "scheduler"} {
		if ports[n], err = testproc.FreePort(); err != nil {
			return err
		}
	}
	etcdURL, err := cp.startEtcd(ctx, ports["etcd"], ports["etcd-peer"])
	if err != nil {
		return err
	}
	if err := cp.startAPIServer(ctx, hostIP, ports["apiserver"], etcdURL, f); err != nil {
		return err
	}
	if err := cp.writeKubeconfigs(); err != nil {
		return err
	}
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if err := cp.startControllerManager(ctx, ports["kcm"], f, insecure); err != nil {
		return err
	}
	return cp.startScheduler(ctx, ports["scheduler"], insecure)
}

// certificates makes the CA, the API server's serving certificate, the
// admin's client certificate and the service-account key pair.
func (cp *ControlPlane) certificates(hostIP string) (files, error) {
	var f files
	p, err := NewPKI(filepath.Join(cp.Dir, "pki"))
	if err != nil {
		return f, fmt.Errorf("certificates: %w", err)
	}
	cp.PKI = p
	f.servCert, f.servKey, err = p.Issue("apiserver", "kube-apiserver", nil,
		[]string{"127.0.0.1", "localhost", "10.96.0.1", hostIP, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + network.ClusterDomain})
	if err != nil {
		return f, err
	}
	if cp.adminCert, cp.adminKey, err = p.Issue("admin", "boxoffice-admin", []string{"system:masters"}, nil); err != nil {
		return f, err
	}
	f.saKey, f.saPub, err = p.ServiceAccountKeys()
	return f, err
}

// startEtcd runs etcd on loopback and returns its client URL once healthy.
func (cp *ControlPlane) startEtcd(ctx context.Context, port, peerPort int) (string, error) {
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	cp.Logf("starting etcd on %s", etcdURL)
	etcd, err := cp.start("etcd",
		"--name=localcluster", "--data-dir="+filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=localcluster="+peerURL,
		// A throwaway development cluster: fsync would only slow it down.
		"--unsafe-no-fsync=true", "--log-level=warn")
	if err != nil {
		return "", err
	}
	if err := WaitHTTP(ctx, http.DefaultClient, etcdURL+"/health", 2*time.Minute, etcd.done); err != nil {
		return "", fmt.Errorf("etcd: %w", err)
	}
	return etcdURL, nil
}

// startAPIServer runs kube-apiserver on the host's address on the pod
// bridge: the host reaches it there, and so does every pod (its default
// route is that address), as KUBERNETES_SERVICE_HOST/PORT tell in-cluster
// clients.
func (cp *ControlPlane) startAPIServer(ctx context.Context, hostIP string, port int, etcdURL string, f files) error {
	cp.Host, cp.Port = hostIP, port
	cp.Server = fmt.Sprintf("https://%s", net.JoinHostPort(hostIP, strconv.Itoa(cp.Port)))
	cp.Logf("starting kube-apiserver on %s", cp.Server)
	api, err := cp.start("kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address="+hostIP, "--advertise-address="+hostIP,
		fmt.Sprintf("--secure-port=%d", port),
		// No kube-proxy, so cluster IPs do not route: the API server sends
		// admission webhook calls for a Service straight to one of its ready
		// endpoints (EndpointSlices) instead.
		"--enable-aggregator-routing=true",
		"--cert-dir="+filepath.Join(cp.Dir, "apiserver"),
		"--tls-cert-file="+f.servCert, "--tls-private-key-file="+f.servKey,
		"--client-ca-file="+cp.PKI.CAFile,
		"--service-account-issuer=https://kubernetes.default.svc."+network.ClusterDomain,
		"--service-account-key-file="+f.saPub, "--service-account-signing-key-file="+f.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC", "--allow-privileged=true",
		"--enable-priority-and-fairness=false", "--profiling=false",
		"--endpoint-reconciler-type=none", "--v=1")
	if err != nil {
		return err
	}
	tlsClient, err := cp.httpClient()
	if err != nil {
		return err
	}
	if err := WaitHTTP(ctx, tlsClient, cp.Server+"/readyz", 4*time.Minute, api.done); err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	return nil
}

// writeKubeconfigs writes the admin's kubeconfig and those of the operator
// and the break-glass user.
func (cp *ControlPlane) writeKubeconfigs() error {
	kc, err := Kubeconfig(cp.Server, cp.PKI.CAFile, cp.adminCert, cp.adminKey)
	if err != nil {
		return err
	}
	cp.Kubeconfig = filepath.Join(cp.Dir, "kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kc, 0o600); err != nil {
		return err
	}
	for _, u := range []struct {
		name, cn string
		orgs     []string
		path     *string
	}{
		{"manager", "boxoffice-manager", []string{"system:masters"}, &cp.ManagerKubeconfig},
		{"breakglass", "boxoffice-breakglass", []string{"system:masters", BreakGlassGroup}, &cp.BreakGlassKubeconfig},
	} {
		crt, key, err := cp.PKI.Issue(u.name, u.cn, u.orgs, nil)
		if err != nil {
			return err
		}
		b, err := Kubeconfig(cp.Server, cp.PKI.CAFile, crt, key)
		if err != nil {
			return err
		}
		*u.path = filepath.Join(cp.Dir, u.name+".kubeconfig")
		if err := os.WriteFile(*u.path, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// startControllerManager runs kube-controller-manager with the controllers
// the cluster needs and the node grace period of its agents.
func (cp *ControlPlane) startControllerManager(ctx context.Context, port int, f files, insecure *http.Client) error {
	cp.Logf("starting kube-controller-manager")
	kcm, err := cp.start("kube-controller-manager",
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig, "--authorization-kubeconfig="+cp.Kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir="+filepath.Join(cp.Dir, "kcm"),
		"--leader-elect=false",
		"--controllers="+strings.Join(kcmControllers, ","),
		"--service-account-private-key-file="+f.saKey, "--root-ca-file="+cp.PKI.CAFile,
		"--use-service-account-credentials=false",
		"--node-monitor-grace-period="+cp.NodeGrace.String(), "--node-monitor-period=2s",
		"--v=1")
	if err != nil {
		return err
	}
	if err := WaitHTTP(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), 3*time.Minute, kcm.done); err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	return nil
}

// startScheduler runs kube-scheduler: pods are placed by Kubernetes' own
// scheduler, so affinity, anti-affinity and topology spreading behave as on
// a real cluster.
func (cp *ControlPlane) startScheduler(ctx context.Context, port int, insecure *http.Client) error {
	cp.Logf("starting kube-scheduler")
	s, err := cp.start("kube-scheduler",
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig, "--authorization-kubeconfig="+cp.Kubeconfig,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir="+filepath.Join(cp.Dir, "scheduler"),
		"--leader-elect=false", "--v=1")
	if err != nil {
		return err
	}
	if err := WaitHTTP(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), 2*time.Minute, s.done); err != nil {
		return fmt.Errorf("kube-scheduler: %w", err)
	}
	return nil
}

// httpClient talks to the API server as the cluster admin.
func (cp *ControlPlane) httpClient() (*http.Client, error) {
	ca, err := os.ReadFile(cp.PKI.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(cp.adminCert, cp.adminKey)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}, nil
}
