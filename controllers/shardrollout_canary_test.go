package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	"boxoffice.dev/boxoffice/internal/plugin"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// Front-end images the fake front ends know.
const (
	feGoodImage  = "registry.example/boxoffice-frontend:v2.1.0"
	feBadImage   = "registry.example/boxoffice-frontend:v2.1.0-errors"
	feQuietImage = "registry.example/boxoffice-frontend:v2.1.0-quiet"
)

// fakeFrontendMetrics is a front end's exposition: 451 buyer requests with
// one 502, 4 shard retries and ~4ms p99 shard latency; the errors image
// answers 120 of 420 with a 500; the quiet one answered 5 requests.
func fakeFrontendMetrics(image string) string {
	var b strings.Builder
	b.WriteString("# TYPE boxoffice_frontend_requests_total counter\n")
	switch image {
	case feQuietImage:
		b.WriteString("boxoffice_frontend_requests_total{route=\"hold\",result=\"200\"} 5\n")
		return b.String()
	case feBadImage:
		b.WriteString("boxoffice_frontend_requests_total{route=\"hold\",result=\"200\"} 300\n")
		b.WriteString("boxoffice_frontend_requests_total{route=\"hold\",result=\"500\"} 120\n")
	default:
		b.WriteString("boxoffice_frontend_requests_total{route=\"hold\",result=\"200\"} 400\n")
		b.WriteString("boxoffice_frontend_requests_total{route=\"hold\",result=\"409\"} 50\n")
		b.WriteString("boxoffice_frontend_requests_total{route=\"hold\",result=\"502\"} 1\n")
	}
	b.WriteString("# TYPE boxoffice_frontend_upstream_retries_total counter\nboxoffice_frontend_upstream_retries_total{op=\"hold\"} 4\n")
	b.WriteString("# TYPE boxoffice_frontend_upstream_request_duration_seconds histogram\n")
	for _, bk := range []struct {
		le string
		n  int
	}{{"0.001", 100}, {"0.005", 400}, {"0.025", 400}, {"+Inf", 400}} {
		fmt.Fprintf(&b, "boxoffice_frontend_upstream_request_duration_seconds_bucket{op=\"hold\",status=\"200\",le=%q} %d\n", bk.le, bk.n)
	}
	b.WriteString("boxoffice_frontend_upstream_request_duration_seconds_sum{op=\"hold\",status=\"200\"} 1\n")
	b.WriteString("boxoffice_frontend_upstream_request_duration_seconds_count{op=\"hold\",status=\"200\"} 400\n")
	return b.String()
}

// newFrontendWorld is a world of n showtimes whose front ends run: their
// Deployments and pods play along.
func newFrontendWorld(n int) *world {
	w := newWorld(n, nil)
	w.frontends, w.frontendPods = true, true
	w.playDeployments()
	w.playFrontendPods()
	return w
}

// playFrontendPods keeps one front-end pod per showtime on its Deployment's
// template image, ready, at its own loopback address, answering front-end
// metrics through the farm.
func (w *world) playFrontendPods() {
	for i, n := range w.names {
		dep := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: w.ns, Name: boxv1.NamedShowtime(w.ns, n).FrontendName()}, dep)).To(Succeed())
		want := dep.Spec.Template.Spec.Containers[0].Image
		ip := fmt.Sprintf("127.0.%d.%d", worldSeq%250+1, i+100)
		key := types.NamespacedName{Namespace: w.ns, Name: boxv1.NamedShowtime(w.ns, n).FrontendName() + "-0"}
		pod := &corev1.Pod{}
		err := k8sClient.Get(ctx, key, pod)
		if err == nil && containerImage(pod, "frontend") == want {
			continue
		}
		if err == nil {
			Expect(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
			Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, key, &corev1.Pod{})) }).Should(BeTrue())
		} else {
			Expect(apierrors.IsNotFound(err)).To(BeTrue())
			w.farm.mu.Lock()
			_, listening := w.farm.frontends[ip]
			w.farm.frontends[ip] = true
			w.farm.mu.Unlock()
			if !listening {
				w.farm.listen(ip)
			}
		}
		pod = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: w.ns, Labels: dep.Spec.Template.Labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "frontend", Image: want}}},
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		w.farm.set(ip, w.ns+"/"+n, want)
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(w.clock.Now())}}}
		Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
	}
}

