package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	"boxoffice.dev/boxoffice/internal/fakeshard"
	"boxoffice.dev/boxoffice/internal/freeze"
	"boxoffice.dev/boxoffice/internal/plugin"
	"boxoffice.dev/boxoffice/shard/shardapi"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// Images the fake shards know. stableImage is the operator's default.
const (
	stableImage  = testImage
	goodImage    = "registry.example/boxoffice:v1.3.0"
	badImage     = "registry.example/boxoffice:v1.3.0-errors"
	slowImage    = "registry.example/boxoffice:v1.3.0-slow"
	format2Image = "registry.example/boxoffice:v2.0.0-logv2"
	// quietImage: a shard that answered 3 holds, too few to judge.
	quietImage = "registry.example/boxoffice:v1.3.0-quiet"
	// missingImage: no node has it; its container waits in ErrImageNeverPull.
	missingImage = "registry.example/boxoffice:v1.3.0-missing"
)

// recorder keeps events in memory (the client-go fake blocks when full).
type recorder struct {
	mu  sync.Mutex
	all []string
}

func (r *recorder) Eventf(regarding runtime.Object, _ runtime.Object, typ, reason, _ string, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := ""
	if o, ok := regarding.(client.Object); ok {
		name = o.GetName()
	}
	r.all = append(r.all, fmt.Sprintf("%s %s %s: %s", typ, reason, name, fmt.Sprintf(note, args...)))
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.all...)
}

// shardFarm stands in for every shard of a test: one fake shard listening
// on one loopback address per shard pod (127.0.0.x, same port), answering
// /v1/status and /metrics according to the image the pod runs.
type shardFarm struct {
	*fakeshard.Server
	port      int
	mu        sync.Mutex
	images    map[string]string // pod IP -> image
	showtimes map[string]string // pod IP -> namespace/name
	// frontends are the pod IPs of front ends (they answer front-end
	// metrics); metrics overrides a shard's exposition by pod IP.
	frontends map[string]bool
	metrics   map[string]string
}

func newShardFarm(ips []string) *shardFarm {
	srv, err := fakeshard.New(ips...)
	Expect(err).NotTo(HaveOccurred(), "listening on %v", ips)
	DeferCleanup(srv.Close)
	return &shardFarm{Server: srv, port: srv.Port(),
		images: map[string]string{}, showtimes: map[string]string{}, frontends: map[string]bool{}, metrics: map[string]string{}}
}

// listen adds a pod IP on the farm's port.
func (f *shardFarm) listen(ip string) {
	Expect(f.Listen(ip)).To(Succeed(), "listening on %s", ip)
}

// setMetrics makes the shard at ip answer /metrics with body.
func (f *shardFarm) setMetrics(ip, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metrics[ip] = body
	f.publishLocked(ip)
}

func (f *shardFarm) set(ip, showtime, image string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[ip], f.showtimes[ip] = image, showtime
	f.publishLocked(ip)
}

// publishLocked makes ip answer what its image, showtime and overrides say.
func (f *shardFarm) publishLocked(ip string) {
	image, showtime := f.images[ip], f.showtimes[ip]
	switch {
	case image == "":
		f.Remove(ip)
	case f.frontends[ip]:
		f.Set(ip, fakeshard.Member{Metrics: fakeFrontendMetrics(image)})
	default:
		m := fakeshard.Member{Metrics: fakeMetrics(image), Status: farmStatus(showtime, image)}
		if override := f.metrics[ip]; override != "" {
			m.Metrics = override
		}
		f.Set(ip, m)
	}
}

// farmStatus is the GET /v1/status of a shard running image.
func farmStatus(showtime, image string) *shardapi.Status {
	format := int64(1)
	if image == format2Image {
		format = 2
	}
	return &shardapi.Status{Showtime: showtime, Version: 7, Epoch: 2, LogFormat: format, Ready: true,
		Counts: shardapi.Counts{Free: 300, Held: 2, AwaitingPayment: 0, Sold: 50}}
}

// fakeMetrics is a shard's exposition: 100 holds and 50 confirms; the
// errors image answers 40 holds with a server error, the slow one holds at
// ~200ms p99 against ~2ms for the others.
func fakeMetrics(image string) string {
	if image == quietImage {
		return "# TYPE boxoffice_shard_holds_total counter\nboxoffice_shard_holds_total{result=\"ok\"} 3\n"
	}
	var b strings.Builder
	b.WriteString("# HELP boxoffice_shard_holds_total Hold requests.\n# TYPE boxoffice_shard_holds_total counter\n")
	b.WriteString("boxoffice_shard_holds_total{result=\"ok\"} 80\n")
	b.WriteString("boxoffice_shard_holds_total{result=\"seats_unavailable\"} 20\n")
	if image == badImage {
		b.WriteString("boxoffice_shard_holds_total{result=\"internal_error\"} 40\n")
	}
	b.WriteString("# HELP boxoffice_shard_confirms_total Confirms.\n# TYPE boxoffice_shard_confirms_total counter\n")
	b.WriteString("boxoffice_shard_confirms_total{result=\"ok\"} 45\nboxoffice_shard_confirms_total{result=\"hold_expired\"} 5\n")
	b.WriteString("# HELP boxoffice_shard_request_duration_seconds Latency.\n# TYPE boxoffice_shard_request_duration_seconds histogram\n")
	buckets := []struct {
		le string
		n  int
	}{{"0.001", 50}, {"0.0025", 100}, {"0.1", 100}, {"0.25", 100}, {"+Inf", 100}}
	if image == slowImage {
		buckets = []struct {
			le string
			n  int
		}{{"0.001", 0}, {"0.0025", 0}, {"0.1", 0}, {"0.25", 100}, {"+Inf", 100}}
	}
	for _, bk := range buckets {
		fmt.Fprintf(&b, "boxoffice_shard_request_duration_seconds_bucket{route=\"hold\",le=%q} %d\n", bk.le, bk.n)
	}
	b.WriteString("boxoffice_shard_request_duration_seconds_sum{route=\"hold\"} 0.2\nboxoffice_shard_request_duration_seconds_count{route=\"hold\"} 100\n")
	b.WriteString("# HELP boxoffice_shard_recovery_duration_seconds Replay.\n# TYPE boxoffice_shard_recovery_duration_seconds gauge\nboxoffice_shard_recovery_duration_seconds 0.4\n")
	return b.String()
}

