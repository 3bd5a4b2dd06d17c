package controllers

import (
	"context"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	"boxoffice.dev/boxoffice/shard/shardapi"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// These specs run the showtime controller the way the manager does: through
// a manager whose cache sees only the operator's labelled Pods, Secrets and
// ConfigMaps (CacheByObject), with the real event recorder, and with a single
// worker, so one stuck showtime would hold up every other.
var _ = Describe("Showtime controller in a manager", Ordered, func() {
	var shard *fakeShard

	BeforeAll(func() {
		shard = newFakeShard()
		DeferCleanup(shard.Close)
		mgr, err := ctrl.NewManager(cfg, ctrl.Options{
			Scheme:                 scheme,
			Metrics:                metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0",
			Cache:                  cache.Options{ByObject: CacheByObject()},
			Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		})
		Expect(err).NotTo(HaveOccurred())
		r := &ShowtimeReconciler{
			Client:    mgr.GetClient(),
			APIReader: mgr.GetAPIReader(),
			Scheme:    mgr.GetScheme(),
			Recorder:  mgr.GetEventRecorder("boxoffice-showtime"),
			Clock:     clock.RealClock{},
			Options: specs.Options{
				DefaultImage:      testImage,
				OperatorNamespace: "boxoffice-system",
				OperatorPodLabels: map[string]string{"control-plane": "boxoffice-operator"},
				MaxHoldTTL:        2 * time.Hour,
			},
			Shards:                  NewHTTPShardClient(shard.port()),
			ScrapeInterval:          time.Second,
			MaxConcurrentReconciles: 1,
			conflictRetryAfter:      time.Second,
		}
		Expect(r.SetupWithManager(mgr)).To(Succeed())
		mctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			Expect(mgr.Start(mctx)).To(Succeed())
		}()
		DeferCleanup(func() {
			stop()
			Eventually(done).WithTimeout(40 * time.Second).Should(BeClosed())
		})
	})

	showtimeIn := func(ns, name string) *boxv1.Showtime {
		now := time.Now().UTC().Truncate(time.Second)
		st := newShowtime(ns, name, now.Add(2*time.Hour), now.Add(26*time.Hour))
		Expect(k8sClient.Create(ctx, st)).To(Succeed())
		return st
	}
	read := func(st *boxv1.Showtime) *boxv1.Showtime {
		out := &boxv1.Showtime{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(st), out)).To(Succeed())
		return out
	}
	eventsFor := func(st *boxv1.Showtime) []eventsv1.Event {
		list := &eventsv1.EventList{}
		Expect(k8sClient.List(ctx, list, client.InNamespace(st.Namespace))).To(Succeed())
		var out []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Kind == "Showtime" && e.Regarding.Name == st.Name {
				out = append(out, e)
			}
		}
		return out
	}
	ownedCondition := func(st *boxv1.Showtime) func() *metav1.Condition {
		return func() *metav1.Condition { return cond(read(st), "ObjectsOwned") }
	}

	It("reports a Secret or ConfigMap in the way on its showtime, adopts nothing, and goes on with every other showtime", func() {
		ns := newNamespace()
		foreign := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: boxv1.NamedShowtime(ns, "blocked").TokenSecretName(), Namespace: ns},
			Data:       map[string][]byte{boxv1.TokenSecretKey: []byte("not-the-operators")},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		foreignCM := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: boxv1.NamedShowtime(ns, "cm-blocked").SeatMapName(), Namespace: ns},
			Data:       map[string]string{"notes": "someone's own"},
		}
		Expect(k8sClient.Create(ctx, foreignCM)).To(Succeed())

		blocked := showtimeIn(ns, "blocked")
		Eventually(ownedCondition(blocked)).WithTimeout(20 * time.Second).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", "NameConflict"),
			HaveField("Message", And(ContainSubstring("Secret "+ns+"/blocked-shard-token already exists"),
				ContainSubstring("app.kubernetes.io/managed-by=boxoffice-operator"),
				ContainSubstring("delete or rename that Secret"))),
		))
		Expect(read(blocked).Status.Phase).To(Equal(boxv1.PhaseDegraded))
		Eventually(func() []eventsv1.Event { return eventsFor(blocked) }).WithTimeout(10 * time.Second).Should(ContainElement(And(
			HaveField("Type", corev1.EventTypeWarning),
			HaveField("Reason", "NameConflict"),
			HaveField("Note", And(ContainSubstring("shard token:"), ContainSubstring("Secret "+ns+"/blocked-shard-token"),
				ContainSubstring("delete or rename"))),
		)))
		// Retried every second, reported once: a repeat would make the
		// event a series.
		Consistently(func() []eventsv1.Event {
			var out []eventsv1.Event
			for _, e := range eventsFor(blocked) {
				if e.Reason == "NameConflict" {
					out = append(out, e)
				}
			}
			return out
		}).WithTimeout(3 * time.Second).WithPolling(500 * time.Millisecond).Should(ConsistOf(HaveField("Series", BeNil())))

		// With the only worker retrying the blocked showtime, the others
		// are reconciled all the same.
		cmBlocked := showtimeIn(ns, "cm-blocked")
		other := showtimeIn(ns, "other")
		Eventually(ownedCondition(cmBlocked)).WithTimeout(20 * time.Second).Should(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Message", ContainSubstring("ConfigMap "+ns+"/cm-blocked-seatmap already exists")),
		))
		Eventually(func() boxv1.ShowtimePhase { return read(other).Status.Phase }).WithTimeout(20 * time.Second).
			Should(Equal(boxv1.PhaseProvisioning))
		Expect(ownedCondition(other)()).To(HaveField("Status", metav1.ConditionTrue))
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: boxv1.NamedShowtime(ns, "other").ShardName()}, &appsv1.StatefulSet{})).To(Succeed())

		// Nothing of someone else's was taken over.
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed())
		Expect(foreign.OwnerReferences).To(BeEmpty())
		Expect(foreign.Data).To(HaveKeyWithValue(boxv1.TokenSecretKey, []byte("not-the-operators")))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreignCM), foreignCM)).To(Succeed())
		Expect(foreignCM.OwnerReferences).To(BeEmpty())
		Expect(foreignCM.Data).To(Equal(map[string]string{"notes": "someone's own"}))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: boxv1.NamedShowtime(ns, "blocked").ShardName()}, &appsv1.StatefulSet{}))).
			To(BeTrue(), "no shard without its own token")

		// Once the Secret is out of the way the showtime goes on by itself,
		// though its removal is no event the operator's cache sees.
		Expect(k8sClient.Delete(ctx, foreign)).To(Succeed())
		Eventually(ownedCondition(blocked)).WithTimeout(20 * time.Second).Should(HaveField("Status", metav1.ConditionTrue))
		sec := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), sec)).To(Succeed())
		Expect(metav1.IsControlledBy(sec, read(blocked))).To(BeTrue())
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: boxv1.NamedShowtime(ns, "blocked").ShardName()}, &appsv1.StatefulSet{})).To(Succeed())
	})

	It("emits no Warning event while a healthy showtime is created and becomes Ready", func() {
		ns := newNamespace()
		st := showtimeIn(ns, "healthy")
		key := client.ObjectKeyFromObject(st)
		get := func(name string, obj client.Object) error {
			return k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj)
		}
		Eventually(func() error { return get(st.ShardName(), &appsv1.StatefulSet{}) }).WithTimeout(20 * time.Second).Should(Succeed())
		Eventually(func() error { return get(st.FrontendName(), &appsv1.Deployment{}) }).WithTimeout(20 * time.Second).Should(Succeed())

		// What the StatefulSet and Deployment controllers and the kubelet
		// would do: a ready shard pod at 127.0.0.1, ready front-end replicas.
		sec := &corev1.Secret{}
		Expect(get(st.TokenSecretName(), sec)).To(Succeed())
		shard.RequireToken(string(sec.Data[boxv1.TokenSecretKey]))
		shard.set(func(r *shardapi.Status) {
			*r = shardapi.Status{Showtime: ns + "/healthy", Version: 1, Epoch: 1, Counts: shardapi.Counts{Free: sampleTotal}}
		})
		st = read(st)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: st.ShardPodName(0), Namespace: ns, Labels: st.OwnedLabels(boxv1.ComponentShard)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "shard", Image: testImage}}},
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}}
		Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
		Eventually(func() error {
			dep := &appsv1.Deployment{}
			if err := get(st.FrontendName(), dep); err != nil {
				return err
			}
			dep.Status = appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, ObservedGeneration: dep.Generation}
			return k8sClient.Status().Update(ctx, dep)
		}).WithTimeout(10 * time.Second).Should(Succeed())

		Eventually(func() boxv1.ShowtimePhase { return read(st).Status.Phase }).WithTimeout(30 * time.Second).Should(Equal(boxv1.PhaseReady))
		Expect(k8sClient.Get(ctx, key, st)).To(Succeed())
		Expect(st.Status.Seats).To(Equal(boxv1.SeatCounts{Total: sampleTotal, Available: sampleTotal}))
		// Events reach the API server in the order they were made: once
		// the phase change to Ready is there, so is any earlier warning.
		Eventually(func() []eventsv1.Event { return eventsFor(st) }).WithTimeout(10 * time.Second).
			Should(ContainElement(HaveField("Reason", "PhaseReady")))
		for _, e := range eventsFor(st) {
			Expect(e.Type).NotTo(Equal(corev1.EventTypeWarning), "%s: %s", e.Reason, e.Note)
		}
	})
})