func oneCanaryStep(ro *boxv1.ShardRollout) {
	ro.Spec.Steps = []boxv1.RolloutStep{{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: time.Minute}}}
}

func countEvents(events []string, substr string) int {
	n := 0
	for _, e := range events {
		if strings.Contains(e, substr) {
			n++
		}
	}
	return n
}

var _ = Describe("ShardRollout evidence", func() {
	It("pauses on a canary that saw fewer writes than the minimum, and goes on when on-call retries or promotes", func() {
		w := newWorld(3, nil)
		w.create("quiet-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Target.ShardImage = quietImage
			oneCanaryStep(ro)
		})
		ro := w.runUntil("paused", phaseIs(boxv1.RolloutPaused))
		Expect(ro.Status.Reason).To(Equal(boxv1.RolloutReasonInconclusive))
		Expect(ro.Status.Message).To(ContainSubstring("3 writes, fewer than the 10 needed to judge the error ratio"))
		Expect(ro.Status.Message).To(ContainSubstring("kubectl boxoffice rollout promote " + w.name))
		c := meta.FindStatusCondition(ro.Status.Conditions, boxv1.RolloutConditionInconclusive)
		Expect(c).NotTo(BeNil())
		Expect(c.Status).To(Equal(metav1.ConditionTrue))
		Expect(c.Reason).To(Equal("TooFewWrites"))
		Expect(ro.Status.Showtimes[0].State).To(Equal(boxv1.ShowtimeBaking))
		Expect(ro.Status.Showtimes[0].Analysis).To(Equal(boxv1.AnalysisInconclusive))
		Expect(ro.Status.Upgraded).To(BeZero())
		Expect(w.showtime("show-01").Spec.Shard.Image).To(BeEmpty(), "nothing moves on no evidence")
		Expect(w.rec.events()).To(ContainElement(And(HavePrefix("Warning AnalysisInconclusive"), ContainSubstring("3 writes"))))

		// It stays paused, analysis going on, with one event, not one per look.
		for i := 0; i < 3; i++ {
			w.clock.Step(time.Minute)
			ro = w.tick()
		}
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutPaused))
		Expect(countEvents(w.rec.events(), "Warning AnalysisInconclusive")).To(Equal(1))
		out := &strings.Builder{}
		code := plugin.Main(ctx, []string{"rollout", "status", w.name, "--watch"}, &plugin.Env{Client: k8sClient, Streams: streams(out), Now: w.clock.Now})
		Expect(code).To(Equal(plugin.ExitPaused), out.String())

		// Retry: another 2 minutes of bake, then judged again (still quiet).
		_, err := plugin.Retry(ctx, k8sClient, w.name, 2*time.Minute)
		Expect(err).NotTo(HaveOccurred())
		retriedAt := w.clock.Now()
		ro = w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutProgressing))
		Expect(ro.Status.BakeUntil.Time).To(BeTemporally("==", retriedAt.Add(2*time.Minute)))
		Expect(ro.Spec.Retry).To(BeFalse(), "spec.retry is consumed")
		Expect(ro.Spec.RetryBake).To(BeNil())
		Expect(meta.IsStatusConditionFalse(ro.Status.Conditions, boxv1.RolloutConditionInconclusive)).To(BeTrue())
		Expect(w.rec.events()).To(ContainElement(ContainSubstring("BakeExtended")))
		ro = w.runUntil("paused again", phaseIs(boxv1.RolloutPaused))
		Expect(w.clock.Now()).To(BeTemporally(">=", retriedAt.Add(2*time.Minute)))

		// Promote by hand: the canary is promoted and the rest moves (just
		// as quiet: the rollout pauses again at step 2, and is promoted again).
		msg, err := plugin.Promote(ctx, k8sClient, w.name, false)
		Expect(err).NotTo(HaveOccurred())
		Expect(msg).To(ContainSubstring("promoted by hand"))
		ro = w.runUntil("paused at step 2", func(ro *boxv1.ShardRollout) bool {
			return ro.Status.CurrentStep == 2 && ro.Status.Phase == boxv1.RolloutPaused
		})
		Expect(ro.Status.Upgraded).To(BeEquivalentTo(1))
		Expect(w.showtime("show-02").Spec.Shard.Image).To(Equal(quietImage))
		Expect(countEvents(w.rec.events(), "Warning AnalysisInconclusive")).To(Equal(3), "step 1, after the retry, step 2")
		_, err = plugin.Promote(ctx, k8sClient, w.name, false)
		Expect(err).NotTo(HaveOccurred())
		ro = w.runUntil("succeeded", phaseIs(boxv1.RolloutSucceeded))
		Expect(ro.Status.Showtimes[0].Analysis).To(Equal(boxv1.AnalysisPromotedByHand))
		Expect(ro.Status.Showtimes[0].Message).To(HavePrefix("promoted by hand after an inconclusive analysis"))
		Expect(meta.FindStatusCondition(ro.Status.Conditions, boxv1.RolloutConditionHealthy).Reason).To(Equal("PromotedByHand"))
		Expect(ro.Spec.Promote).To(BeFalse())
	})

	It("pauses when the Prometheus query cannot run instead of passing", func() {
		w := newWorld(1, nil)
		prom := newFakePrometheus(func(string) (int, string) { return promError("1:5: parse error: unexpected identifier") })
		w.ro.Prometheus = HTTPPrometheus{}
		w.create("prom-down-"+w.label, withPrometheus(prom.srv.URL))
		ro := w.runUntil("paused", phaseIs(boxv1.RolloutPaused))
		Expect(ro.Status.Reason).To(Equal(boxv1.RolloutReasonInconclusive))
		Expect(ro.Status.Showtimes[0].Analysis).To(Equal(boxv1.AnalysisInconclusive))
		Expect(ro.Status.Showtimes[0].Message).To(ContainSubstring("prometheus check not run: query failed: 1:5: parse error"))
		Expect(meta.FindStatusCondition(ro.Status.Conditions, boxv1.RolloutConditionInconclusive).Reason).To(Equal("PrometheusUnavailable"))
		Expect(w.rec.events()).To(ContainElement(And(HavePrefix("Warning AnalysisInconclusive"), ContainSubstring("prometheus check not run"))))
		Expect(ro.Status.Upgraded).To(BeZero())
	})

	It("moves the showtimes with the most writes first", func() {
		w := newWorld(4, nil)
		busy := func(holds int) string {
			return fmt.Sprintf("# TYPE boxoffice_shard_holds_total counter\nboxoffice_shard_holds_total{result=\"ok\"} %d\n", holds) +
				"# TYPE boxoffice_shard_confirms_total counter\nboxoffice_shard_confirms_total{result=\"ok\"} 50\n"
		}
		w.farm.setMetrics(w.ips["show-02"], busy(6000))
		w.farm.setMetrics(w.ips["show-03"], busy(900))
		w.farm.setMetrics(w.ips["show-00"], busy(0))
		w.clock.Step(time.Minute) // the shards have run a minute
		w.create("traffic-"+w.label, oneCanaryStep)
		ro := w.tick()
		names := []string{}
		for _, e := range ro.Status.Showtimes {
			names = append(names, e.Name)
		}
		Expect(names).To(Equal([]string{"show-02", "show-03", "show-01", "show-00"}), "busiest first; show-00 took no holds")
		Expect(ro.Status.Showtimes[0].WritesPerSecond).To(Equal("100.8/s"), "(6000 holds + 50 confirms) / 60 s")
		Expect(ro.Status.Showtimes[3].WritesPerSecond).To(Equal("0.83/s"), "50 confirms / 60 s")
		Expect(ro.Status.Showtimes[0].State).To(Equal(boxv1.ShowtimeUpgrading))
		Expect(w.showtime("show-02").Spec.Shard.Image).To(Equal(goodImage))
		Expect(w.showtime("show-00").Spec.Shard.Image).To(BeEmpty())
	})

	It("judges a front-end canary on its own answers against the stable front ends, and pauses on too few requests", func() {
		w := newFrontendWorld(3)
		w.create("fe-errors-"+w.label, func(ro *boxv1.ShardRollout) {
			oneCanaryStep(ro)
			ro.Spec.Target = boxv1.RolloutTarget{FrontendImage: feBadImage}
		})
		ro := w.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Reason).To(Equal("AnalysisFailed"))
		Expect(ro.Status.Message).To(ContainSubstring("show-00: front-end answer error ratio 0.286 (120 5xx in 420 requests) above 0.01 (stable 0.002)"))
		Expect(w.showtime("show-00").Spec.Frontend.Image).To(BeEmpty())

		w2 := newFrontendWorld(2)
		w2.create("fe-good-"+w2.label, func(ro *boxv1.ShardRollout) {
			oneCanaryStep(ro)
			ro.Spec.Target = boxv1.RolloutTarget{FrontendImage: feGoodImage}
		})
		ro = w2.runUntil("step 2", func(ro *boxv1.ShardRollout) bool { return ro.Status.CurrentStep == 2 })
		Expect(ro.Status.Showtimes[0].Analysis).To(Equal(boxv1.AnalysisPassed))
		Expect(ro.Status.Showtimes[0].Message).To(ContainSubstring("front-end 5xx 1/451; front-end retries 4; front-end p99 4.95ms (stable 4.95ms)"))

		w3 := newFrontendWorld(2)
		w3.create("fe-quiet-"+w3.label, func(ro *boxv1.ShardRollout) {
			oneCanaryStep(ro)
			ro.Spec.Target = boxv1.RolloutTarget{FrontendImage: feQuietImage}
		})
		ro = w3.runUntil("paused", phaseIs(boxv1.RolloutPaused))
		Expect(ro.Status.Reason).To(Equal(boxv1.RolloutReasonInconclusive))
		Expect(ro.Status.Message).To(ContainSubstring("front end answered 5 buyer requests, fewer than the 20 needed to judge it"))
	})
})