// world is a set of showtimes, their showtime reconciler, a stand-in for the
// StatefulSet controller and kubelet, fake shards, and the rollout reconciler,
// all on one fake clock.
type world struct {
	label     string
	ns        string
	names     []string
	ips       map[string]string
	clock     *clocktesting.FakeClock
	rec       *recorder
	farm      *shardFarm
	st        *ShowtimeReconciler
	ro        *ShardRolloutReconciler
	name      string
	restarted map[string]bool
	// frontends: tick also plays the Deployment controller for the front
	// ends (front-end targets); frontendPods: and their pods, which answer
	// front-end metrics.
	frontends, frontendPods bool
}

var worldSeq int

func newWorld(n int, mutate func(i int, st *boxv1.Showtime)) *world {
	worldSeq++
	w := &world{
		label: fmt.Sprintf("w%d", worldSeq),
		ns:    newNamespace(),
		clock: clocktesting.NewFakeClock(baseTime),
		rec:   &recorder{},
		ips:   map[string]string{},
	}
	var ips []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("show-%02d", i)
		w.names = append(w.names, name)
		ip := fmt.Sprintf("127.0.%d.%d", worldSeq%250+1, i+10)
		w.ips[name] = ip
		ips = append(ips, ip)
		st := newShowtime(w.ns, name, baseTime.Add(48*time.Hour), baseTime.Add(72*time.Hour))
		st.Labels = map[string]string{"rollout-test": w.label}
		if mutate != nil {
			mutate(i, st)
		}
		Expect(k8sClient.Create(ctx, st)).To(Succeed())
	}
	w.farm = newShardFarm(ips)
	w.st = &ShowtimeReconciler{
		Client: k8sClient, Scheme: scheme, Recorder: w.rec, Clock: w.clock,
		Options: specs.Options{
			DefaultImage: stableImage, OperatorNamespace: "boxoffice-system",
			OperatorPodLabels: map[string]string{"control-plane": "boxoffice-operator"}, MaxHoldTTL: 2 * time.Hour,
		},
		Shards: NewHTTPShardClient(w.farm.port), ScrapeInterval: 5 * time.Second,
	}
	w.ro = &ShardRolloutReconciler{
		Client: k8sClient, Recorder: w.rec, Clock: w.clock,
		Shards:       &HTTPShardProber{HTTP: NewHTTPShardClient(w.farm.port).HTTP, Port: w.farm.port, FrontendPort: w.farm.port},
		DefaultImage: stableImage,
	}
	// Provision: objects, then pods on the stable image.
	w.reconcileShowtimes()
	w.playStatefulSets()
	w.reconcileShowtimes()
	return w
}

func (w *world) reconcileShowtimes() {
	for _, n := range w.names {
		_, err := w.st.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: w.ns, Name: n}})
		Expect(err).NotTo(HaveOccurred())
	}
}

// reconcileChanged runs the showtime controller on the showtimes whose spec
// changed since it last did (what its watch would do), so the StatefulSets
// follow spec.shard.image.
func (w *world) reconcileChanged() {
	for _, n := range w.names {
		st := w.showtime(n)
		if st.Generation == st.Status.ObservedGeneration {
			continue
		}
		_, err := w.st.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: w.ns, Name: n}})
		Expect(err).NotTo(HaveOccurred())
	}
}

// playStatefulSets does what the StatefulSet controller and kubelet would,
// one transition per call and pod: a missing pod is created ready; a pod
// whose image differs from the template first goes not ready (SIGTERM: the
// shard stops taking writes), then on the next call is replaced by a pod on
// the new image that is ready (it replayed its log).
func (w *world) playStatefulSets() {
	for _, n := range w.names {
		sts := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: boxv1.NamedShowtime(w.ns, n).ShardName()}, sts)).To(Succeed())
		want := sts.Spec.Template.Spec.Containers[0].Image
		pod := &corev1.Pod{}
		err := k8sClient.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: boxv1.NamedShowtime(w.ns, n).ShardPodName(0)}, pod)
		switch {
		case apierrors.IsNotFound(err):
			w.createPod(n, sts, want)
		case err != nil:
			Expect(err).NotTo(HaveOccurred())
		case shardContainerImage(pod) != want:
			if isPodReady(pod) {
				w.setReady(pod, false)
				continue
			}
			Expect(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}))
			}).Should(BeTrue())
			w.createPod(n, sts, want)
		}
	}
}

// playDeployments does what the Deployment controller would: each front
// end is rolled out at once onto its template.
func (w *world) playDeployments() {
	for _, n := range w.names {
		dep := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: boxv1.NamedShowtime(w.ns, n).FrontendName()}, dep)).To(Succeed())
		want := int32(1)
		if dep.Spec.Replicas != nil {
			want = *dep.Spec.Replicas
		}
		st := appsv1.DeploymentStatus{
			ObservedGeneration: dep.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: want, AvailableReplicas: want,
		}
		if dep.Status.ObservedGeneration == st.ObservedGeneration && dep.Status.UpdatedReplicas == want && dep.Status.AvailableReplicas == want {
			continue
		}
		dep.Status = st
		Expect(k8sClient.Status().Update(ctx, dep)).To(Succeed())
	}
}

func (w *world) createPod(name string, sts *appsv1.StatefulSet, image string) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: boxv1.NamedShowtime(w.ns, name).ShardPodName(0), Namespace: w.ns, Labels: sts.Spec.Template.Labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "shard", Image: image}}},
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	w.farm.set(w.ips[name], w.ns+"/"+name, image)
	if image == missingImage {
		w.cannotPull(pod)
		return
	}
	w.setReady(pod, true)
}

// cannotPull reports the pod as the kubelet does when its image is not on
// the node: scheduled, not ready, its container waiting in ErrImageNeverPull.
func (w *world) cannotPull(pod *corev1.Pod) {
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
	pod.Status.Phase = corev1.PodPending
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(w.clock.Now())},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.NewTime(w.clock.Now())},
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "shard", Image: shardContainerImage(pod), State: corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: fmt.Sprintf("Container image %q is not present with pull policy of Never", shardContainerImage(pod))},
	}}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

