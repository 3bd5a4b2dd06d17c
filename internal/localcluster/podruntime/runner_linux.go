package podruntime

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/volumes"
)

// Runner runs one pod: its network namespace, volumes, container
// processes, probes and status.
type Runner struct {
	node     *Node
	vols     *volumes.Pod
	uid      types.UID
	ns, name string
	dir      string
	ip       netip.Addr
	netns    string
	veth     string
	netUp    bool

	mu        sync.Mutex
	pod       *corev1.Pod
	ctrs      []*ctr
	waitWhy   string // reason every container waits (pod-level setup failure)
	waitMsg   string
	startTime metav1.Time
	stopping  bool

	nudge    chan struct{}
	statusCh chan struct{}
	stopCh   chan struct{}
	done     chan struct{}
}

// New makes the runner of pod on node; Run runs it.
func New(node *Node, pod *corev1.Pod) *Runner {
	netns, veth := network.PodLinkNames(node.Net.Bridge(), string(pod.UID))
	r := &Runner{
		node: node, uid: pod.UID, ns: pod.Namespace, name: pod.Name,
		dir:      filepath.Join(node.StateDir, "pods", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID)),
		netns:    netns,
		veth:     veth,
		pod:      pod.DeepCopy(),
		nudge:    make(chan struct{}, 1),
		statusCh: make(chan struct{}, 1),
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, c := range pod.Spec.Containers {
		r.ctrs = append(r.ctrs, &ctr{spec: c, state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	}
	return r
}

// Kick wakes whoever waits on ch, without blocking when a wake-up is already pending.
func Kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Update hands the runner the latest pod (nil: the pod is gone).
func (r *Runner) Update(pod *corev1.Pod) {
	r.mu.Lock()
	if pod == nil {
		r.pod = nil
	} else {
		r.pod = pod.DeepCopy()
	}
	r.mu.Unlock()
	Kick(r.nudge)
}

func (r *Runner) latest() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pod
}

func (r *Runner) logf(format string, args ...any) {
	r.node.Logf("pod %s/%s: %s", r.ns, r.name, fmt.Sprintf(format, args...))
}

func (r *Runner) Changed() { Kick(r.statusCh) }

// Run is the pod's life: set up, run containers until deleted, tear down.
func (r *Runner) Run() {
	defer close(r.done)
	ctx := r.node.Ctx
	go r.statusLoop()
	var wg sync.WaitGroup
	if err := r.setup(ctx); err != nil {
		r.logf("not started: %s", r.waitMsg)
	} else {
		for _, c := range r.ctrs {
			wg.Add(1)
			go func() { defer wg.Done(); r.containerLoop(c) }()
		}
	}
	grace := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			grace = r.graceFor(r.latest())
			if grace > 10*time.Second {
				grace = 10 * time.Second
			}
		case <-r.nudge:
			pod := r.latest()
			if pod != nil && pod.DeletionTimestamp == nil {
				continue
			}
			grace = r.graceFor(pod)
		}
		break
	}
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	close(r.stopCh)
	r.killAll(grace)
	wg.Wait()
	r.teardown()
	if ctx.Err() != nil {
		return
	}
	r.syncStatus()
	if pod := r.latest(); pod != nil {
		uid := r.uid
		err := r.node.Client.CoreV1().Pods(r.ns).Delete(ctx, r.name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			r.logf("final delete: %v", err)
		}
	}
}

func (r *Runner) graceFor(pod *corev1.Pod) time.Duration {
	if pod == nil {
		return 2 * time.Second
	}
	if pod.DeletionGracePeriodSeconds != nil {
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

func (r *Runner) failSetup(reason, msg string) error {
	r.mu.Lock()
	r.waitWhy, r.waitMsg = reason, msg
	for _, c := range r.ctrs {
		c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	r.mu.Unlock()
	r.Changed()
	return errors.New(msg)
}

// setup checks images, gives the pod its network and writes its /etc and volumes.
func (r *Runner) setup(ctx context.Context) error {
	pod := r.latest()
	if pod == nil {
		return errors.New("gone")
	}
	for _, c := range r.ctrs {
		bin, ok := r.node.Images[c.spec.Image]
		if !ok {
			msg := fmt.Sprintf("image %q is not in the local cluster's image map (--image %s); it runs only images mapped to local binaries", c.spec.Image, imageList(r.node.Images))
			r.mu.Lock()
			c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: msg}}
			r.waitMsg = msg
			r.mu.Unlock()
			r.Changed()
			return errors.New(msg)
		}
		c.binary = bin
	}
	if len(pod.Spec.InitContainers) > 0 {
		return r.failSetup("CreateContainerConfigError", "init containers are not supported by the local cluster")
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "rootfs", "etc"), 0o755); err != nil {
		return r.failSetup("CreateContainerConfigError", err.Error())
	}
	ip, err := r.node.Net.Allocate(string(r.uid))
	if err != nil {
		return r.failSetup("NetworkNotReady", err.Error())
	}
	r.ip = ip
	if err := r.node.Net.SetupPod(r.netns, r.veth, ip); err != nil {
		r.node.Net.Release(ip)
		r.ip = netip.Addr{}
		return r.failSetup("NetworkNotReady", err.Error())
	}
	r.netUp = true
	r.vols = &volumes.Pod{
		Client: r.node.Client, Namespace: r.ns, Dir: filepath.Join(r.dir, "volumes"),
		PodIP: ip.String(), HostIP: r.node.Net.HostIP().String(), Logf: r.logf,
	}
	r.mu.Lock()
	r.startTime = now()
	r.mu.Unlock()
	if err := r.writeEtc(pod); err != nil {
		return r.failSetup("CreateContainerConfigError", err.Error())
	}
	vols, err := r.vols.Prepare(ctx, pod)
	if err != nil {
		return r.failSetup("CreateContainerConfigError", err.Error())
	}
	for _, c := range r.ctrs {
		if err := r.writeSpec(ctx, pod, c, vols); err != nil {
			return r.failSetup("CreateContainerConfigError", err.Error())
		}
	}
	go r.vols.RefreshLoop(ctx, r.stopCh, pod, vols)
	r.Changed()
	return nil
}

func (r *Runner) teardown() {
	// Anything still running in the namespace (a container's children) goes too.
	if r.netUp {
		for _, pid := range network.NetnsPIDs(r.netns) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		r.node.Net.TeardownPod(r.netns, r.veth)
		r.netUp = false
	}
	if r.ip.IsValid() {
		r.node.Net.Release(r.ip)
	}
	_ = os.RemoveAll(r.dir)
}

// Done is closed once the pod has stopped and its namespace is gone.
func (r *Runner) Done() <-chan struct{} { return r.done }

// UID is the pod's UID; Key its namespace/name; Netns its network namespace.
func (r *Runner) UID() types.UID { return r.uid }

func (r *Runner) Key() string { return r.ns + "/" + r.name }

func (r *Runner) Netns() string { return r.netns }

// Signal sends sig to every process of the pod: each container's process
// group and whatever else lives in the pod's network namespace.
func (r *Runner) Signal(sig syscall.Signal) {
	r.mu.Lock()
	var pids []int
	for _, c := range r.ctrs {
		if c.pid > 0 {
			pids = append(pids, -c.pid)
		}
	}
	r.mu.Unlock()
	pids = append(pids, network.NetnsPIDs(r.netns)...)
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}
