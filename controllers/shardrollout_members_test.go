package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"boxoffice.dev/boxoffice/internal/freeze"
)

// memberWorld is one 3-member showtime with its Showtime and ShardRollout
// reconcilers on one fake clock, and a stand-in for the StatefulSet
// controller (OnDelete: a deleted member is made again on the template),
// the kubelet and the members themselves: each answers /v1/status (the
// leader with its followers' match) and /metrics. A member's SIGTERM hands
// leadership to an up-to-date follower when the operator deletes the
// leader's pod; a new member is ready at once but behind the leader for
// catchUpTicks ticks.
type memberWorld struct {
	f     *fixture
	fm    *fakeMembers
	ro    *ShardRolloutReconciler
	clock interface {
		Now() time.Time
		Step(time.Duration)
	}
	name string

	mu       sync.Mutex
	leader   int
	term     int64
	commit   int64
	images   [3]string
	behind   [3]int
	restarts []string
	// broken records an operator restart while another member was not
	// caught up, or two members down at once.
	broken []string
}

const catchUpTicks = 3

func newMemberWorld() *memberWorld {
	f, fm := newReplicatedFixture()
	w := &memberWorld{f: f, fm: fm, leader: 1, term: 5, commit: 1000}
	fake := newSteppingClock(baseTime)
	w.clock = fake
	f.r.Clock = fake
	f.r.Recorder = &recorder{}
	for i := range 3 {
		makeNode(f.ns+"-n"+strconv.Itoa(i), true, baseTime)
	}
	f.r.HandoverWait = 2 * time.Second
	f.r.Client = interceptor.NewClient(f.r.Client.(client.WithWatch), interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if _, isPod := obj.(*corev1.Pod); isPod {
				w.sigterm(obj.GetName())
			}
			return c.Delete(ctx, obj, opts...)
		},
	})
	st := f.showtime()
	st.Labels = map[string]string{"member-rollout": f.ns}
	Expect(k8sClient.Update(ctx, st)).To(Succeed())
	w.ro = &ShardRolloutReconciler{
		Client: k8sClient, Recorder: &recorder{}, Clock: fake, DefaultImage: testImage,
		Shards: &HTTPShardProber{HTTP: NewHTTPShardClient(fm.Port()).HTTP, Port: fm.Port(), FrontendPort: fm.Port()},
		Freezes: func(context.Context, client.Reader, *boxv1.Showtime, time.Time) ([]freeze.Hit, error) {
			return nil, nil
		},
	}
	f.reconcile()
	fm.RequireToken(f.token())
	for i := 0; i < 3; i++ {
		w.images[i] = testImage
		w.createMember(i, testImage)
	}
	w.publish()
	f.reconcile()
	Expect(f.showtime().Status.Shard.Leader).To(Equal("standup-shard-1"))
	return w
}

// sigterm is what a member does when the operator deletes its pod: the
// leader hands leadership to the first follower that is caught up.
func (w *memberWorld) sigterm(pod string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := strconv.Atoi(pod[strings.LastIndex(pod, "-")+1:])
	w.restarts = append(w.restarts, pod)
	for j := range 3 {
		if j != i && (w.behind[j] > 0 || w.images[j] == "") {
			w.broken = append(w.broken, fmt.Sprintf("%s restarted while standup-shard-%d was behind or down", pod, j))
		}
	}
	w.images[i] = ""
	if i == w.leader {
		for j := range 3 {
			if j != i && w.behind[j] == 0 && w.images[j] != "" {
				w.leader, w.term = j, w.term+1
				break
			}
		}
	}
	w.publishLocked()
}

func (w *memberWorld) publish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.publishLocked()
}

func (w *memberWorld) publishLocked() {
	for i := range 3 {
		if w.images[i] == "" || w.images[i] == missingImage {
			w.fm.serve(i, nil)
			w.fm.setMetrics(i, "")
			continue
		}
		var match []int64
		for j := range 3 {
			m := w.commit
			if w.behind[j] > 0 || w.images[j] == "" {
				m -= 500
			}
			match = append(match, m)
		}
		rep := memberReport(w.f, i, w.leader, w.term, w.commit, match...)
		w.fm.serve(i, rep)
		w.fm.setMetrics(i, fakeMetrics(w.images[i]))
	}
}

