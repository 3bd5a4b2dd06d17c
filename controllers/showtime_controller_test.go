package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	"boxoffice.dev/boxoffice/internal/fakeshard"
	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/shard/shardapi"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

const testImage = "registry.example/boxoffice:v1.2.3"

// fakeShard stands in for a shard's GET /v1/status: it answers the report
// that set builds, to callers with the token of RequireToken.
type fakeShard struct {
	*fakeshard.Server
	mu     sync.Mutex
	report shardapi.Status
}

func newFakeShard() *fakeShard {
	srv, err := fakeshard.New()
	Expect(err).NotTo(HaveOccurred())
	srv.RequireToken("")
	f := &fakeShard{Server: srv}
	f.set(func(*shardapi.Status) {})
	return f
}

func (f *fakeShard) port() int { return f.Port() }

func (f *fakeShard) set(fn func(r *shardapi.Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.report)
	rep := f.report
	f.Update(fakeshard.Loopback, func(m *fakeshard.Member) { m.Status = &rep })
}

// failing makes the shard answer 503 not_ready (replaying), or not.
func (f *fakeShard) failing(on bool) {
	f.Update(fakeshard.Loopback, func(m *fakeshard.Member) {
		m.Err = nil
		if on {
			m.Err = fakeshard.NotReady
		}
	})
}

// writeCounter counts the API writes a reconciler makes.
type writeCounter struct{ n atomic.Int64 }

func (w *writeCounter) client(c client.Client) client.Client {
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	_ = c
	return interceptor.NewClient(wc, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			w.n.Add(1)
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			w.n.Add(1)
			return c.Update(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			w.n.Add(1)
			return c.Patch(ctx, o, p, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, o runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			w.n.Add(1)
			return c.Apply(ctx, o, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			w.n.Add(1)
			return c.Delete(ctx, o, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			w.n.Add(1)
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			w.n.Add(1)
			return c.SubResource(sub).Update(ctx, o, opts...)
		},
	})
}

// fixture is one Showtime in its own namespace with its reconciler.
type fixture struct {
	ns       string
	st       *boxv1.Showtime
	r        *ShowtimeReconciler
	clock    *clocktesting.FakePassiveClock
	recorder *events.FakeRecorder
	shard    *fakeShard
	writes   *writeCounter
	opens    time.Time
	closes   time.Time
}

var baseTime = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)

// sampleSeatMap is 2 sections: stalls 8x24 + 2x30 = 252, circle 5x20 = 100.
func sampleSeatMap() boxv1.SeatMap {
	return boxv1.SeatMap{Sections: []boxv1.SeatSection{
		{Name: "stalls", Rows: []boxv1.SeatRow{{Names: "A-H", Seats: "1-24"}, {Names: "J-K", Seats: "1-30"}}},
		{Name: "circle", Rows: []boxv1.SeatRow{{Names: "1-5", Seats: "1-20"}}},
	}}
}

const sampleTotal = 8*24 + 2*30 + 5*20

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "st-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func newShowtime(ns, name string, opens, closes time.Time) *boxv1.Showtime {
	return &boxv1.Showtime{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: boxv1.ShowtimeSpec{
			Title:    "Stand-up 10, night 1",
			StartsAt: metav1.NewTime(closes.Add(time.Hour)),
			SeatMap:  sampleSeatMap(),
			Sales: boxv1.Sales{
				OpensAt:  metav1.NewTime(opens),
				ClosesAt: metav1.NewTime(closes),
			},
			// The single shard unless a spec asks for members
			// (showtime_members_test.go).
			Shard: boxv1.ShardSpec{Replicas: 1},
		},
	}
}

func newFixture(mutate ...func(*boxv1.Showtime)) *fixture {
	f := &fixture{
		ns:       newNamespace(),
		clock:    clocktesting.NewFakePassiveClock(baseTime),
		recorder: events.NewFakeRecorder(100),
		shard:    newFakeShard(),
		writes:   &writeCounter{},
		opens:    baseTime.Add(2 * time.Hour),
		closes:   baseTime.Add(26 * time.Hour),
	}
	DeferCleanup(f.shard.Close)
	f.st = newShowtime(f.ns, "standup", f.opens, f.closes)
	for _, m := range mutate {
		m(f.st)
	}
	Expect(k8sClient.Create(ctx, f.st)).To(Succeed())
	f.r = &ShowtimeReconciler{
		Client:   f.writes.client(k8sClient),
		Scheme:   scheme,
		Recorder: f.recorder,
		Clock:    f.clock,
		Options: specs.Options{
			DefaultImage:      testImage,
			OperatorNamespace: "boxoffice-system",
			OperatorPodLabels: map[string]string{"control-plane": "boxoffice-operator"},
			MaxHoldTTL:        2 * time.Hour,
		},
		Shards:         NewHTTPShardClient(f.shard.port()),
		ScrapeInterval: 5 * time.Second,
	}
	return f
}

func (f *fixture) key() types.NamespacedName {
	return types.NamespacedName{Namespace: f.ns, Name: "standup"}
}

func (f *fixture) reconcile() ctrl.Result {
	res, err := f.r.Reconcile(ctx, ctrl.Request{NamespacedName: f.key()})
	Expect(err).NotTo(HaveOccurred())
	return res
}

func (f *fixture) showtime() *boxv1.Showtime {
	st := &boxv1.Showtime{}
	Expect(k8sClient.Get(ctx, f.key(), st)).To(Succeed())
	return st
}

func (f *fixture) get(name string, obj client.Object) {
	Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: name}, obj)).To(Succeed())
}

func (f *fixture) token() string {
	sec := &corev1.Secret{}
	f.get(f.st.TokenSecretName(), sec)
	return string(sec.Data[boxv1.TokenSecretKey])
}

// makeShardPod does what the StatefulSet controller and kubelet would: a pod
// named <sts>-0, ready at 127.0.0.1 (envtest has no kubelet).
func (f *fixture) makeShardPod(ready bool) *corev1.Pod {
	st := f.showtime()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: f.st.ShardPodName(0), Namespace: f.ns, Labels: st.OwnedLabels(boxv1.ComponentShard)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "shard", Image: testImage}}},
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	f.setPodReady(pod, ready)
	return pod
}