func (w *world) setReady(pod *corev1.Pod, ready bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	name := pod.Labels[boxv1.LabelShowtime]
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = w.ips[name]
	pod.Status.PodIPs = []corev1.PodIP{{IP: w.ips[name]}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(w.clock.Now())}}
	restarts := int32(0)
	if w.restarted[name] {
		restarts = 3
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "shard", Image: shardContainerImage(pod), Ready: ready, RestartCount: restarts}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// freezeAll creates a one-off FreezeWindow over every showtime of this world,
// deleted when the spec ends.
func (w *world) freezeAll(name, reason string, start, end time.Time) {
	fw := &boxv1.FreezeWindow{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: boxv1.FreezeWindowSpec{
			Reason:           reason,
			OneOff:           &boxv1.OneOffPeriod{Start: metav1.NewTime(start), End: metav1.NewTime(end)},
			ShowtimeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rollout-test": w.label}},
		},
	}
	Expect(k8sClient.Create(ctx, fw)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, fw) })
}

func (w *world) create(name string, mutate func(*boxv1.ShardRollout)) {
	w.name = name
	ro := &boxv1.ShardRollout{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: boxv1.ShardRolloutSpec{
			Target: boxv1.RolloutTarget{ShardImage: goodImage},
			Scope: boxv1.RolloutScope{
				ShowtimeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rollout-test": w.label}},
			},
			Steps: []boxv1.RolloutStep{
				{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: time.Minute}},
				{Percent: ptr.To[int32](50), Bake: metav1.Duration{Duration: time.Minute}, ManualGate: true},
				{Percent: ptr.To[int32](100), Bake: metav1.Duration{Duration: time.Minute}},
			},
			MaxConcurrent: 2,
		},
	}
	if mutate != nil {
		mutate(ro)
	}
	Expect(k8sClient.Create(ctx, ro)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, ro) })
}

func (w *world) rollout() *boxv1.ShardRollout {
	ro := &boxv1.ShardRollout{}
	Expect(k8sClient.Get(ctx, types.NamespacedName{Name: w.name}, ro)).To(Succeed())
	return ro
}

func (w *world) showtime(name string) *boxv1.Showtime {
	st := &boxv1.Showtime{}
	Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: name}, st)).To(Succeed())
	return st
}

// tick is one round: the rollout acts, the showtime controller applies the
// spec to the StatefulSets, the StatefulSet stand-in moves pods. Then the
// clock moves: by one second while pods move, else to the moment the
// rollout asked to look again.
func (w *world) tick() *boxv1.ShardRollout {
	res, err := w.ro.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: w.name}})
	Expect(err).NotTo(HaveOccurred())
	w.reconcileChanged()
	w.playStatefulSets()
	if w.frontends {
		w.playDeployments()
	}
	if w.frontendPods {
		w.playFrontendPods()
	}
	ro := w.rollout()
	step := res.RequeueAfter
	for _, e := range ro.Status.Showtimes {
		if e.State == boxv1.ShowtimeUpgrading || e.State == boxv1.ShowtimeRollingBack {
			step = time.Second
		}
	}
	if step <= 0 {
		step = time.Second
	}
	w.clock.Step(step)
	return ro
}

// runUntil ticks until done says so; at most 400 ticks.
func (w *world) runUntil(what string, done func(*boxv1.ShardRollout) bool) *boxv1.ShardRollout {
	for i := 0; i < 400; i++ {
		ro := w.tick()
		if done(ro) {
			return ro
		}
	}
	ro := w.rollout()
	Fail(fmt.Sprintf("rollout never reached %q: phase %s (%s) %s", what, ro.Status.Phase, ro.Status.Reason, ro.Status.Message))
	return nil
}

func phaseIs(p boxv1.RolloutPhase) func(*boxv1.ShardRollout) bool {
	return func(ro *boxv1.ShardRollout) bool { return ro.Status.Phase == p }
}

func (w *world) shardImages() map[string]string {
	out := map[string]string{}
	for _, n := range w.names {
		out[n] = w.showtime(n).Spec.Shard.Image
	}
	return out
}

func countState(ro *boxv1.ShardRollout, s boxv1.ShowtimeRolloutState) int {
	n := 0
	for _, e := range ro.Status.Showtimes {
		if e.State == s {
			n++
		}
	}
	return n
}

