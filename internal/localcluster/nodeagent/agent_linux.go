package nodeagent

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/podruntime"
	"boxoffice.dev/boxoffice/internal/localcluster/state"
	"boxoffice.dev/boxoffice/internal/localcluster/volumes"
)

// agent is the in-process node agent of one node: it registers the node,
// keeps its heartbeats, provisions volumes on it for the local storage class,
// and runs the pods the scheduler binds to it. A killed node's agent is
// cancelled; healing the node starts a new one (a reboot).
type agent struct {
	ctx      context.Context
	node     string // node name
	zone     string
	cs       kubernetes.Interface
	stateDir string
	self     string
	images   map[string]string
	net      *network.PodNetwork
	rec      *state.Record
	logf     func(string, ...any)
	// apiHost and apiPort are the API server's address as pods reach it
	// (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT).
	apiHost string
	apiPort int

	factory informers.SharedInformerFactory
	podInf  cache.SharedIndexInformer

	// frozen: the node is paused; the agent neither acts nor reports.
	frozen atomic.Bool
	// mute: no heartbeats (the node is paused or cut off).
	mute atomic.Bool
	// repost: post the node's conditions on the next beat (after a resume).
	repost atomic.Bool

	// pod is what this agent's pod runners are given.
	pod *podruntime.Node

	mu      sync.Mutex
	runners map[types.UID]*podruntime.Runner
}

// Config is what every node agent of a cluster shares.
type Config struct {
	Client   kubernetes.Interface
	StateDir string
	// Self is the localcluster binary (containers start through it).
	Self string
	// Images maps each image a container may name to the host binary it runs.
	Images map[string]string
	Record *state.Record
	Logf   func(string, ...any)
	// APIHost and APIPort are the API server's address as pods reach it.
	APIHost string
	APIPort int
}

// newAgent is the agent (not started) of one boot of the node spec.
func newAgent(ctx context.Context, spec network.NodeSpec, net *network.PodNetwork, c Config) *agent {
	return &agent{ctx: ctx, node: spec.Name, zone: spec.Zone, cs: c.Client, stateDir: c.StateDir, self: c.Self,
		images: c.Images, net: net, rec: c.Record, logf: c.Logf, apiHost: c.APIHost, apiPort: c.APIPort}
}

func (a *agent) cachedPod(ns, name string) *corev1.Pod {
	obj, ok, err := a.podInf.GetStore().GetByKey(ns + "/" + name)
	if err != nil || !ok {
		return nil
	}
	return obj.(*corev1.Pod)
}

func (a *agent) start() error {
	a.runners = map[types.UID]*podruntime.Runner{}
	a.pod = &podruntime.Node{
		Ctx: a.ctx, Client: a.cs, Net: a.net, Images: a.images, Self: a.self, Record: a.rec,
		StateDir: a.stateDir, Logf: a.logf, APIHost: a.apiHost, APIPort: a.apiPort,
		Frozen: a.frozen.Load, CachedPod: a.cachedPod,
	}
	if err := a.registerNode(); err != nil {
		return fmt.Errorf("registering node: %w", err)
	}
	if err := volumes.EnsureStorageClass(a.ctx, a.cs); err != nil {
		return fmt.Errorf("storage class: %w", err)
	}
	a.factory = informers.NewSharedInformerFactory(a.cs, 10*time.Minute)
	a.podInf = a.factory.Core().V1().Pods().Informer()
	pvcInf := a.factory.Core().V1().PersistentVolumeClaims().Informer()

	podHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.onPod(o.(*corev1.Pod)) },
		UpdateFunc: func(_, o any) { a.onPod(o.(*corev1.Pod)) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*corev1.Pod); ok && !a.frozen.Load() {
				a.mu.Lock()
				r := a.runners[p.UID]
				a.mu.Unlock()
				if r != nil {
					r.Update(nil)
				}
			}
		},
	}
	pvcHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.onClaim(o.(*corev1.PersistentVolumeClaim)) },
		UpdateFunc: func(_, o any) { a.onClaim(o.(*corev1.PersistentVolumeClaim)) },
	}
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{{a.podInf, podHandler}, {pvcInf, pvcHandler}} {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return err
		}
	}
	a.factory.Start(a.ctx.Done())
	for typ, ok := range a.factory.WaitForCacheSync(a.ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer for %v did not sync", typ)
		}
	}
	go a.heartbeat()
	return nil
}

// stop waits (bounded) for every pod's containers to stop and its network to go.
func (a *agent) wait(timeout time.Duration) {
	a.mu.Lock()
	var rs []*podruntime.Runner
	for _, r := range a.runners {
		rs = append(rs, r)
	}
	a.mu.Unlock()
	deadline := time.After(timeout)
	for _, r := range rs {
		select {
		case <-r.Done():
		case <-deadline:
			a.logf("pods still stopping after %s; the state cleanup removes the rest", timeout)
			return
		}
	}
}