func (f *fixture) setPodReady(pod *corev1.Pod, ready bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = "127.0.0.1"
	pod.Status.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// setFrontendReady does what the Deployment controller would.
func (f *fixture) setFrontendReady(ready int32) {
	dep := &appsv1.Deployment{}
	f.get(f.st.FrontendName(), dep)
	dep.Spec.Replicas = ptr.To(int32(2)) // as the autoscaler sets it
	Expect(k8sClient.Update(ctx, dep)).To(Succeed())
	dep.Status.Replicas = 2
	dep.Status.ReadyReplicas = ready
	dep.Status.AvailableReplicas = ready
	dep.Status.ObservedGeneration = dep.Generation
	Expect(k8sClient.Status().Update(ctx, dep)).To(Succeed())
}

func (f *fixture) serveCounts(free, held, awaiting, sold int64) {
	f.shard.RequireToken(f.token())
	f.shard.set(func(r *shardapi.Status) {
		*r = shardapi.Status{Showtime: f.ns + "/standup", Version: 42, Epoch: 3,
			Counts: shardapi.Counts{Free: free, Held: held, AwaitingPayment: awaiting, Sold: sold}}
	})
}

func cond(st *boxv1.Showtime, typ string) *metav1.Condition {
	return meta.FindStatusCondition(st.Status.Conditions, typ)
}

func drainEvents(r *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

var _ = Describe("Showtime controller", func() {
	Context("owned objects", func() {
		It("builds the seat map, token, service, shard statefulset, PDB and network policy", func() {
			f := newFixture()
			f.reconcile()
			st := f.showtime()
			isOwned := func(o client.Object) {
				refs := o.GetOwnerReferences()
				Expect(refs).To(HaveLen(1), "owner references of %s", o.GetName())
				Expect(refs[0].UID).To(Equal(st.UID))
				Expect(refs[0].Kind).To(Equal("Showtime"))
				Expect(*refs[0].Controller).To(BeTrue())
				Expect(*refs[0].BlockOwnerDeletion).To(BeTrue())
				Expect(o.GetLabels()).To(HaveKeyWithValue("boxoffice.dev/showtime", "standup"))
				Expect(o.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "boxoffice-operator"))
				Expect(o.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/part-of", "boxoffice"))
				Expect(o.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", "standup"))
				Expect(o.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/component", "shard"))
				if _, isSecret := o.(*corev1.Secret); isSecret {
					Expect(o.GetLabels()).NotTo(HaveKey("app.kubernetes.io/version"), "a generated secret is never re-applied")
				} else {
					Expect(o.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/version", "v1.2.3"), "the tag of %s", testImage)
				}
			}

			cm := &corev1.ConfigMap{}
			f.get(f.st.SeatMapName(), cm)
			isOwned(cm)
			Expect(cm.Data[boxv1.ShowKey]).To(MatchJSON(`{"title":"Stand-up 10, night 1","startsAt":"` +
				st.Spec.StartsAt.UTC().Format(time.RFC3339) + `"}`))
			layout, err := seatmap.Parse([]byte(cm.Data[boxv1.SeatMapKey]))
			Expect(err).NotTo(HaveOccurred())
			Expect(layout.Total).To(Equal(sampleTotal))

			sec := &corev1.Secret{}
			f.get(f.st.TokenSecretName(), sec)
			isOwned(sec)
			Expect(sec.Data[boxv1.TokenSecretKey]).To(HaveLen(43), "32 random bytes, base64url")
			Expect(*sec.Immutable).To(BeTrue())

			svc := &corev1.Service{}
			f.get(f.st.ShardName(), svc)
			isOwned(svc)
			Expect(svc.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
			Expect(svc.Spec.Selector).To(Equal(st.SelectorLabels("shard")))
			Expect(svc.Spec.Ports).To(HaveLen(1))
			Expect(svc.Spec.Ports[0].Port).To(BeEquivalentTo(7070))

			sts := &appsv1.StatefulSet{}
			f.get(f.st.ShardName(), sts)
			isOwned(sts)
			Expect(*sts.Spec.Replicas).To(BeEquivalentTo(1))
			Expect(sts.Spec.Template.Labels).NotTo(HaveKey("app.kubernetes.io/version"), "a release must not restart the shard by label alone")
			Expect(sts.Spec.Selector.MatchLabels).NotTo(HaveKey("app.kubernetes.io/version"))
			Expect(sts.Spec.VolumeClaimTemplates[0].Labels).NotTo(HaveKey("app.kubernetes.io/version"), "claim templates are immutable")
			Expect(sts.Spec.ServiceName).To(Equal("standup-shard"))
			Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))
			Expect(sts.Spec.VolumeClaimTemplates).To(HaveLen(1))
			pvc := sts.Spec.VolumeClaimTemplates[0]
			Expect(pvc.Spec.AccessModes).To(Equal([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}))
			Expect(pvc.Spec.Resources.Requests[corev1.ResourceStorage]).To(Equal(resource.MustParse("1Gi")))
			Expect(pvc.Spec.StorageClassName).To(BeNil())
			pod := sts.Spec.Template.Spec
			Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
			Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
			Expect(*pod.AutomountServiceAccountToken).To(BeFalse())
			Expect(pod.Containers).To(HaveLen(1))
			c := pod.Containers[0]
			Expect(c.Image).To(Equal(testImage))
			Expect(c.Args).To(Equal([]string{
				"shard",
				"--showtime=" + f.ns + "/standup",
				"--seat-map=/etc/boxoffice/seatmap/seatmap.yaml",
				"--data-dir=/var/lib/boxoffice",
				"--listen=:7070",
				"--token-file=/etc/boxoffice/token/token",
				"--hold-ttl=10m0s",
				"--max-seats-per-holder=8",
				"--max-hold-ttl=2h0m0s",
			}))
			Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
			Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
			Expect(c.ReadinessProbe.HTTPGet.Port).To(Equal(intstr.FromString("http")))
			sc := c.SecurityContext
			Expect(*sc.RunAsNonRoot).To(BeTrue())
			Expect(*sc.ReadOnlyRootFilesystem).To(BeTrue())
			Expect(*sc.AllowPrivilegeEscalation).To(BeFalse())
			Expect(sc.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")))
			Expect(sc.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
			Expect(c.Resources.Requests).To(HaveKey(corev1.ResourceCPU))
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			Expect(mounts).To(Equal(map[string]string{"data": "/var/lib/boxoffice", "seatmap": "/etc/boxoffice/seatmap", "token": "/etc/boxoffice/token"}))

			pdb := &policyv1.PodDisruptionBudget{}
			f.get(f.st.ShardName(), pdb)
			isOwned(pdb)
			Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1), "before the sale a drain may move the shard")
			Expect(pdb.Spec.Selector.MatchLabels).To(Equal(st.SelectorLabels("shard")))

			np := &networkingv1.NetworkPolicy{}
			f.get(f.st.ShardName(), np)
			isOwned(np)
			Expect(np.Spec.PodSelector.MatchLabels).To(Equal(st.SelectorLabels("shard")))
			Expect(np.Spec.PolicyTypes).To(Equal([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}))
			Expect(np.Spec.Ingress).To(HaveLen(1))
			Expect(np.Spec.Ingress[0].Ports[0].Port.IntValue()).To(Equal(7070))
			from := np.Spec.Ingress[0].From
			Expect(from).To(HaveLen(3))
			Expect(from[0].PodSelector.MatchLabels).To(Equal(st.SelectorLabels("frontend")))
			Expect(from[0].NamespaceSelector).To(BeNil(), "front ends of this namespace only")
			Expect(from[1].NamespaceSelector.MatchLabels).To(Equal(map[string]string{"boxoffice.dev/metrics-scraper": "true"}))
			Expect(from[1].PodSelector).To(BeNil())
			Expect(from[2].NamespaceSelector.MatchLabels).To(Equal(map[string]string{"kubernetes.io/metadata.name": "boxoffice-system"}))
			Expect(from[2].PodSelector.MatchLabels).To(Equal(map[string]string{"control-plane": "boxoffice-operator"}))
		})

		It("honours the shard image, storage options and limits of the spec", func() {
			f := newFixture(func(st *boxv1.Showtime) {
				st.Spec.Shard.Image = "registry.example/boxoffice:canary"
				st.Spec.Shard.Storage = boxv1.ShardStorage{
					Size: resource.MustParse("5Gi"), StorageClassName: "fast",
					AccessMode: boxv1.AccessModeReadWriteOnce, WhenDeleted: boxv1.DeleteVolume,
				}
				st.Spec.Sales.HoldTTL = metav1.Duration{Duration: 15 * time.Minute}
				st.Spec.Sales.MaxSeatsPerHolder = 4
			})
			f.reconcile()
			sts := &appsv1.StatefulSet{}
			f.get(f.st.ShardName(), sts)
			c := sts.Spec.Template.Spec.Containers[0]
			Expect(c.Image).To(Equal("registry.example/boxoffice:canary"))
			Expect(sts.Labels).To(HaveKeyWithValue("app.kubernetes.io/version", "canary"))
			Expect(c.Args).To(ContainElements("--hold-ttl=15m0s", "--max-seats-per-holder=4"))
			pvc := sts.Spec.VolumeClaimTemplates[0]
			Expect(pvc.Spec.AccessModes).To(Equal([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}))
			Expect(*pvc.Spec.StorageClassName).To(Equal("fast"))
			Expect(pvc.Spec.Resources.Requests[corev1.ResourceStorage]).To(Equal(resource.MustParse("5Gi")))
			Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted).To(Equal(appsv1.DeletePersistentVolumeClaimRetentionPolicyType))
		})

		It("keeps the token once created and takes back fields someone edited", func() {
			f := newFixture()
			f.reconcile()
			tok := f.token()
			sts := &appsv1.StatefulSet{}
			f.get(f.st.ShardName(), sts)
			sts.Spec.Template.Spec.Containers[0].Image = "someone/else:latest"
			Expect(k8sClient.Update(ctx, sts)).To(Succeed())

			f.reconcile()
			Expect(f.token()).To(Equal(tok), "the token is never rotated under a running shard")
			f.get(f.st.ShardName(), sts)
			Expect(sts.Spec.Template.Spec.Containers[0].Image).To(Equal(testImage), "drift is reverted")
		})
	})

	Context("no-op reconcile", func() {
		It("makes no API write when nothing changed", func() {
			f := newFixture()
			f.makeShardPod(true)
			f.reconcile()
			f.setFrontendReady(2)
			f.serveCounts(sampleTotal, 0, 0, 0)
			f.reconcile()
			f.clock.SetTime(baseTime.Add(10 * time.Second)) // past the scrape interval
			f.reconcile()

			rv := map[string]string{}
			record := func() map[string]string {
				out := map[string]string{}
				for name, obj := range map[string]client.Object{
					"showtime": &boxv1.Showtime{}, "sts": &appsv1.StatefulSet{}, "svc": &corev1.Service{},
					"cm": &corev1.ConfigMap{}, "pdb": &policyv1.PodDisruptionBudget{}, "np": &networkingv1.NetworkPolicy{},
					"deploy": &appsv1.Deployment{}, "hpa": &autoscalingv2.HorizontalPodAutoscaler{},
					"fsvc": &corev1.Service{}, "fpdb": &policyv1.PodDisruptionBudget{},
				} {
					n := f.st.ShardName()
					switch name {
					case "showtime":
						n = f.st.Name
					case "cm":
						n = f.st.SeatMapName()
					case "deploy", "hpa", "fsvc", "fpdb":
						n = f.st.FrontendName()
					}
					f.get(n, obj)
					out[name] = obj.GetResourceVersion()
				}
				return out
			}
			rv = record()
			before := f.writes.n.Load()
			f.clock.SetTime(baseTime.Add(20 * time.Second)) // scrapes again, same counts
			f.reconcile()
			f.reconcile()
			Expect(f.writes.n.Load()).To(Equal(before), "no write calls on a no-op reconcile")
			Expect(record()).To(Equal(rv))
		})
	})

	Context("status", func() {
		It("moves through Provisioning, Ready, OnSale, SoldOut, Degraded and Closed at the right moments", func() {
			f := newFixture()
			res := f.reconcile()
			st := f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseProvisioning))
			Expect(cond(st, "ShardReady").Status).To(Equal(metav1.ConditionFalse))
			Expect(cond(st, "ShardReady").Reason).To(Equal("PodMissing"))
			Expect(cond(st, "SeatMapValid").Status).To(Equal(metav1.ConditionTrue))
			Expect(cond(st, "OnSale").Reason).To(Equal("NotYetOpen"))
			Expect(st.Status.Seats.Total).To(BeEquivalentTo(sampleTotal))
			Expect(st.Status.ObservedGeneration).To(Equal(st.Generation))
			Expect(res.RequeueAfter).To(Equal(90*time.Minute), "wakes exactly when the sale freeze starts, 30m before the sale opens")
			Expect(drainEvents(f.recorder)).To(ContainElement(ContainSubstring("PhaseProvisioning")))

			pod := f.makeShardPod(false)
			f.reconcile()
			Expect(cond(f.showtime(), "ShardReady").Reason).To(Equal("PodNotReady"))

			f.serveCounts(sampleTotal-5, 3, 1, 1)
			f.setPodReady(pod, true)
			f.reconcile()
			st = f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseProvisioning), "no front end yet")
			Expect(cond(st, "FrontendReady").Reason).To(Equal("NoReadyReplicas"))
			f.setFrontendReady(2)
			res = f.reconcile()
			st = f.showtime()
			Expect(cond(st, "FrontendReady").Status).To(Equal(metav1.ConditionTrue))
			Expect(st.Status.Frontend).To(Equal(boxv1.FrontendStatus{DesiredReplicas: 2, Replicas: 2, ReadyReplicas: 2, MinReplicas: 2, Image: testImage}))
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseReady))
			Expect(cond(st, "ShardReady").Status).To(Equal(metav1.ConditionTrue))
			Expect(st.Status.Seats).To(Equal(boxv1.SeatCounts{Total: sampleTotal, Available: sampleTotal - 5, Held: 3, AwaitingPayment: 1, Sold: 1}))
			Expect(st.Status.Shard).To(Equal(boxv1.ShardStatus{Pod: "standup-shard-0", Image: testImage, Ready: true, Epoch: 3, Version: 42,
				Replicas: 1, ReadyMembers: "1/1"}))
			Expect(res.RequeueAfter).To(Equal(5*time.Second), "the shard is read again after the scrape interval")

			// The sale opens: exactly at opensAt.
			f.clock.SetTime(f.opens.Add(-time.Nanosecond))
			f.reconcile()
			Expect(f.showtime().Status.Phase).To(Equal(boxv1.PhaseReady))
			f.clock.SetTime(f.opens)
			f.reconcile()
			st = f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseOnSale))
			Expect(cond(st, "OnSale").Status).To(Equal(metav1.ConditionTrue))
			pdb := &policyv1.PodDisruptionBudget{}
			f.get(f.st.ShardName(), pdb)
			Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(0), "no voluntary eviction while on sale")

			f.serveCounts(0, 0, 0, sampleTotal)
			f.clock.SetTime(f.opens.Add(10 * time.Second))
			f.reconcile()
			st = f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseSoldOut))
			Expect(cond(st, "OnSale").Reason).To(Equal("SoldOut"))
			Expect(st.Status.SoldOutAt).NotTo(BeNil())
			Expect(st.Status.SoldOutAt.Time).To(BeTemporally("==", f.opens.Add(10*time.Second).Truncate(time.Second)))
			soldOutAt := *st.Status.SoldOutAt

			f.setPodReady(pod, false)
			f.clock.SetTime(f.opens.Add(20 * time.Second))
			f.reconcile()
			Expect(f.showtime().Status.Phase).To(Equal(boxv1.PhaseDegraded))
			Expect(f.showtime().Status.SoldOutAt.Time).To(BeTemporally("==", soldOutAt.Time), "set once")
			Expect(drainEvents(f.recorder)).To(ContainElement(And(ContainSubstring("Warning"), ContainSubstring("PhaseDegraded"))))

			f.setPodReady(pod, true)
			f.clock.SetTime(f.closes)
			f.reconcile()
			Expect(f.showtime().Status.Phase).To(Equal(boxv1.PhaseClosed))
			f.get(f.st.ShardName(), pdb)
			Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1), "after the sale the shard may be moved")
		})

		It("keeps an on-sale showtime OnSale when a step fails, reports ReconcileFailed and retries", func() {
			f := newFixture()
			f.reconcile()
			f.makeShardPod(true)
			f.serveCounts(sampleTotal-1, 0, 0, 1)
			f.setFrontendReady(2)
			f.clock.SetTime(f.opens)
			f.reconcile()
			st := f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseOnSale))
			summary := func(st *boxv1.Showtime) []metav1.Condition {
				var out []metav1.Condition
				for _, typ := range []string{"ShardReady", "FrontendReady", "OnSale"} {
					c := cond(st, typ)
					Expect(c).NotTo(BeNil(), typ)
					out = append(out, *c)
				}
				return out
			}
			healthy := summary(st)
			Expect(healthy[0].Status).To(Equal(metav1.ConditionTrue))
			drainEvents(f.recorder)

			// A spec change lands, then the API server stumbles while the
			// reconcile reads the shard pod.
			st.Spec.Title = "Stand-up 10, night 1 (late show)"
			Expect(k8sClient.Update(ctx, st)).To(Succeed())
			acted := st.Status.ObservedGeneration
			Expect(st.Generation).To(BeNumerically(">", acted))
			healthyClient := f.r.Client
			wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
			Expect(err).NotTo(HaveOccurred())
			f.r.Client = interceptor.NewClient(wc, interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, o client.Object, opts ...client.GetOption) error {
					if _, ok := o.(*corev1.Pod); ok {
						return apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
					}
					return c.Get(ctx, key, o, opts...)
				},
			})
			_, err = f.r.Reconcile(ctx, ctrl.Request{NamespacedName: f.key()})
			Expect(err).To(MatchError(ContainSubstring("reading shard pod")), "returned so it is retried")
			st = f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseOnSale), "a transient API error is not an outage")
			Expect(summary(st)).To(Equal(healthy), "ShardReady, FrontendReady and OnSale are left as they were")
			Expect(st.Status.ObservedGeneration).To(Equal(acted), "the new generation was not fully acted on")
			evs := drainEvents(f.recorder)
			Expect(evs).To(ContainElement(And(ContainSubstring("Warning"), ContainSubstring("ReconcileFailed"),
				ContainSubstring("shard pod:"), ContainSubstring("request timed out"))))
			Expect(evs).NotTo(ContainElement(ContainSubstring("PhaseDegraded")))

			// Someone replaces the token Secret with one that lacks its key.
			f.r.Client = healthyClient
			tok := f.token()
			replaceToken := func(data map[string][]byte) {
				sec := &corev1.Secret{}
				f.get(f.st.TokenSecretName(), sec)
				Expect(k8sClient.Delete(ctx, sec)).To(Succeed())
				Eventually(func() bool {
					return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(sec), &corev1.Secret{}))
				}).Should(BeTrue())
				Expect(k8sClient.Create(ctx, &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: sec.Name, Namespace: sec.Namespace, Labels: sec.Labels, OwnerReferences: sec.OwnerReferences},
					Data:       data,
				})).To(Succeed())
			}
			replaceToken(map[string][]byte{"tokne": []byte(tok)})
			_, err = f.r.Reconcile(ctx, ctrl.Request{NamespacedName: f.key()})
			Expect(err).To(MatchError(ContainSubstring(`has no "token" key`)))
			st = f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseOnSale))
			Expect(summary(st)).To(Equal(healthy))
			Expect(st.Status.ObservedGeneration).To(Equal(acted))
			evs = drainEvents(f.recorder)
			Expect(evs).To(ContainElement(And(ContainSubstring("Warning"), ContainSubstring("ReconcileFailed"),
				ContainSubstring("shard token:"), ContainSubstring("standup-shard-token"))))
			Expect(strings.Join(evs, "\n")).NotTo(ContainSubstring(tok), "no secret data in events")
			Expect(evs).NotTo(ContainElement(ContainSubstring("PhaseDegraded")))

			// Once the token is back the retry succeeds and catches up.
			replaceToken(map[string][]byte{boxv1.TokenSecretKey: []byte(tok)})
			f.reconcile()
			st = f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseOnSale))
			Expect(st.Status.ObservedGeneration).To(Equal(st.Generation))
			Expect(cond(st, "ShardReady").Status).To(Equal(metav1.ConditionTrue))
		})

		It("reports a new showtime whose first reconcile fails as Pending", func() {
			f := newFixture()
			wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
			Expect(err).NotTo(HaveOccurred())
			f.r.Client = interceptor.NewClient(wc, interceptor.Funcs{
				Apply: func(ctx context.Context, c client.WithWatch, o runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
					return apierrors.NewTooManyRequestsError("slow down")
				},
			})
			_, err = f.r.Reconcile(ctx, ctrl.Request{NamespacedName: f.key()})
			Expect(err).To(MatchError(ContainSubstring("slow down")))
			st := f.showtime()
			Expect(st.Status.Phase).To(Equal(boxv1.PhasePending))
			Expect(cond(st, "ShardReady")).To(BeNil(), "nothing is known about the shard yet")
			Expect(st.Status.ObservedGeneration).To(BeZero())
			Expect(drainEvents(f.recorder)).To(ContainElement(And(ContainSubstring("ReconcileFailed"), ContainSubstring("shard objects:"))))
		})

		It("replaces a shard pod that is not ready on a revision the StatefulSet no longer runs (forced rollback), and only that", func() {
			f := newFixture()
			f.reconcile()
			setRevisions := func(update string) {
				sts := &appsv1.StatefulSet{}
				f.get(f.st.ShardName(), sts)
				sts.Status.ObservedGeneration = sts.Generation
				sts.Status.Replicas = 1
				sts.Status.CurrentRevision = "standup-shard-aaa"
				sts.Status.UpdateRevision = update
				Expect(k8sClient.Status().Update(ctx, sts)).To(Succeed())
			}
			labelRevision := func(pod *corev1.Pod, rev string) {
				Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
				pod.Labels[appsv1.ControllerRevisionHashLabelKey] = rev
				Expect(k8sClient.Update(ctx, pod)).To(Succeed())
			}
			// A ready pod on an older revision is the StatefulSet's to roll.
			setRevisions("standup-shard-bbb")
			pod := f.makeShardPod(true)
			labelRevision(pod, "standup-shard-aaa")
			f.serveCounts(252, 0, 0, 0)
			f.reconcile()
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})).To(Succeed())
			// A pod not ready on the revision the StatefulSet wants is starting: left alone.
			labelRevision(pod, "standup-shard-bbb")
			f.setPodReady(pod, false)
			f.reconcile()
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})).To(Succeed())
			Expect(drainEvents(f.recorder)).NotTo(ContainElement(ContainSubstring("ShardPodReplaced")))
			// The template went back to aaa (a rollback) while the pod on bbb
			// never became ready: the StatefulSet would wait for it forever.
			setRevisions("standup-shard-aaa")
			f.reconcile()
			err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the broken pod is deleted: %v", err)
			Expect(drainEvents(f.recorder)).To(ContainElement(And(ContainSubstring("ShardPodReplaced"),
				ContainSubstring("standup-shard-bbb"), ContainSubstring("standup-shard-aaa"))))
		})

		It("reads seats at most once per interval and reports an unreachable shard", func() {
			f := newFixture()
			f.reconcile()
			pod := f.makeShardPod(true)
			f.serveCounts(sampleTotal, 0, 0, 0)
			f.reconcile()
			f.reconcile()
			f.reconcile()
			Expect(f.shard.Hits()).To(BeEquivalentTo(1))

			f.shard.set(func(r *shardapi.Status) {})
			f.shard.failing(true)
			f.clock.SetTime(baseTime.Add(6 * time.Second))
			f.reconcile()
			Expect(f.shard.Hits()).To(BeEquivalentTo(2))
			c := cond(f.showtime(), "ShardReady")
			Expect(c.Status).To(Equal(metav1.ConditionFalse))
			Expect(c.Reason).To(Equal("StatusUnreachable"))
			Expect(c.Message).To(ContainSubstring("status 503"))

			// A new pod (new UID) is read at once, not after the interval.
			Expect(k8sClient.Delete(ctx, pod)).To(Succeed())
			Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}) }).ShouldNot(Succeed())
			f.shard.failing(false)
			f.serveCounts(sampleTotal, 0, 0, 0)
			f.makeShardPod(true)
			f.reconcile()
			Expect(f.shard.Hits()).To(BeEquivalentTo(3))
			Expect(cond(f.showtime(), "ShardReady").Status).To(Equal(metav1.ConditionTrue))
		})

		It("flags a seat map the CRD accepts but the parser rejects, and creates no shard", func() {
			f := newFixture(func(st *boxv1.Showtime) {
				st.Spec.SeatMap.Sections[0].Rows = append(st.Spec.SeatMap.Sections[0].Rows, boxv1.SeatRow{Names: "H-A", Seats: "1-4"})
			})
			f.reconcile()
			st := f.showtime()
			c := cond(st, "SeatMapValid")
			Expect(c.Status).To(Equal(metav1.ConditionFalse))
			Expect(c.Reason).To(Equal("InvalidSeatMap"))
			Expect(c.Message).To(And(ContainSubstring(`section "stalls"`), ContainSubstring("row line 3"), ContainSubstring(`"H-A"`)))
			Expect(st.Status.Phase).To(Equal(boxv1.PhaseDegraded))
			evs := drainEvents(f.recorder)
			Expect(evs).To(ContainElement(And(ContainSubstring("Warning"), ContainSubstring("InvalidSeatMap"), ContainSubstring("H-A"))))
			err := k8sClient.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: f.st.ShardName()}, &appsv1.StatefulSet{})
			Expect(err).To(HaveOccurred(), "no shard for an invalid map")

			// The event is not repeated on every reconcile.
			f.reconcile()
			Expect(drainEvents(f.recorder)).NotTo(ContainElement(ContainSubstring("InvalidSeatMap")))
		})
	})
})