var _ = Describe("ShardRollout", func() {
	It("promotes a healthy version step by step, waits at the manual gate, and is promoted through the plugin", func() {
		w := newWorld(10, nil)
		w.create("healthy-"+w.label, nil)

		ro := w.runUntil("step 1 baking", func(ro *boxv1.ShardRollout) bool { return ro.Status.BakeUntil != nil })
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutProgressing))
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(1))
		Expect(ro.Status.Total).To(BeEquivalentTo(10))
		Expect(ro.Status.Showtimes[0].Name).To(Equal("show-00"), "deterministic order")
		Expect(ro.Status.Showtimes[0].State).To(Equal(boxv1.ShowtimeBaking))
		Expect(countState(ro, boxv1.ShowtimePending)).To(Equal(9))
		Expect(w.showtime("show-00").Spec.Shard.Image).To(Equal(goodImage))
		Expect(w.showtime("show-00").Annotations).To(HaveKeyWithValue(boxv1.AnnotationPreviousShardImage, ""))
		Expect(w.showtime("show-01").Spec.Shard.Image).To(BeEmpty())
		Expect(meta.IsStatusConditionTrue(ro.Status.Conditions, boxv1.RolloutConditionProgressing)).To(BeTrue())

		// Write pause: from the old pod going not ready to the new one ready.
		e0 := ro.Status.Showtimes[0]
		Expect(e0.WritePause).NotTo(BeEmpty())
		pause, err := time.ParseDuration(e0.WritePause)
		Expect(err).NotTo(HaveOccurred())
		Expect(pause).To(Equal(time.Second), "one tick between not ready and ready")

		// The showtime shows its rollout, and the showtime controller keeps it.
		st := w.showtime("show-00")
		Expect(st.Status.Rollout).NotTo(BeNil())
		Expect(st.Status.Rollout.Name).To(Equal(w.name))
		Expect(st.Status.Rollout.State).To(Equal(boxv1.ShowtimeBaking))

		ro = w.runUntil("manual gate", func(ro *boxv1.ShardRollout) bool { return ro.Status.WaitingForPromotion })
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(2))
		Expect(ro.Status.Upgraded).To(BeEquivalentTo(5))
		Expect(countState(ro, boxv1.ShowtimePending)).To(Equal(5))
		for _, e := range ro.Status.Showtimes[:5] {
			Expect(e.Analysis).To(Equal(boxv1.AnalysisPassed), "%s: %s", e.Name, e.Message)
			Expect(e.Message).To(ContainSubstring("write errors 0/150"))
			Expect(e.Message).To(ContainSubstring("p99 hold"))
		}
		Expect(ro.Status.StableHoldP99).NotTo(BeEmpty())
		// Nothing moves at the gate, however long it waits.
		for i := 0; i < 5; i++ {
			w.clock.Step(10 * time.Minute)
			ro = w.tick()
		}
		Expect(ro.Status.Upgraded).To(BeEquivalentTo(5))

		// Approve the gate through the plugin.
		msg, err := plugin.Promote(ctx, k8sClient, w.name, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(msg).To(ContainSubstring("approved"))
		ro = w.runUntil("succeeded", phaseIs(boxv1.RolloutSucceeded))
		Expect(ro.Spec.Promote).To(BeFalse(), "spec.promote is consumed")
		Expect(ro.Status.Upgraded).To(BeEquivalentTo(10))
		for n, img := range w.shardImages() {
			Expect(img).To(Equal(goodImage), n)
		}
		_, err = plugin.Promote(ctx, k8sClient, w.name, false)
		Expect(plugin.CodeOf(err)).To(Equal(plugin.ExitFailure))
		Expect(w.rec.events()).To(ContainElement(ContainSubstring("WaitingForPromotion")))
		Expect(w.rec.events()).To(ContainElement(ContainSubstring("Succeeded")))
		Expect(w.showtime("show-09").Status.Rollout.Phase).To(Equal(boxv1.RolloutSucceeded))
	})

	It("rolls a version whose shards answer with server errors back by itself, within the target time", func() {
		w := newWorld(10, nil)
		w.create("errors-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Target.ShardImage = badImage
			ro.Spec.Steps = []boxv1.RolloutStep{
				{Count: ptr.To[int32](2), Bake: metav1.Duration{Duration: time.Minute}},
				{Percent: ptr.To[int32](100), Bake: metav1.Duration{Duration: time.Minute}},
			}
		})
		var rollingBackAt time.Time
		ro := w.runUntil("rolled back", func(ro *boxv1.ShardRollout) bool {
			if rollingBackAt.IsZero() && ro.Status.Phase == boxv1.RolloutRollingBack {
				rollingBackAt = w.clock.Now()
			}
			return ro.Status.Phase == boxv1.RolloutRolledBack
		})
		Expect(ro.Status.Reason).To(Equal("AnalysisFailed"))
		Expect(ro.Status.Message).To(ContainSubstring("write error ratio"))
		Expect(ro.Status.Message).To(ContainSubstring("40 server errors in 190 holds and confirms"))
		Expect(meta.IsStatusConditionFalse(ro.Status.Conditions, boxv1.RolloutConditionHealthy)).To(BeTrue())
		Expect(ro.Status.RolledBack).To(BeEquivalentTo(2))
		for n, img := range w.shardImages() {
			Expect(img).To(BeEmpty(), "%s back on the operator's image", n)
		}
		w.reconcileShowtimes()
		for _, n := range w.names[:2] {
			Expect(w.showtime(n).Annotations).NotTo(HaveKey(boxv1.AnnotationPreviousShardImage))
			Expect(w.showtime(n).Status.Rollout.State).To(Equal(boxv1.ShowtimeRolledBack))
			Expect(w.showtime(n).Status.Shard.Image).To(Equal(stableImage))
		}
		Expect(w.showtime("show-05").Status.Rollout).To(BeNil(), "never touched")
		Expect(w.rec.events()).To(ContainElement(And(HavePrefix("Warning RollingBack"), ContainSubstring("AnalysisFailed"))))

		detect := rollingBackAt.Sub(ro.Status.StartedAt.Time)
		done := ro.Status.CompletedAt.Sub(ro.Status.StartedAt.Time)
		AddReportEntry("rollback timing (fake clock, 1m bake)", fmt.Sprintf("first cohort start -> rollback started %s; -> every shard back and ready %s", detect, done))
		fmt.Fprintf(GinkgoWriter, "TIMING first cohort start -> rollback started: %s; -> rolled back and ready: %s\n", detect, done)
		Expect(done).To(BeNumerically("<", 2*time.Minute))
	})

	It("rolls back a version whose hold p99 is far above the stable shards', and one whose shard restarts", func() {
		w := newWorld(4, nil)
		w.create("slow-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Target.ShardImage = slowImage
			ro.Spec.Steps = []boxv1.RolloutStep{{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: time.Minute}}}
		})
		ro := w.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Message).To(ContainSubstring("p99 hold latency"))
		Expect(ro.Status.Message).To(ContainSubstring("stable p99"))

		w2 := newWorld(3, nil)
		w2.restarted = map[string]bool{"show-00": true}
		w2.create("restarts-"+w2.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Steps = []boxv1.RolloutStep{{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: time.Minute}}}
		})
		ro = w2.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Message).To(ContainSubstring("restarted 3 times"))
	})

	It("aborts through the plugin and undoes a finished rollout", func() {
		w := newWorld(4, nil)
		w.create("abort-"+w.label, nil)
		w.runUntil("step 1 baking", func(ro *boxv1.ShardRollout) bool { return ro.Status.BakeUntil != nil })
		msg, err := plugin.Abort(ctx, k8sClient, w.name)
		Expect(err).NotTo(HaveOccurred())
		Expect(msg).To(ContainSubstring("abort requested"))
		ro := w.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Reason).To(Equal("Aborted"))
		Expect(w.showtime("show-00").Spec.Shard.Image).To(BeEmpty())
		_, err = plugin.Abort(ctx, k8sClient, w.name)
		Expect(plugin.CodeOf(err)).To(Equal(plugin.ExitFailure))
		_, err = plugin.Abort(ctx, k8sClient, "no-such-rollout")
		Expect(plugin.CodeOf(err)).To(Equal(plugin.ExitNotFound))

		// promote --full, then undo.
		w2 := newWorld(4, nil)
		w2.create("full-"+w2.label, nil)
		w2.tick()
		_, err = plugin.Promote(ctx, k8sClient, w2.name, true)
		Expect(err).NotTo(HaveOccurred())
		ro = w2.runUntil("succeeded", phaseIs(boxv1.RolloutSucceeded))
		Expect(ro.Status.Upgraded).To(BeEquivalentTo(4))
		Expect(countState(ro, boxv1.ShowtimeUpgraded)).To(Equal(4))
		_, err = plugin.Abort(ctx, k8sClient, w2.name)
		Expect(err).To(MatchError(ContainSubstring("rollout undo")))
		_, err = plugin.Undo(ctx, k8sClient, w2.name)
		Expect(err).NotTo(HaveOccurred())
		ro = w2.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Reason).To(Equal("Undone"))
		for n, img := range w2.shardImages() {
			Expect(img).To(BeEmpty(), n)
		}
	})

	It("pauses promotion during a freeze window and goes on after it", func() {
		w := newWorld(3, nil)
		w.freezeAll("sale-day-"+w.label, "11.11 sale", baseTime.Add(-time.Hour), baseTime.Add(time.Hour))
		w.create("frozen-"+w.label, nil)
		ro := w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutPaused))
		Expect(ro.Status.Reason).To(Equal("Frozen"))
		Expect(ro.Status.Waiting).To(BeEquivalentTo(3))
		Expect(ro.Status.Showtimes[0].Message).To(ContainSubstring("11.11 sale"))
		Expect(meta.IsStatusConditionTrue(ro.Status.Conditions, boxv1.RolloutConditionFrozen)).To(BeTrue())
		Expect(w.showtime("show-00").Status.Rollout.State).To(Equal(boxv1.ShowtimeWaiting))
		for _, img := range w.shardImages() {
			Expect(img).To(BeEmpty())
		}
		out := &strings.Builder{}
		code := plugin.Main(ctx, []string{"rollout", "status", w.name, "--watch"}, &plugin.Env{
			Client: k8sClient, Streams: streams(out), Now: w.clock.Now,
		})
		Expect(code).To(Equal(plugin.ExitPaused), out.String())

		// The window ends at an exact moment the rollout asked to look again.
		ro = w.runUntil("step 1 baking", func(ro *boxv1.ShardRollout) bool { return ro.Status.BakeUntil != nil })
		Expect(w.clock.Now()).To(BeTemporally(">=", baseTime.Add(time.Hour)))
		Expect(w.clock.Now()).To(BeTemporally("<", baseTime.Add(time.Hour+30*time.Second)))
		Expect(w.showtime("show-00").Spec.Shard.Image).To(Equal(goodImage))
	})

	It("leaves showtimes in their on-sale peak waiting while the others move", func() {
		w := newWorld(5, func(i int, st *boxv1.Showtime) {
			if i == 0 || i == 3 {
				// On sale 10 minutes from now: inside the sale freeze.
				st.Spec.Sales.OpensAt = metav1.NewTime(baseTime.Add(10 * time.Minute))
			}
		})
		w.create("onsale-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Steps = []boxv1.RolloutStep{
				{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: time.Minute}},
				{Percent: ptr.To[int32](100), Bake: metav1.Duration{Duration: time.Minute}},
			}
		})
		ro := w.runUntil("waiting for the sale peaks", func(ro *boxv1.ShardRollout) bool {
			return ro.Status.Phase == boxv1.RolloutPaused && ro.Status.Upgraded == 3
		})
		Expect(ro.Status.Waiting).To(BeEquivalentTo(2))
		Expect(ro.Status.Showtimes[0].State).To(Equal(boxv1.ShowtimeWaiting))
		Expect(ro.Status.Showtimes[0].Message).To(ContainSubstring("sale freeze"))
		Expect(ro.Status.Showtimes[1].Step).To(BeEquivalentTo(1), "show-01 stood in for the waiting show-00")
		Expect(w.showtime("show-00").Spec.Shard.Image).To(BeEmpty())
		Expect(w.showtime("show-03").Spec.Shard.Image).To(BeEmpty())

		ro = w.runUntil("succeeded after the peak", phaseIs(boxv1.RolloutSucceeded))
		Expect(w.clock.Now()).To(BeTemporally(">=", baseTime.Add(10*time.Minute+2*time.Hour)))
		Expect(ro.Status.Upgraded).To(BeEquivalentTo(5))
	})

	It("refuses to start a target whose log format the stable shards cannot read, unless allowed", func() {
		w := newWorld(2, nil)
		w.create("logv2-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Target.ShardImage = format2Image
			ro.Spec.LogCompatibility.TargetLogFormat = 2
		})
		ro := w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutFailed))
		Expect(ro.Status.Reason).To(Equal("IncompatibleLogFormat"))
		Expect(ro.Status.Message).To(ContainSubstring("writes log format 2 but stable shards read only up to format 1"))
		Expect(ro.Status.Message).To(ContainSubstring("allowIncompatibleLogFormat"))
		Expect(w.shardImages()).To(HaveEach(BeEmpty()))
		out := &strings.Builder{}
		code := plugin.Main(ctx, []string{"rollout", "status", w.name}, &plugin.Env{Client: k8sClient, Streams: streams(out)})
		Expect(code).To(Equal(plugin.ExitRolledBack))

		w.create("logv2-allowed-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Target.ShardImage = format2Image
			ro.Spec.LogCompatibility = boxv1.LogCompatibility{TargetLogFormat: 2, AllowIncompatibleLogFormat: true}
		})
		ro = w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutProgressing))
		Expect(meta.FindStatusCondition(ro.Status.Conditions, boxv1.RolloutConditionLogCompatible).Reason).To(Equal("AllowedIncompatible"))
	})

	It("keeps status.rollout when the showtime controller writes the showtime's status", func() {
		w := newWorld(1, nil)
		stale := w.showtime("show-00")
		Expect(k8sClient.Status().Patch(ctx, stale.DeepCopy(), showtimeRolloutPatch(&boxv1.ShowtimeRolloutStatus{
			Name: "r1", Step: 1, State: boxv1.ShowtimeBaking, Phase: boxv1.RolloutProgressing,
		}))).To(Succeed())
		// The showtime controller changes the seat counts (a status write).
		w.clock.Step(time.Minute)
		w.reconcileShowtimes()
		st := w.showtime("show-00")
		Expect(st.Status.Rollout).NotTo(BeNil())
		Expect(st.Status.Rollout.Name).To(Equal("r1"))
		// And a status patch computed from a copy read before the rollout
		// wrote (what a slow reconcile does) leaves it alone too.
		before := stale.DeepCopy()
		stale.Status.Seats.Sold = 77
		Expect(k8sClient.Status().Patch(ctx, stale, client.MergeFrom(before))).To(Succeed())
		st = w.showtime("show-00")
		Expect(st.Status.Seats.Sold).To(BeEquivalentTo(77))
		Expect(st.Status.Rollout.Name).To(Equal("r1"))
	})

	It("validates the spec with messages that name the field", func() {
		bad := &boxv1.ShardRollout{
			ObjectMeta: metav1.ObjectMeta{Name: "invalid"},
			Spec:       boxv1.ShardRolloutSpec{Steps: []boxv1.RolloutStep{{Percent: ptr.To[int32](10), Count: ptr.To[int32](1)}}},
		}
		err := k8sClient.Create(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.target needs spec.target.shardImage"))
		Expect(err.Error()).To(ContainSubstring("spec.steps[]: set exactly one of percent and count"))
		bad.Spec = boxv1.ShardRolloutSpec{
			Target:   boxv1.RolloutTarget{ShardImage: goodImage},
			Steps:    []boxv1.RolloutStep{{Count: ptr.To[int32](1)}},
			Analysis: boxv1.RolloutAnalysis{MaxWriteErrorRatio: "5%"},
		}
		err = k8sClient.Create(ctx, bad)
		Expect(err).To(MatchError(ContainSubstring("spec.analysis.maxWriteErrorRatio must be a decimal between 0 and 1")))
	})
})