func (a *agent) onPod(p *corev1.Pod) {
	if p.Spec.NodeName != a.node || a.frozen.Load() {
		return
	}
	a.mu.Lock()
	r := a.runners[p.UID]
	if r == nil {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || a.ctx.Err() != nil {
			a.mu.Unlock()
			if p.DeletionTimestamp != nil {
				// Never started here (or left by an earlier run): finish the delete.
				uid := p.UID
				go func() {
					_ = a.cs.CoreV1().Pods(p.Namespace).Delete(a.ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid}})
				}()
			}
			return
		}
		r = podruntime.New(a.pod, p)
		a.runners[p.UID] = r
		a.mu.Unlock()
		go func() {
			r.Run()
			a.mu.Lock()
			delete(a.runners, p.UID)
			a.mu.Unlock()
		}()
		return
	}
	a.mu.Unlock()
	r.Update(p)
}

// registerNode creates the Node, or on a reboot (a healed kill) takes over
// the one there and reports it Ready again.
func (a *agent) registerNode() error {
	ctx := a.ctx
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.node, Labels: map[string]string{
			corev1.LabelHostname: a.node, corev1.LabelTopologyZone: a.zone,
			corev1.LabelOSStable: "linux", corev1.LabelArchStable: runtime.GOARCH,
			corev1.LabelInstanceTypeStable: "localcluster",
		}},
		Spec: corev1.NodeSpec{PodCIDR: a.net.Pool().String(), PodCIDRs: []string{a.net.Pool().String()}},
	}
	created, err := a.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = a.cs.CoreV1().Nodes().Get(ctx, a.node, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	// Generous capacity: requests are for real clusters; here they only need to fit.
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("32"),
		corev1.ResourceMemory:           resource.MustParse("64Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	status := corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity,
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.net.HostIP().String()}, {Type: corev1.NodeHostName, Address: a.node}},
		NodeInfo: corev1.NodeSystemInfo{
			OperatingSystem: "linux", Architecture: runtime.GOARCH,
			KubeletVersion: "v0.0.0-localcluster", ContainerRuntimeVersion: "localcluster://processes",
		},
	}
	// The node lifecycle controller writes the new Node too (taints): retry
	// on its newer version.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		status.Conditions = a.nodeConditions()
		created.Status = status
		_, err := a.cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if n, gerr := a.cs.CoreV1().Nodes().Get(ctx, a.node, metav1.GetOptions{}); gerr == nil {
				created = n
			}
		}
		return err
	})
}

func (a *agent) nodeConditions() []corev1.NodeCondition {
	t := metav1.Now()
	c := func(typ corev1.NodeConditionType, s corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s, Reason: reason, LastHeartbeatTime: t, LastTransitionTime: t}
	}
	return []corev1.NodeCondition{
		c(corev1.NodeReady, corev1.ConditionTrue, "LocalClusterReady"),
		c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "Fine"),
		c(corev1.NodeDiskPressure, corev1.ConditionFalse, "Fine"),
		c(corev1.NodePIDPressure, corev1.ConditionFalse, "Fine"),
	}
}

// Heartbeats: the lease is renewed every leaseRenew and the Ready condition
// posted every statusEvery renewals. kube-controller-manager runs with
// --node-monitor-grace-period=NodeGrace, so a node whose heartbeats stop
// (killed, paused or cut) turns NotReady within NodeGrace plus a renewal.
const (
	leaseRenew  = 3 * time.Second
	statusEvery = 5
	// NodeGrace is how long a node may miss heartbeats before it is
	// NotReady: the control plane's node monitor grace period.
	NodeGrace = 12 * time.Second
)

// heartbeat renews the node's lease and Ready condition while the node is not
// muted (paused or cut).
func (a *agent) heartbeat() {
	leases := a.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	dur := int32(NodeGrace / time.Second)
	for tick := 0; ; tick++ {
		if !a.mute.Load() {
			a.beat(leases, dur, tick%statusEvery == 0)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(leaseRenew):
		}
	}
}

// beat renews the lease and, when status is set or a resume asked for it,
// posts the node's conditions.
func (a *agent) beat(leases coordinationv1client.LeaseInterface, dur int32, status bool) {
	nowM := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(a.ctx, a.node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		holder := a.node
		_, _ = leases.Create(a.ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.node, Namespace: corev1.NamespaceNodeLease},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &nowM},
		}, metav1.CreateOptions{})
	} else if err == nil {
		l.Spec.RenewTime = &nowM
		_, _ = leases.Update(a.ctx, l, metav1.UpdateOptions{})
	}
	if !a.repost.Swap(false) && !status {
		return
	}
	if n, err := a.cs.CoreV1().Nodes().Get(a.ctx, a.node, metav1.GetOptions{}); err == nil {
		n.Status.Conditions = a.nodeConditions()
		_, _ = a.cs.CoreV1().Nodes().UpdateStatus(a.ctx, n, metav1.UpdateOptions{})
	}
}

// onClaim provisions a volume on this node for a claim the scheduler
// placed here (see volumes.Provision).
func (a *agent) onClaim(pvc *corev1.PersistentVolumeClaim) {
	if a.frozen.Load() {
		return
	}
	if err := volumes.Provision(a.ctx, a.cs, pvc, a.node, a.stateDir); err != nil && a.ctx.Err() == nil {
		a.logf("provisioning a volume for %s/%s: %v", pvc.Namespace, pvc.Name, err)
	}
}