var _ = Describe("ShardRollout messages", func() {
	It("reports a new shard pod whose image is not present as what it is, and rolls it back", func() {
		w := newWorld(1, nil)
		w.create("missing-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Target.ShardImage = missingImage
			oneCanaryStep(ro)
			ro.Spec.Analysis.ReadyDeadline = metav1.Duration{Duration: 20 * time.Second}
		})
		ro := w.runUntil("pod cannot start", func(ro *boxv1.ShardRollout) bool {
			return strings.Contains(ro.Status.Showtimes[0].Message, "cannot start")
		})
		Expect(ro.Status.Showtimes[0].Message).To(Equal(`new shard pod cannot start: container shard: ErrImageNeverPull: Container image "` + missingImage + `" is not present with pull policy of Never`))
		Expect(ro.Status.Showtimes[0].Message).NotTo(ContainSubstring("replaying"))
		Expect(w.rec.events()).To(ContainElement(And(HavePrefix("Warning PodNotStarting"), ContainSubstring("ErrImageNeverPull"))))
		Expect(w.rec.events()).To(ContainElement(And(HavePrefix("Warning RolloutPodNotStarting show-00"), ContainSubstring("ErrImageNeverPull"))))
		ro = w.runUntil("rolled back", phaseIs(boxv1.RolloutRolledBack))
		Expect(ro.Status.Message).To(ContainSubstring("not ready on the target within 20s (new shard pod cannot start: container shard: ErrImageNeverPull"))
		Expect(countEvents(w.rec.events(), "Warning PodNotStarting")).To(Equal(1), "one event, not one per look")
	})

	It("records no event of a reconcile whose status was computed from a stale copy", func() {
		w := newWorld(2, func(i int, st *boxv1.Showtime) {
			if i == 0 {
				// On sale 10 minutes from now: inside its sale freeze.
				st.Spec.Sales.OpensAt = metav1.NewTime(baseTime.Add(10 * time.Minute))
			}
		})
		w.create("stale-"+w.label, func(ro *boxv1.ShardRollout) {
			ro.Spec.Steps = []boxv1.RolloutStep{
				{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: time.Minute}},
				{Percent: ptr.To[int32](100), Bake: metav1.Duration{Duration: time.Minute}},
			}
		})
		stale := w.rollout()
		ro := w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutProgressing))
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(1))
		Expect(ro.Status.Showtimes[0].State).To(Equal(boxv1.ShowtimeWaiting))
		Expect(ro.Status.Showtimes[1].State).To(Equal(boxv1.ShowtimeUpgrading))
		before := w.rec.events()
		Expect(before).To(ContainElement(ContainSubstring("PhaseProgressing")))

		// A reconcile reads the rollout as it was before its first write
		// (a cache that has not caught up): show-01 looks already on the
		// target, step 2 would start and everything left is frozen.
		wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		staleReads := 1
		w.ro.Client = interceptor.NewClient(wc, interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if r, ok := obj.(*boxv1.ShardRollout); ok && key.Name == w.name && staleReads > 0 {
					staleReads--
					stale.DeepCopyInto(r)
					return nil
				}
				return c.Get(ctx, key, obj, opts...)
			},
		})
		res, err := w.ro.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: w.name}})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(BeNumerically(">", 0), "the refused write is retried")
		ro = w.rollout()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutProgressing))
		Expect(ro.Status.CurrentStep).To(BeEquivalentTo(1))
		after := w.rec.events()[len(before):]
		Expect(after).To(BeEmpty(), "events that contradict the status: %v", after)
		Expect(countEvents(w.rec.events(), "StepStarted")).To(BeZero())
		Expect(countEvents(w.rec.events(), "PhasePaused")).To(BeZero())
	})
})