func (w *memberWorld) createMember(i int, image string) {
	st := w.f.showtime()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: st.ShardPodName(i), Namespace: w.f.ns, Labels: st.OwnedLabels(boxv1.ComponentShard)},
		Spec:       corev1.PodSpec{NodeName: w.f.ns + "-n" + strconv.Itoa(i), Containers: []corev1.Container{{Name: "shard", Image: image}}},
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
	ready := corev1.ConditionTrue
	if image == missingImage {
		ready = corev1.ConditionFalse
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "shard", Image: image, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image not present"}}}}
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = memberIP(i)
	pod.Status.PodIPs = []corev1.PodIP{{IP: memberIP(i)}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(w.clock.Now())}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// playStatefulSet is one pass of the StatefulSet controller (OnDelete) and
// the kubelet: a pod being deleted goes; a missing member is made on the
// template's image, behind the leader for catchUpTicks ticks.
func (w *memberWorld) playStatefulSet() {
	sts := &appsv1.StatefulSet{}
	w.f.get("standup-shard", sts)
	Expect(sts.Spec.UpdateStrategy.Type).To(Equal(appsv1.OnDeleteStatefulSetStrategyType))
	want := sts.Spec.Template.Spec.Containers[0].Image
	w.mu.Lock()
	for i := range 3 {
		if w.behind[i] > 0 {
			w.behind[i]--
		}
	}
	w.mu.Unlock()
	for i := range 3 {
		pod := &corev1.Pod{}
		err := k8sClient.Get(ctx, types.NamespacedName{Namespace: w.f.ns, Name: "standup-shard-" + strconv.Itoa(i)}, pod)
		switch {
		case apierrors.IsNotFound(err):
			w.createMember(i, want)
			w.mu.Lock()
			w.images[i], w.behind[i] = want, catchUpTicks
			w.mu.Unlock()
		case err != nil:
			Expect(err).NotTo(HaveOccurred())
		case !pod.DeletionTimestamp.IsZero():
			Expect(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}))
			}).Should(BeTrue())
		}
	}
	w.publish()
}

func (w *memberWorld) create(mutate func(*boxv1.ShardRollout)) {
	w.name = "members-" + w.f.ns
	ro := &boxv1.ShardRollout{
		ObjectMeta: metav1.ObjectMeta{Name: w.name},
		Spec: boxv1.ShardRolloutSpec{
			Target: boxv1.RolloutTarget{ShardImage: goodImage},
			Scope:  boxv1.RolloutScope{ShowtimeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"member-rollout": w.f.ns}}},
			Steps:  []boxv1.RolloutStep{{Count: ptr.To[int32](1), Bake: metav1.Duration{Duration: 10 * time.Second}}},
			Analysis: boxv1.RolloutAnalysis{ReadyDeadline: metav1.Duration{Duration: 20 * time.Second},
				Interval: metav1.Duration{Duration: 5 * time.Second}},
		},
	}
	if mutate != nil {
		mutate(ro)
	}
	Expect(k8sClient.Create(ctx, ro)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, ro) })
}

// tick: the rollout acts, the showtime controller acts on the members, the
// StatefulSet stand-in moves pods; the clock moves one second.
func (w *memberWorld) tick() *boxv1.ShardRollout {
	_, err := w.ro.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: w.name}})
	Expect(err).NotTo(HaveOccurred())
	w.f.reconcile()
	w.playStatefulSet()
	w.clock.Step(time.Second)
	ro := &boxv1.ShardRollout{}
	Expect(k8sClient.Get(ctx, types.NamespacedName{Name: w.name}, ro)).To(Succeed())
	return ro
}

func (w *memberWorld) runUntil(phase boxv1.RolloutPhase) *boxv1.ShardRollout {
	for range 200 {
		if ro := w.tick(); ro.Status.Phase == phase {
			return ro
		}
	}
	ro := &boxv1.ShardRollout{}
	Expect(k8sClient.Get(ctx, types.NamespacedName{Name: w.name}, ro)).To(Succeed())
	Fail(fmt.Sprintf("rollout never reached %s: %s (%s) %s; showtimes %+v", phase, ro.Status.Phase, ro.Status.Reason, ro.Status.Message, ro.Status.Showtimes))
	return nil
}

func (w *memberWorld) memberImages() []string {
	pods := &corev1.PodList{}
	Expect(k8sClient.List(ctx, pods, client.InNamespace(w.f.ns), client.MatchingLabels(w.f.showtime().SelectorLabels(boxv1.ComponentShard)))).To(Succeed())
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name+"="+shardContainerImage(&p))
	}
	return out
}

// newSteppingClock is a fake clock both reconcilers share.
func newSteppingClock(t time.Time) *steppingClock { return &steppingClock{now: t} }

type steppingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *steppingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *steppingClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var _ = Describe("ShardRollout of a replicated shard", func() {
	It("upgrades member by member: followers first, each caught up, the leader last, its hand-over the write pause", func() {
		w := newMemberWorld()
		w.create(nil)
		ro := w.runUntil(boxv1.RolloutSucceeded)

		Expect(w.restarts).To(Equal([]string{"standup-shard-0", "standup-shard-2", "standup-shard-1"}),
			"the followers go first, in order, and the leader (standup-shard-1) last")
		Expect(w.broken).To(BeEmpty(), "a member was restarted while another was behind the leader or down")
		Expect(w.memberImages()).To(ConsistOf("standup-shard-0="+goodImage, "standup-shard-1="+goodImage, "standup-shard-2="+goodImage))

		st := w.f.showtime()
		Expect(st.Status.Shard.Leader).NotTo(Equal("standup-shard-1"), "leadership went to an upgraded member")
		Expect(st.Status.Shard.Term).To(Equal(int64(6)))
		h := st.Status.Shard.LastHandover
		Expect(h).NotTo(BeNil())
		Expect(h.From).To(Equal("standup-shard-1"))
		Expect(h.To).To(Equal(st.Status.Shard.Leader))
		Expect(h.Duration).NotTo(BeEmpty())
		Expect(st.Status.Shard.MemberUpdate).To(BeEmpty())
		e := ro.Status.Showtimes[0]
		Expect(e.WritePause).To(Equal(h.Duration), "the write pause is the leader's hand-over")
		Expect(e.Analysis).To(Equal(boxv1.AnalysisPassed))
	})

	It("waits for each restarted member to catch up before the next", func() {
		w := newMemberWorld()
		w.create(nil)
		var seen []string
		for range 60 {
			w.tick()
			if u := w.f.showtime().Status.Shard.MemberUpdate; u != "" {
				seen = append(seen, u)
			}
			if len(w.restarts) >= 2 {
				break
			}
		}
		Expect(w.restarts).To(HaveLen(2))
		Expect(seen).To(ContainElement(ContainSubstring("waiting: standup-shard-0 is catching up with the leader (500 entries behind)")))
		Expect(w.broken).To(BeEmpty())
	})

	It("moves the members the same way when the image is changed by hand, without a rollout", func() {
		w := newMemberWorld()
		st := w.f.showtime()
		st.Spec.Shard.Image = goodImage
		Expect(k8sClient.Update(ctx, st)).To(Succeed())
		for range 60 {
			w.f.reconcile()
			w.playStatefulSet()
			w.clock.Step(time.Second)
			if len(w.restarts) == 3 && w.f.showtime().Status.Shard.MemberUpdate == "" {
				break
			}
		}
		Expect(w.restarts).To(Equal([]string{"standup-shard-0", "standup-shard-2", "standup-shard-1"}))
		Expect(w.broken).To(BeEmpty())
		Expect(w.memberImages()).To(ConsistOf("standup-shard-0="+goodImage, "standup-shard-1="+goodImage, "standup-shard-2="+goodImage))
		Expect(w.f.showtime().Status.Shard.MemberUpdate).To(BeEmpty())
	})

	It("rolls a member that never turns ready back, touching no other member", func() {
		w := newMemberWorld()
		w.create(func(ro *boxv1.ShardRollout) { ro.Spec.Target.ShardImage = missingImage })
		ro := w.runUntil(boxv1.RolloutRolledBack)

		Expect(ro.Status.Message).To(ContainSubstring("member standup-shard-0 not ready on the target within 20s"))
		Expect(w.restarts).To(Equal([]string{"standup-shard-0", "standup-shard-0"}),
			"the broken follower is restarted on the target, then back on the stable version; the others never stop")
		Expect(w.memberImages()).To(ConsistOf("standup-shard-0="+testImage, "standup-shard-1="+testImage, "standup-shard-2="+testImage))
		Expect(w.f.showtime().Status.Shard.Leader).To(Equal("standup-shard-1"))
	})
})

var _ = Describe("A replicated shard's StatefulSet made with RollingUpdate", func() {
	It("is switched to OnDelete, so the operator moves the members", func() {
		f, _ := newReplicatedFixture()
		f.reconcile()
		sts := &appsv1.StatefulSet{}
		f.get("standup-shard", sts)
		// As an older operator made it, with the partition the API server
		// defaults when it creates one.
		sts.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}}
		Expect(k8sClient.Update(ctx, sts)).To(Succeed())
		f.get("standup-shard", sts)
		Expect(sts.Spec.UpdateStrategy.RollingUpdate).NotTo(BeNil())

		st := f.showtime()
		st.Spec.Shard.Image = goodImage
		Expect(k8sClient.Update(ctx, st)).To(Succeed())
		f.reconcile()
		f.get("standup-shard", sts)
		Expect(sts.Spec.UpdateStrategy.Type).To(Equal(appsv1.OnDeleteStatefulSetStrategyType))
		Expect(sts.Spec.UpdateStrategy.RollingUpdate).To(BeNil())
		Expect(sts.Spec.Template.Spec.Containers[0].Image).To(Equal(goodImage))
	})
})