var _ = Describe("shard metrics analysis", func() {
	It("counts server errors apart from business answers and reads the hold p99", func() {
		m, err := ParseShardMetrics([]byte(fakeMetrics(badImage)))
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Writes).To(BeEquivalentTo(190))
		Expect(m.ServerErrors).To(BeEquivalentTo(40))
		Expect(m.HoldCount).To(BeEquivalentTo(100))
		Expect(m.HoldP99).To(BeNumerically("~", 2470*time.Microsecond, 10*time.Microsecond))
		slow, err := ParseShardMetrics([]byte(fakeMetrics(slowImage)))
		Expect(err).NotTo(HaveOccurred())
		Expect(slow.HoldP99).To(BeNumerically("~", 248500*time.Microsecond, 100*time.Microsecond))
		Expect(slow.RecoverySeconds).To(BeEquivalentTo(0.4))
	})
})

func streams(out *strings.Builder) genericiooptions.IOStreams {
	return genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: out}
}

// fakePrometheus answers /api/v1/query with what answer says for the query,
// and keeps the queries it was asked.
type fakePrometheus struct {
	srv     *httptest.Server
	mu      sync.Mutex
	queries []string
	answer  func(query string) (int, string)
}

func newFakePrometheus(answer func(query string) (int, string)) *fakePrometheus {
	p := &fakePrometheus{answer: answer}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query().Get("query")
		p.mu.Lock()
		p.queries = append(p.queries, q)
		answer := p.answer
		p.mu.Unlock()
		code, body := answer(q)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	DeferCleanup(p.srv.Close)
	return p
}