var _ = Describe("Showtime front end", func() {
	It("builds the front-end deployment, service, PDB and autoscaler", func() {
		f := newFixture()
		f.reconcile()
		st := f.showtime()

		dep := &appsv1.Deployment{}
		f.get(f.st.FrontendName(), dep)
		Expect(dep.OwnerReferences[0].UID).To(Equal(st.UID))
		Expect(dep.Spec.Replicas).NotTo(BeNil())
		Expect(dep.Spec.Selector.MatchLabels).To(Equal(st.SelectorLabels("frontend")))
		Expect(dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue()).To(Equal(0))
		c := dep.Spec.Template.Spec.Containers[0]
		Expect(c.Image).To(Equal(testImage))
		Expect(c.Args).To(Equal([]string{
			"frontend",
			"--showtime=" + f.ns + "/standup",
			"--shard-url=http://standup-shard." + f.ns + ".svc:7070",
			"--shard-token-file=/etc/boxoffice/token/token",
			"--session-key-file=/etc/boxoffice/session/key",
			"--session-previous-key-file=/etc/boxoffice/session/previous",
			"--seat-map=/etc/boxoffice/seatmap/seatmap.yaml",
			"--show-file=/etc/boxoffice/seatmap/show.json",
			"--listen=:8080",
			"--hold-ttl=10m0s",
			"--max-hold-lifetime=20m0s",
			"--payment-ttl=15m0s",
			"--max-seats-per-holder=8",
			"--client-seats=32",
			"--max-client-streams=8",
			"--new-session-rate=1",
			"--new-session-burst=20",
			"--trusted-proxy-hops=0",
			"--payment-secret-file=/etc/boxoffice/payment/secret",
		}))
		Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
		Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
		Expect(*c.SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
		Expect(c.Resources.Requests).To(HaveKey(corev1.ResourceCPU), "the autoscaler's CPU target needs a request")
		vols := map[string]string{}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				vols[v.Name] = v.Secret.SecretName
			}
		}
		Expect(vols).To(Equal(map[string]string{"token": "standup-shard-token", "session": "standup-frontend-session", "payment": "standup-payment-callback"}))

		for _, name := range []string{f.st.SessionSecretName(), f.st.GeneratedPaymentSecretName()} {
			sec := &corev1.Secret{}
			f.get(name, sec)
			Expect(sec.Data).To(HaveLen(1))
			for _, v := range sec.Data {
				Expect(v).To(HaveLen(43))
			}
		}

		svc := &corev1.Service{}
		f.get(f.st.FrontendName(), svc)
		Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeClusterIP))
		Expect(svc.Spec.Ports[0].Port).To(BeEquivalentTo(80))
		Expect(svc.Spec.Selector).To(Equal(st.SelectorLabels("frontend")))

		pdb := &policyv1.PodDisruptionBudget{}
		f.get(f.st.FrontendName(), pdb)
		Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1))

		hpa := &autoscalingv2.HorizontalPodAutoscaler{}
		f.get(f.st.FrontendName(), hpa)
		Expect(hpa.Spec.ScaleTargetRef.Name).To(Equal("standup-frontend"))
		Expect(hpa.Spec.ScaleTargetRef.Kind).To(Equal("Deployment"))
		Expect(*hpa.Spec.MinReplicas).To(BeEquivalentTo(2))
		Expect(hpa.Spec.MaxReplicas).To(BeEquivalentTo(50))
		Expect(*hpa.Spec.Metrics[0].Resource.Target.AverageUtilization).To(BeEquivalentTo(60))
		Expect(*hpa.Spec.Behavior.ScaleUp.StabilizationWindowSeconds).To(BeEquivalentTo(0), "scale up at once")
		Expect(*hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds).To(BeEquivalentTo(300), "scale down slowly")
		Expect(*hpa.Spec.Behavior.ScaleDown.SelectPolicy).To(Equal(autoscalingv2.MinChangePolicySelect))

		for _, o := range []client.Object{dep, svc, pdb, hpa} {
			Expect(o.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/version", "v1.2.3"), "version label of %T", o)
		}
		Expect(dep.Spec.Template.Labels).NotTo(HaveKey("app.kubernetes.io/version"))
		Expect(dep.Spec.Selector.MatchLabels).NotTo(HaveKey("app.kubernetes.io/version"))
		Expect(svc.Spec.Selector).NotTo(HaveKey("app.kubernetes.io/version"))
	})

	It("uses demo payments and the front-end image when asked", func() {
		f := newFixture(func(st *boxv1.Showtime) {
			st.Spec.Frontend.Image = "registry.example/boxoffice-frontend:v2"
			st.Spec.Frontend.Payments.Demo = true
		})
		f.reconcile()
		dep := &appsv1.Deployment{}
		f.get(f.st.FrontendName(), dep)
		c := dep.Spec.Template.Spec.Containers[0]
		Expect(c.Image).To(Equal("registry.example/boxoffice-frontend:v2"))
		Expect(dep.Labels).To(HaveKeyWithValue("app.kubernetes.io/version", "v2"), "the front end's own tag")
		Expect(dep.Spec.Template.Labels).NotTo(HaveKey("app.kubernetes.io/version"))
		sts := &appsv1.StatefulSet{}
		f.get(f.st.ShardName(), sts)
		Expect(sts.Labels).To(HaveKeyWithValue("app.kubernetes.io/version", "v1.2.3"), "the shard keeps the default image's tag")
		Expect(c.Args).To(ContainElement("--demo-payments"))
		Expect(c.Args).NotTo(ContainElement(HavePrefix("--payment-secret-file")))
		err := k8sClient.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: f.st.GeneratedPaymentSecretName()}, &corev1.Secret{})
		Expect(err).To(HaveOccurred(), "no callback secret in demo mode")
	})

	It("raises the floor and disables scale-down exactly inside the pre-scale window", func() {
		f := newFixture(func(st *boxv1.Showtime) {
			st.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{
				MinReplicas: 2, MaxReplicas: 40, TargetCPUUtilizationPercentage: 70,
				PreScale: &boxv1.PreScale{Replicas: 20, Lead: metav1.Duration{Duration: 30 * time.Minute}, Hold: metav1.Duration{Duration: 2 * time.Hour}},
			}
		})
		start, end := f.opens.Add(-30*time.Minute), f.opens.Add(2*time.Hour)
		hpa := &autoscalingv2.HorizontalPodAutoscaler{}
		floorAt := func(t time.Time) (int32, ctrl.Result) {
			f.clock.SetTime(t)
			res := f.reconcile()
			f.get(f.st.FrontendName(), hpa)
			return *hpa.Spec.MinReplicas, res
		}

		floor, res := floorAt(baseTime)
		Expect(floor).To(BeEquivalentTo(2))
		Expect(res.RequeueAfter).To(Equal(start.Sub(baseTime)), "wakes exactly when the window opens")
		Expect(*hpa.Spec.Behavior.ScaleDown.SelectPolicy).To(Equal(autoscalingv2.MinChangePolicySelect))

		floor, _ = floorAt(start.Add(-time.Nanosecond))
		Expect(floor).To(BeEquivalentTo(2))

		floor, res = floorAt(start)
		Expect(floor).To(BeEquivalentTo(20))
		Expect(*hpa.Spec.Behavior.ScaleDown.SelectPolicy).To(Equal(autoscalingv2.DisabledPolicySelect))
		Expect(hpa.Spec.MaxReplicas).To(BeEquivalentTo(40))
		Expect(res.RequeueAfter).To(Equal(30*time.Minute), "next: the sale opens")
		st := f.showtime()
		Expect(st.Status.Frontend.PreScaled).To(BeTrue())
		Expect(st.Status.Frontend.MinReplicas).To(BeEquivalentTo(20))

		floor, res = floorAt(f.opens)
		Expect(floor).To(BeEquivalentTo(20))
		Expect(res.RequeueAfter).To(Equal(2*time.Hour), "next: the window closes")

		floor, _ = floorAt(end.Add(-time.Nanosecond))
		Expect(floor).To(BeEquivalentTo(20))

		floor, _ = floorAt(end)
		Expect(floor).To(BeEquivalentTo(2))
		Expect(*hpa.Spec.Behavior.ScaleDown.SelectPolicy).To(Equal(autoscalingv2.MinChangePolicySelect))
		Expect(f.showtime().Status.Frontend.PreScaled).To(BeFalse())
	})

	It("rejects pre-scale replicas outside the autoscaling bounds", func() {
		st := newShowtime(newNamespace(), "bad-prescale", baseTime, baseTime.Add(time.Hour))
		st.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{MinReplicas: 2, MaxReplicas: 10, TargetCPUUtilizationPercentage: 60,
			PreScale: &boxv1.PreScale{Replicas: 20}}
		err := k8sClient.Create(ctx, st)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.frontend.autoscaling.preScale.replicas must be between minReplicas and maxReplicas"))

		st = newShowtime(st.Namespace, "bad-bounds", baseTime, baseTime.Add(time.Hour))
		st.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{MinReplicas: 5, MaxReplicas: 3, TargetCPUUtilizationPercentage: 60}
		err = k8sClient.Create(ctx, st)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.frontend.autoscaling.minReplicas must not exceed maxReplicas"))
	})
})