var _ = Describe("make dev rollout samples", func() {
	It("are valid: the canary showtime and the rollout onto boxoffice:next", func() {
		st := &boxv1.Showtime{}
		data, err := os.ReadFile(filepath.Join("..", "config", "samples", "boxoffice_v1alpha1_showtime_canary.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yamlUnmarshal(data, st)).To(Succeed())
		st.Namespace = newNamespace()
		Expect(k8sClient.Create(ctx, st, client.DryRunAll)).To(Succeed())
		hits, err := freeze.BlockingShowtime(ctx, k8sClient, st, time.Now())
		Expect(err).NotTo(HaveOccurred())
		Expect(hits).To(BeEmpty(), "the canary sample is in no freeze today")

		ro := &boxv1.ShardRollout{}
		data, err = os.ReadFile(filepath.Join("..", "config", "samples", "boxoffice_v1alpha1_shardrollout.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yamlUnmarshal(data, ro)).To(Succeed())
		Expect(ro.Spec.Target.ShardImage).To(Equal("boxoffice:next"))
		sel, err := metav1.LabelSelectorAsSelector(ro.Spec.Scope.ShowtimeSelector)
		Expect(err).NotTo(HaveOccurred())
		Expect(sel.Matches(labels.Set(st.Labels))).To(BeTrue(), "the rollout selects the canary showtime")
		Expect(k8sClient.Create(ctx, ro, client.DryRunAll)).To(Succeed())
	})
})

var _ = Describe("ShardRollout conflicts", func() {
	It("is not Paused when a showtime changed while the rollout moved it: it moves it again", func() {
		w := newWorld(1, nil)
		wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		conflicts := 1
		w.ro.Client = interceptor.NewClient(wc, interceptor.Funcs{
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				if st, ok := obj.(*boxv1.Showtime); ok && st.Namespace == w.ns && conflicts > 0 {
					conflicts--
					return apierrors.NewConflict(boxv1.GroupVersion.WithResource("showtimes").GroupResource(), st.Name,
						fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
				}
				return c.Patch(ctx, obj, patch, opts...)
			},
		})
		w.create("conflict-"+w.label, oneCanaryStep)
		ro := w.tick()
		Expect(ro.Status.Phase).To(Equal(boxv1.RolloutProgressing), "%s: %s", ro.Status.Reason, ro.Status.Message)
		Expect(ro.Status.Message).To(Equal("step 1: 1 showtimes changed while being moved; moving them again"))
		Expect(countEvents(w.rec.events(), "PhasePaused")).To(BeZero())
		ro = w.runUntil("succeeded", phaseIs(boxv1.RolloutSucceeded))
		Expect(countEvents(w.rec.events(), "PhasePaused")).To(BeZero())
		Expect(w.showtime("show-00").Spec.Shard.Image).To(Equal(goodImage))
	})
})