func (p *fakePrometheus) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

// Answers as Prometheus's HTTP API gives them.
func promVector(v string) (int, string) {
	return http.StatusOK, fmt.Sprintf(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"showtime":"x"},"value":[1764036000.123,%q]}]}}`, v)
}

func promScalar(v string) (int, string) {
	return http.StatusOK, fmt.Sprintf(`{"status":"success","data":{"resultType":"scalar","result":[1764036000.123,%q]}}`, v)
}

func promError(msg string) (int, string) {
	return http.StatusBadRequest, fmt.Sprintf(`{"status":"error","errorType":"bad_data","error":%q}`, msg)
}

const promQuery = `sum(rate(boxoffice_frontend_errors_total{namespace="$namespace",showtime="$showtime"}[1m]))`

func withPrometheus(url string) func(*boxv1.ShardRollout) {
	return func(ro *boxv1.ShardRollout) {
		ro.Spec.Steps = []boxv1.RolloutStep{{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: time.Minute}}}
		ro.Spec.Analysis.Prometheus = &boxv1.PrometheusCheck{URL: url, Query: promQuery, Threshold: "0.5"}
	}
}

func setSpec(name, patch string) {
	ro := &boxv1.ShardRollout{ObjectMeta: metav1.ObjectMeta{Name: name}}
	Expect(k8sClient.Patch(ctx, ro, client.RawPatch(types.MergePatchType, []byte(`{"spec":`+patch+`}`)))).To(Succeed())
}

var _ = Describe("ShardRollout rollback", func() {
	It("stays RollingBack while a restore is rejected, retries it, and is RolledBack only once every showtime is back", func() {
		w := newWorld(4, nil)
		// The API server rejects restores (a patch that moves a showtime
		// off the target) while reject says so: show-00 until told
		// otherwise, show-01 once.
		var mu sync.Mutex
		reject := map[string]int{"show-00": 1 << 30, "show-01": 1}
		rejected := map[string]int{}
		wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		w.ro.Client = interceptor.NewClient(wc, interceptor.Funcs{
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				if st, ok := obj.(*boxv1.Showtime); ok && st.Namespace == w.ns && st.Spec.Shard.Image != badImage {
					mu.Lock()
					defer mu.Unlock()
					if reject[st.Name] > 0 {
						reject[st.Name]--
						rejected[st.Name]++
						return apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
					}
				}
				return c.Patch(ctx, obj, patch, opts...)
			},
		})
		rejections := func(name string) int {
			mu.Lock()
			defer mu.Unlock()
			return rejected[name]
		}
		w.create("restore-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Target.ShardImage = badImage
			ro.Spec.Steps = []boxv1.RolloutStep{{Count: ptr.To[int32](2), Bake: metav1.Duration{Duration: time.Minute}}}
		})

		// Every restore of the first attempt fails: still RollingBack.
		ro := w.runUntil("rolling back", phaseIs(boxv1.RolloutRollingBack))
		Expect(ro.Status.Reason).To(Equal("AnalysisFailed"))
		Expect(rejections("show-00")).To(Equal(1))
		Expect(rejections("show-01")).To(Equal(1))
		for _, e := range ro.Status.Showtimes[:2] {
			Expect(e.State).To(BeElementOf(boxv1.ShowtimeUpgrading, boxv1.ShowtimeBaking, boxv1.ShowtimeUpgraded), e.Name)
			Expect(e.Message).To(HavePrefix("rollback failed, retrying: "), e.Name)
			Expect(e.Message).To(ContainSubstring("etcdserver: request timed out"))
		}
		Expect(w.showtime("show-00").Spec.Shard.Image).To(Equal(badImage))
		Expect(w.showtime("show-01").Spec.Shard.Image).To(Equal(badImage))
		Expect(ro.Status.CompletedAt).To(BeNil())
		Expect(w.rec.events()).To(ContainElement(HavePrefix("Warning RollbackFailed")))

		// The next reconciles retry: show-01 goes through and is back, show-00
		// is still rejected, so the rollout stays RollingBack.
		ro = w.runUntil("show-01 rolled back", func(ro *boxv1.ShardRollout) bool {
			return ro.Status.Showtimes[1].State == boxv1.ShowtimeRolledBack
		})
		for i := 0; i < 5; i++ {
			ro = w.tick()
		}
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutRollingBack))
		Expect(ro.Status.RolledBack).To(BeEquivalentTo(1))
		Expect(ro.Status.Showtimes[0].Message).To(HavePrefix("rollback failed, retrying"))
		Expect(rejections("show-00")).To(BeNumerically(">", 3), "retried at each reconcile")
		Expect(w.showtime("show-00").Spec.Shard.Image).To(Equal(badImage))
		Expect(w.showtime("show-01").Spec.Shard.Image).To(BeEmpty())
		Expect(w.showtime("show-00").Status.Rollout.Phase).To(Equal(boxv1.RolloutRollingBack))
		out := &strings.Builder{}
		code := plugin.Main(ctx, []string{"rollout", "status", w.name}, &plugin.Env{Client: k8sClient, Streams: streams(out)})
		Expect(code).To(Equal(plugin.ExitRolledBack), out.String())

		// The API server takes it again: the rollback completes.
		mu.Lock()
		reject["show-00"] = 0
		mu.Unlock()
		ro = w.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.RolledBack).To(BeEquivalentTo(2))
		Expect(ro.Status.CompletedAt).NotTo(BeNil())
		Expect(w.shardImages()).To(HaveEach(BeEmpty()))
		Expect(w.rec.events()).To(ContainElement(And(HavePrefix("Warning RolledBack"), ContainSubstring("every moved showtime is back"))))
	})

	It("rolls back while a freeze window is in force on the showtimes it moved", func() {
		w := newWorld(4, nil)
		w.create("freeze-rollback-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Steps = []boxv1.RolloutStep{
				{Count: ptr.To[int32](2), Bake: metav1.Duration{Duration: 5 * time.Minute}},
				{Percent: ptr.To[int32](100), Bake: metav1.Duration{Duration: time.Minute}},
			}
		})
		ro := w.runUntil("step 1 baking", func(ro *boxv1.ShardRollout) bool { return ro.Status.BakeUntil != nil })
		Expect(countState(ro, boxv1.ShowtimeBaking)).To(Equal(2))
		Expect(w.showtime("show-00").Spec.Shard.Image).To(Equal(goodImage))

		// A freeze starts over every showtime of the rollout while it bakes.
		start := w.clock.Now()
		w.freezeAll("incident-"+w.label, "incident freeze", start.Add(-time.Minute), start.Add(time.Hour))
		ro = w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutProgressing))

		// Then the new version's shard on show-00 starts answering with
		// server errors.
		w.farm.set(w.ips["show-00"], w.ns+"/show-00", badImage)
		ro = w.runUntil("rolled back", func(ro *boxv1.ShardRollout) bool {
			if ro.Status.Phase == boxv1.RolloutRollingBack {
				hits, err := freeze.BlockingShowtime(ctx, k8sClient, w.showtime("show-00"), w.clock.Now())
				Expect(err).NotTo(HaveOccurred())
				Expect(hits).NotTo(BeEmpty(), "the freeze is in force while the rollout rolls back")
			}
			return ro.Status.Phase == boxv1.RolloutRolledBack
		})
		Expect(w.clock.Now()).To(BeTemporally("<", start.Add(time.Hour)), "rolled back inside the freeze")
		Expect(ro.Status.Reason).To(Equal("AnalysisFailed"))
		Expect(ro.Status.Message).To(ContainSubstring("show-00: write error ratio"))
		Expect(ro.Status.RolledBack).To(BeEquivalentTo(2))
		Expect(w.shardImages()).To(HaveEach(BeEmpty()))
		Expect(meta.FindStatusCondition(ro.Status.Conditions, boxv1.RolloutConditionFrozen)).To(BeNil())
	})
})

var _ = Describe("ShardRollout pause", func() {
	It("stops at spec.paused with analysis going on, and goes on when resumed", func() {
		w := newWorld(4, nil)
		w.create("paused-"+w.label, nil)
		ro := w.runUntil("step 1 baking", func(ro *boxv1.ShardRollout) bool { return ro.Status.BakeUntil != nil })
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(1))

		setSpec(w.name, `{"paused":true}`)
		ro = w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutPaused))
		Expect(ro.Status.Reason).To(Equal("PausedByUser"))
		c := meta.FindStatusCondition(ro.Status.Conditions, boxv1.RolloutConditionProgressing)
		Expect(c).NotTo(BeNil())
		Expect(c.Status).To(Equal(metav1.ConditionFalse))
		Expect(c.Reason).To(Equal("Paused"))
		Expect(c.Message).To(ContainSubstring("spec.paused"))

		// Long past the bake: no step change, nothing new moves, but the
		// baking shard is still analysed.
		analyzed := ro.Status.Showtimes[0].AnalyzedAt.Time
		for i := 0; i < 5; i++ {
			w.clock.Step(time.Minute)
			ro = w.tick()
		}
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutPaused))
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(1))
		Expect(ro.Status.Showtimes[0].State).To(Equal(boxv1.ShowtimeBaking))
		Expect(ro.Status.Showtimes[0].AnalyzedAt.Time).To(BeTemporally(">", analyzed))
		Expect(countState(ro, boxv1.ShowtimePending)).To(Equal(3))
		Expect(w.showtime("show-01").Spec.Shard.Image).To(BeEmpty())
		out := &strings.Builder{}
		code := plugin.Main(ctx, []string{"rollout", "status", w.name, "--watch"}, &plugin.Env{Client: k8sClient, Streams: streams(out), Now: w.clock.Now})
		Expect(code).To(Equal(plugin.ExitPaused), out.String())

		setSpec(w.name, `{"paused":false}`)
		ro = w.tick()
		Expect(ro.Status.Phase).NotTo(Equal(boxv1.RolloutPaused))
		Expect(meta.IsStatusConditionTrue(ro.Status.Conditions, boxv1.RolloutConditionProgressing)).To(BeTrue())
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(2), "the bake was over: the next step starts at once")
		ro = w.runUntil("manual gate", func(ro *boxv1.ShardRollout) bool { return ro.Status.WaitingForPromotion })
		Expect(ro.Status.Upgraded).To(BeEquivalentTo(2))
		Expect(w.showtime("show-01").Spec.Shard.Image).To(Equal(goodImage))
	})
})

var _ = Describe("ShardRollout Prometheus check", func() {
	It("passes a value under the threshold", func() {
		w := newWorld(3, nil)
		prom := newFakePrometheus(func(q string) (int, string) { return promVector("0.1") })
		w.ro.Prometheus = HTTPPrometheus{}
		// One declared step over 3 showtimes: an implicit last step moves the rest.
		w.create("prom-ok-"+w.label, withPrometheus(prom.srv.URL))
		ro := w.runUntil("succeeded", phaseIs(boxv1.RolloutSucceeded))
		Expect(ro.Status.Steps).To(BeEquivalentTo(2), "the implicit last step counts")
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(2))
		for _, e := range ro.Status.Showtimes {
			Expect(e.Analysis).To(Equal(boxv1.AnalysisPassed), "%s: %s", e.Name, e.Message)
			Expect(e.Message).To(ContainSubstring("prometheus 0.1 <= 0.5"))
		}
		Expect(prom.seen()).To(ContainElement(fmt.Sprintf(`sum(rate(boxoffice_frontend_errors_total{namespace=%q,showtime="show-00"}[1m]))`, w.ns)))
		out := &strings.Builder{}
		code := plugin.Main(ctx, []string{"rollout", "status", w.name}, &plugin.Env{Client: k8sClient, Streams: streams(out)})
		Expect(code).To(Equal(plugin.ExitOK), out.String())
		Expect(out.String()).To(ContainSubstring("2 of 2"))
	})

	It("rolls back a shard target whose query value is over the threshold", func() {
		w := newWorld(3, nil)
		prom := newFakePrometheus(func(string) (int, string) { return promVector("0.9") })
		w.ro.Prometheus = HTTPPrometheus{}
		w.create("prom-bad-"+w.label, withPrometheus(prom.srv.URL))
		ro := w.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Reason).To(Equal("AnalysisFailed"))
		Expect(ro.Status.Message).To(ContainSubstring("show-00: prometheus query value 0.9 above threshold 0.5"))
		Expect(ro.Status.Showtimes[0].Analysis).To(Equal(boxv1.AnalysisFailed))
		Expect(w.shardImages()).To(HaveEach(BeEmpty()))
	})

	It("runs the check for a front-end-only target too", func() {
		const feImage = "registry.example/boxoffice-frontend:v2.1.0"
		w := newWorld(2, nil)
		w.frontends = true
		w.playDeployments()
		prom := newFakePrometheus(func(string) (int, string) { return promVector("3") })
		w.ro.Prometheus = HTTPPrometheus{}
		w.create("prom-fe-"+w.label, func(ro *boxv1.ShardRollout) {
			withPrometheus(prom.srv.URL)(ro)
			ro.Spec.Target = boxv1.RolloutTarget{FrontendImage: feImage}
		})
		ro := w.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Message).To(ContainSubstring("show-00: prometheus query value 3 above threshold 0.5"))
		Expect(prom.seen()).NotTo(BeEmpty())
		Expect(w.showtime("show-00").Spec.Frontend.Image).To(BeEmpty())
		Expect(w.showtime("show-01").Spec.Frontend.Image).To(BeEmpty())
	})
})

var _ = Describe("HTTPPrometheus", func() {
	query := func(code int, body string) (float64, error) {
		var got string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.URL.Path + "?" + r.URL.Query().Get("query")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		defer srv.Close()
		v, err := HTTPPrometheus{}.Query(ctx, srv.URL+"/", `up{job="shard"}`)
		Expect(got).To(Equal(`/api/v1/query?up{job="shard"}`))
		return v, err
	}

	It("reads the first sample of a vector", func() {
		code, body := promVector("0.25")
		Expect(query(code, body)).To(BeEquivalentTo(0.25))
		v, err := query(http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[
			{"metric":{"a":"1"},"value":[1,"7"]},{"metric":{"a":"2"},"value":[1,"9"]}]}}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(BeEquivalentTo(7))
	})

	It("reads a scalar", func() {
		code, body := promScalar("42")
		Expect(query(code, body)).To(BeEquivalentTo(42))
	})

	It("reports an error answer, an empty vector and an answer that is not the API's", func() {
		_, err := query(promError("parse error: unexpected end of input"))
		Expect(err).To(MatchError("query failed: parse error: unexpected end of input"))
		_, err = query(http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		Expect(err).To(MatchError("the query returned no sample"))
		_, err = query(http.StatusOK, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
		Expect(err).To(MatchError(ContainSubstring(`unsupported result type "matrix"`)))
		_, err = query(http.StatusBadGateway, `<html>bad gateway</html>`)
		Expect(err).To(MatchError(ContainSubstring("decoding the answer")))
	})
})