var _ = Describe("Showtime CRD validation", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	valid := func() *boxv1.Showtime {
		return newShowtime(ns, "", baseTime, baseTime.Add(time.Hour))
	}

	DescribeTable("rejects an invalid spec with a message that names the field",
		func(mutate func(st *boxv1.Showtime), want string) {
			st := valid()
			st.GenerateName = "bad-"
			mutate(st)
			err := k8sClient.Create(ctx, st)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("closesAt before opensAt", func(st *boxv1.Showtime) {
			st.Spec.Sales.ClosesAt = metav1.NewTime(st.Spec.Sales.OpensAt.Add(-time.Minute))
		}, "spec.sales.closesAt must be after spec.sales.opensAt"),
		Entry("closesAt equal to opensAt", func(st *boxv1.Showtime) {
			st.Spec.Sales.ClosesAt = st.Spec.Sales.OpensAt
		}, "spec.sales.closesAt must be after spec.sales.opensAt"),
		Entry("holdTTL below 1m", func(st *boxv1.Showtime) {
			st.Spec.Sales.HoldTTL = metav1.Duration{Duration: 30 * time.Second}
		}, "spec.sales.holdTTL must be a duration between 1m and 2h"),
		Entry("holdTTL above 2h", func(st *boxv1.Showtime) {
			st.Spec.Sales.HoldTTL = metav1.Duration{Duration: 3 * time.Hour}
		}, "spec.sales.holdTTL must be a duration between 1m and 2h"),
		Entry("maxSeatsPerHolder above 50", func(st *boxv1.Showtime) {
			st.Spec.Sales.MaxSeatsPerHolder = 51
		}, "spec.sales.maxSeatsPerHolder must be between 1 and 50"),
		Entry("maxSeatsPerHolder negative", func(st *boxv1.Showtime) {
			st.Spec.Sales.MaxSeatsPerHolder = -1
		}, "spec.sales.maxSeatsPerHolder must be between 1 and 50"),
		Entry("section name with capitals", func(st *boxv1.Showtime) {
			st.Spec.SeatMap.Sections[0].Name = "Stalls"
		}, "spec.seatMap.sections[].name must match [a-z0-9-]{1,32}"),
		Entry("duplicate section names", func(st *boxv1.Showtime) {
			st.Spec.SeatMap.Sections[1].Name = "stalls"
		}, "spec.seatMap.sections: section names must be unique"),
		Entry("no sections", func(st *boxv1.Showtime) {
			st.Spec.SeatMap.Sections = []boxv1.SeatSection{}
		}, "spec.seatMap.sections: at least one section is required"),
		Entry("section without rows", func(st *boxv1.Showtime) {
			st.Spec.SeatMap.Sections[1].Rows = []boxv1.SeatRow{}
		}, "spec.seatMap.sections[].rows: at least one row is required"),
		Entry("preScale.lead above 168h", func(st *boxv1.Showtime) {
			st.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{MinReplicas: 2, MaxReplicas: 50,
				PreScale: &boxv1.PreScale{Replicas: 10, Lead: metav1.Duration{Duration: 200 * time.Hour}}}
		}, "spec.frontend.autoscaling.preScale.lead must be a duration between 0s and 168h"),
		Entry("preScale.hold negative", func(st *boxv1.Showtime) {
			st.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{MinReplicas: 2, MaxReplicas: 50,
				PreScale: &boxv1.PreScale{Replicas: 10, Hold: metav1.Duration{Duration: -time.Minute}}}
		}, "spec.frontend.autoscaling.preScale.hold must be a duration between 0s and 168h"),
		Entry("sales.freeze.before above 168h", func(st *boxv1.Showtime) {
			st.Spec.Sales.Freeze.Before = &metav1.Duration{Duration: 169 * time.Hour}
		}, "spec.sales.freeze.before must be a duration between 0s and 168h"),
		Entry("sales.freeze.after negative", func(st *boxv1.Showtime) {
			st.Spec.Sales.Freeze.After = &metav1.Duration{Duration: -time.Second}
		}, "spec.sales.freeze.after must be a duration between 0s and 168h"),
		Entry("venue.timeZone not a zone name", func(st *boxv1.Showtime) {
			st.Spec.Venue.TimeZone = "+07:00"
		}, "spec.venue.timeZone must be an IANA time zone name such as Asia/Bangkok or Europe/London, or UTC"),
		Entry("waitingRoom.maxActiveBuyers above 10000", func(st *boxv1.Showtime) {
			st.Spec.Sales.WaitingRoom.MaxActiveBuyers = 10001
		}, "spec.sales.waitingRoom.maxActiveBuyers must be between 1 and 10000"),
		Entry("waitingRoom.maxActiveBuyers negative", func(st *boxv1.Showtime) {
			st.Spec.Sales.WaitingRoom.MaxActiveBuyers = -1
		}, "spec.sales.waitingRoom.maxActiveBuyers must be between 1 and 10000"),
		Entry("waitingRoom.idleTimeout below 30s", func(st *boxv1.Showtime) {
			st.Spec.Sales.WaitingRoom.IdleTimeout = metav1.Duration{Duration: 10 * time.Second}
		}, "spec.sales.waitingRoom.idleTimeout must be a duration between 30s and 30m"),
		Entry("waitingRoom.preQueue above 24h", func(st *boxv1.Showtime) {
			st.Spec.Sales.WaitingRoom.PreQueue = &metav1.Duration{Duration: 25 * time.Hour}
		}, "spec.sales.waitingRoom.preQueue must be a duration between 0s and 24h"),
		Entry("waitingRoom.preQueue negative", func(st *boxv1.Showtime) {
			st.Spec.Sales.WaitingRoom.PreQueue = &metav1.Duration{Duration: -time.Minute}
		}, "spec.sales.waitingRoom.preQueue must be a duration between 0s and 24h"),
		Entry("paymentTTL above 2h", func(st *boxv1.Showtime) {
			st.Spec.Sales.PaymentTTL = metav1.Duration{Duration: 3 * time.Hour}
		}, "spec.sales.paymentTTL must be a duration between 1m and 2h"),
		Entry("maxHoldLifetime above 2h", func(st *boxv1.Showtime) {
			st.Spec.Sales.MaxHoldLifetime = &metav1.Duration{Duration: 3 * time.Hour}
		}, "spec.sales.maxHoldLifetime must be a duration between 1m and 2h"),
		Entry("maxHoldLifetime shorter than holdTTL", func(st *boxv1.Showtime) {
			st.Spec.Sales.HoldTTL = metav1.Duration{Duration: 30 * time.Minute}
			st.Spec.Sales.MaxHoldLifetime = &metav1.Duration{Duration: 20 * time.Minute}
		}, "spec.sales.maxHoldLifetime must not be shorter than spec.sales.holdTTL"),
		Entry("clientLimits.seatsPerHoldTTL below maxSeatsPerHolder", func(st *boxv1.Showtime) {
			st.Spec.Frontend.ClientLimits.SeatsPerHoldTTL = ptr.To[int32](4)
		}, "spec.frontend.clientLimits.seatsPerHoldTTL must be 0 (off) or at least spec.sales.maxSeatsPerHolder"),
		Entry("clientLimits.newSessionsPerMinute negative", func(st *boxv1.Showtime) {
			st.Spec.Frontend.ClientLimits.NewSessionsPerMinute = ptr.To[int32](-1)
		}, "spec.frontend.clientLimits.newSessionsPerMinute must be between 0 (off) and 60000"),
		Entry("clientLimits.newSessionBurst zero", func(st *boxv1.Showtime) {
			st.Spec.Frontend.ClientLimits.NewSessionBurst = ptr.To[int32](0)
		}, "spec.frontend.clientLimits.newSessionBurst must be between 1 and 100000"),
		Entry("clientLimits.streamsPerClient negative", func(st *boxv1.Showtime) {
			st.Spec.Frontend.ClientLimits.StreamsPerClient = ptr.To[int32](-1)
		}, "spec.frontend.clientLimits.streamsPerClient must be between 0 (off) and 100000"),
		Entry("trustedProxyHops above 16", func(st *boxv1.Showtime) {
			st.Spec.Frontend.TrustedProxyHops = ptr.To[int32](17)
		}, "spec.frontend.trustedProxyHops must be between 0 and 16"),
	)

	It("defaults the payment window and the client limits", func() {
		st := valid()
		st.Name = "buyer-defaults"
		st.Spec.Frontend.Payments.Demo = true // any frontend block: its clientLimits default
		Expect(k8sClient.Create(ctx, st)).To(Succeed())
		Expect(st.Spec.Sales.PaymentTTL.Duration).To(Equal(15 * time.Minute))
		Expect(st.Spec.Sales.MaxHoldLifetime).To(BeNil())
		l := st.Spec.Frontend.ClientLimits
		Expect(l.NewSessionsPerMinute).To(HaveValue(BeEquivalentTo(60)))
		Expect(l.NewSessionBurst).To(HaveValue(BeEquivalentTo(20)))
		Expect(l.SeatsPerHoldTTL).To(HaveValue(BeEquivalentTo(32)))
		Expect(l.StreamsPerClient).To(HaveValue(BeEquivalentTo(8)))

		off := valid()
		off.Name = "limits-off"
		off.Spec.Frontend.ClientLimits = boxv1.ClientLimits{SeatsPerHoldTTL: ptr.To[int32](0), NewSessionsPerMinute: ptr.To[int32](0)}
		off.Spec.Sales.MaxHoldLifetime = &metav1.Duration{Duration: 2 * time.Hour}
		Expect(k8sClient.Create(ctx, off)).To(Succeed())
		Expect(off.Spec.Frontend.ClientLimits.SeatsPerHoldTTL).To(HaveValue(BeEquivalentTo(0)), "0 is kept: off")
	})

	It("defaults holdTTL, maxSeatsPerHolder and storage", func() {
		st := valid()
		st.Name = "defaults"
		Expect(k8sClient.Create(ctx, st)).To(Succeed())
		Expect(st.Spec.Sales.HoldTTL.Duration).To(Equal(10 * time.Minute))
		Expect(st.Spec.Sales.MaxSeatsPerHolder).To(BeEquivalentTo(8))
	})

	It("keeps the seat map and storage immutable", func() {
		st := valid()
		st.Name = "immutable"
		st.Spec.Shard.Storage.Size = resource.MustParse("2Gi")
		Expect(k8sClient.Create(ctx, st)).To(Succeed())

		changed := st.DeepCopy()
		changed.Spec.SeatMap.Sections[0].Rows[0].Seats = "1-30"
		err := k8sClient.Update(ctx, changed)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.seatMap is immutable once the showtime is created"))

		changed = st.DeepCopy()
		changed.Spec.Shard.Storage.Size = resource.MustParse("3Gi")
		err = k8sClient.Update(ctx, changed)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.shard.storage is immutable"))

		changed = st.DeepCopy()
		changed.Spec.Title = "A new title is fine"
		changed.Spec.Sales.MaxSeatsPerHolder = 4
		Expect(k8sClient.Update(ctx, changed)).To(Succeed())
	})

	It("accepts the sample showtime in config/samples", func() {
		data, err := readSample()
		Expect(err).NotTo(HaveOccurred())
		st := &boxv1.Showtime{}
		Expect(yamlUnmarshal(data, st)).To(Succeed())
		st.Namespace = ns
		Expect(k8sClient.Create(ctx, st)).To(Succeed())
		l, err := seatmap.Expand(st.SeatMapSpec())
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Total).To(Equal(2000), "the sample is a 2,000-seat hall")
		Expect(l.Sections).To(HaveLen(2))
	})
})

var _ = fmt.Sprintf
var _ = strings.Contains
