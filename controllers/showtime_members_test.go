package controllers

import (
	"strconv"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	"boxoffice.dev/boxoffice/internal/fakeshard"
	"boxoffice.dev/boxoffice/shard/shardapi"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeMembers stands in for a replicated shard's members: one GET
// /v1/status per member, each at its own loopback address (127.0.0.1+i) and
// the same port, as pods have their own IPs and one shard port.
type fakeMembers struct{ *fakeshard.Server }

func newFakeMembers(n int) *fakeMembers {
	ips := make([]string, n)
	for i := range ips {
		ips[i] = memberIP(i)
	}
	srv, err := fakeshard.New(ips...)
	Expect(err).NotTo(HaveOccurred())
	srv.RequireToken("")
	for _, ip := range ips {
		srv.Set(ip, fakeshard.Member{}) // not answering until served
	}
	DeferCleanup(srv.Close)
	return &fakeMembers{srv}
}

func memberIP(i int) string { return "127.0.0." + strconv.Itoa(i+1) }

// serve sets what member i answers on /v1/status (nil: it does not answer).
func (fm *fakeMembers) serve(i int, rep *shardapi.Status) {
	fm.Update(memberIP(i), func(m *fakeshard.Member) { m.Status = rep })
}

// setMetrics sets what member i answers on /metrics ("": 404).
func (fm *fakeMembers) setMetrics(i int, body string) {
	fm.Update(memberIP(i), func(m *fakeshard.Member) { m.Metrics = body })
}

// memberReport is a member's status: leader is the ordinal of the leader it
// names; the leader also reports its followers' match indexes.
func memberReport(f *fixture, i, leader int, term, commit int64, match ...int64) *shardapi.Status {
	r := &shardapi.Status{Showtime: f.ns + "/standup", Version: 42, Epoch: term, Role: "follower", Term: term, ID: i + 1,
		CommitIndex: commit, Counts: shardapi.Counts{Free: sampleTotal - 2, Held: 2},
		Leader: "http://standup-shard-" + strconv.Itoa(leader) + ".standup-shard." + f.ns + ".svc:7070"}
	if i == leader {
		r.Role = "leader"
		for j, m := range match {
			r.Members = append(r.Members, shardapi.Member{ID: j + 1, Match: m, Healthy: true})
		}
	}
	return r
}

// makeMember does what the StatefulSet controller, scheduler and kubelet
// would for member i: a pod on node, at its own loopback address.
func (f *fixture) makeMember(i int, node string, ready bool) *corev1.Pod {
	st := f.showtime()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: st.ShardPodName(i), Namespace: f.ns, Labels: st.OwnedLabels(boxv1.ComponentShard)},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "shard", Image: testImage}}},
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	f.setMemberReady(pod, i, ready)
	return pod
}

func (f *fixture) setMemberReady(pod *corev1.Pod, i int, ready bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = memberIP(i)
	pod.Status.PodIPs = []corev1.PodIP{{IP: memberIP(i)}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
}

// makeNode registers a node, Ready or NotReady since notReadySince.
func makeNode(name string, ready bool, since time.Time) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	Expect(k8sClient.Create(ctx, n)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, n) })
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionUnknown
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status,
		LastTransitionTime: metav1.NewTime(since), LastHeartbeatTime: metav1.NewTime(since)}}
	Expect(k8sClient.Status().Update(ctx, n)).To(Succeed())
}

func newReplicatedFixture() (*fixture, *fakeMembers) {
	f := newFixture(func(st *boxv1.Showtime) { st.Spec.Shard.Replicas = 3 })
	fm := newFakeMembers(3)
	f.r.Shards = NewHTTPShardClient(fm.Port())
	return f, fm
}

var _ = Describe("Replicated shard", func() {
	It("runs every member: statefulset, peer secret, service, one-at-a-time budget and peer-only network policy", func() {
		f, _ := newReplicatedFixture()
		f.clock.SetTime(f.opens.Add(time.Minute)) // on sale
		f.reconcile()
		sts := &appsv1.StatefulSet{}
		f.get(f.st.ShardName(), sts)
		Expect(*sts.Spec.Replicas).To(Equal(int32(3)))
		Expect(sts.Spec.PodManagementPolicy).To(Equal(appsv1.ParallelPodManagement))
		Expect(sts.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution).To(HaveLen(1))
		Expect(sts.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--peers=" + specs.ShardPeers(f.st)))
		peer := &corev1.Secret{}
		f.get(f.st.PeerTokenSecretName(), peer)
		Expect(peer.Data[boxv1.PeerTokenSecretKey]).NotTo(BeEmpty())
		svc := &corev1.Service{}
		f.get(f.st.ShardName(), svc)
		Expect(svc.Spec.PublishNotReadyAddresses).To(BeTrue())
		pdb := &policyv1.PodDisruptionBudget{}
		f.get(f.st.ShardName(), pdb)
		Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1), "a drain moves members one by one during the sale")
		np := &networkingv1.NetworkPolicy{}
		f.get(f.st.ShardName(), np)
		Expect(np.Spec.Ingress).To(HaveLen(2))
		Expect(np.Spec.Ingress[1].Ports[0].Port.IntValue()).To(Equal(specs.PeerPort))
		dep := &appsv1.Deployment{}
		f.get(f.st.FrontendName(), dep)
		Expect(dep.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--shard-url=" + specs.ShardURL(f.st)))

		// Nothing to do: no write.
		before := f.writes.n.Load()
		f.reconcile()
		Expect(f.writes.n.Load()).To(Equal(before))
	})

	It("refuses a change of spec.shard.replicas and values other than 1, 3 or 5", func() {
		f, _ := newReplicatedFixture()
		st := f.showtime()
		Expect(st.Spec.Shard.Replicas).To(Equal(int32(3)))
		st.Spec.Shard.Replicas = 5
		err := k8sClient.Update(ctx, st)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.shard.replicas cannot change"))
		bad := newShowtime(f.ns, "two", baseTime, baseTime.Add(time.Hour))
		bad.Spec.Shard.Replicas = 2
		err = k8sClient.Create(ctx, bad)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.shard.replicas must be 1, 3 or 5"))
		dflt := newShowtime(f.ns, "dflt", baseTime, baseTime.Add(time.Hour))
		dflt.Spec.Shard = boxv1.ShardSpec{}
		Expect(k8sClient.Create(ctx, dflt)).To(Succeed())
		Expect(dflt.Spec.Shard.Replicas).To(Equal(int32(3)), "the default")
	})

	It("keeps a single-mode shard that predates spec.shard.replicas at one member", func() {
		f, _ := newReplicatedFixture()
		// The shard was made by an operator without the field: one member.
		st := f.showtime()
		st.Spec.Shard.Replicas = 1
		Expect(specs.ShardStatefulSet(st, f.r.Options)).NotTo(BeNil())
		Expect(k8sClient.Apply(ctx, specs.ShardStatefulSet(st, f.r.Options), client.FieldOwner(specs.FieldOwner))).To(Succeed())
		f.reconcile()
		sts := &appsv1.StatefulSet{}
		f.get(f.st.ShardName(), sts)
		Expect(*sts.Spec.Replicas).To(Equal(int32(1)))
		Expect(sts.Spec.Template.Spec.Containers[0].Args).NotTo(ContainElement(HavePrefix("--peers")))
		Expect(f.showtime().Status.Shard.Replicas).To(Equal(int32(1)))
	})

	It("reports members, leader, term and lag; stays on sale with one member down; is Degraded without a majority", func() {
		f, fm := newReplicatedFixture()
		f.clock.SetTime(f.opens.Add(time.Minute))
		f.reconcile()
		fm.RequireToken(f.token())
		f.setFrontendReady(2)
		pods := []*corev1.Pod{f.makeMember(0, "n0", true), f.makeMember(1, "n1", true), f.makeMember(2, "n2", true)}
		fm.serve(0, memberReport(f, 0, 0, 4, 100, 100, 100, 97))
		fm.serve(1, memberReport(f, 1, 0, 4, 100))
		fm.serve(2, memberReport(f, 2, 0, 4, 97))
		f.reconcile()
		st := f.showtime()
		sh := st.Status.Shard
		Expect(sh.Leader).To(Equal("standup-shard-0"))
		Expect(sh.Term).To(Equal(int64(4)))
		Expect(sh.ReadyMembers).To(Equal("3/3"))
		Expect(sh.Members).To(HaveLen(3))
		Expect(sh.Members[0]).To(Equal(boxv1.ShardMember{Pod: "standup-shard-0", ID: 1, Node: "n0", Image: testImage, Role: boxv1.RoleLeader, Ready: true, Lag: ptr.To(int64(0))}))
		Expect(*sh.Members[2].Lag).To(Equal(int64(3)))
		Expect(sh.Members[2].Role).To(Equal(boxv1.RoleFollower))
		Expect(st.Status.Seats.Held).To(Equal(int32(2)))
		Expect(cond(st, boxv1.ConditionShardQuorum).Status).To(Equal(metav1.ConditionTrue))
		Expect(cond(st, boxv1.ConditionShardRedundancy).Status).To(Equal(metav1.ConditionTrue))
		Expect(st.Status.Phase).To(Equal(boxv1.PhaseOnSale))
		drainEvents(f.recorder)

		// One member down: still on sale, redundancy lost, a Warning.
		f.setMemberReady(pods[2], 2, false)
		fm.serve(2, nil)
		f.clock.SetTime(f.clock.Now().Add(5 * time.Second))
		f.reconcile()
		st = f.showtime()
		Expect(st.Status.Phase).To(Equal(boxv1.PhaseOnSale))
		Expect(st.Status.Shard.ReadyMembers).To(Equal("2/3"))
		Expect(cond(st, boxv1.ConditionShardRedundancy).Status).To(Equal(metav1.ConditionFalse))
		Expect(cond(st, boxv1.ConditionShardRedundancy).Message).To(ContainSubstring("standup-shard-2"))
		Expect(cond(st, boxv1.ConditionShardQuorum).Status).To(Equal(metav1.ConditionTrue))
		Expect(drainEvents(f.recorder)).To(ContainElement(ContainSubstring("ShardRedundancyLost")))

		// The leader changes: an event, and the time of the change.
		fm.serve(0, memberReport(f, 0, 1, 5, 120))
		fm.serve(1, memberReport(f, 1, 1, 5, 120, 120, 120, 97))
		f.clock.SetTime(f.clock.Now().Add(5 * time.Second))
		f.reconcile()
		st = f.showtime()
		Expect(st.Status.Shard.Leader).To(Equal("standup-shard-1"))
		Expect(st.Status.Shard.Term).To(Equal(int64(5)))
		Expect(st.Status.Shard.LastLeaderChange).NotTo(BeNil())
		Expect(drainEvents(f.recorder)).To(ContainElement(ContainSubstring("ShardLeaderChanged")))

		// A second member down: no majority, Degraded.
		f.setMemberReady(pods[0], 0, false)
		fm.serve(0, nil)
		fm.serve(1, &shardapi.Status{Showtime: f.ns + "/standup", Role: "candidate", Term: 6})
		f.setMemberReady(pods[1], 1, false)
		f.clock.SetTime(f.clock.Now().Add(5 * time.Second))
		f.reconcile()
		st = f.showtime()
		Expect(cond(st, boxv1.ConditionShardQuorum).Status).To(Equal(metav1.ConditionFalse))
		Expect(cond(st, boxv1.ConditionShardReady).Status).To(Equal(metav1.ConditionFalse))
		Expect(st.Status.Phase).To(Equal(boxv1.PhaseDegraded))
		Expect(drainEvents(f.recorder)).To(ContainElement(ContainSubstring("ShardQuorumLost")))
	})

	It("replaces a member whose node is gone, only while a majority serves", func() {
		f, fm := newReplicatedFixture()
		f.clock.SetTime(f.opens.Add(time.Minute))
		f.reconcile()
		fm.RequireToken(f.token())
		suffix := f.ns // node names are cluster-wide: one set per spec
		makeNode("a-"+suffix, true, baseTime)
		makeNode("b-"+suffix, false, f.clock.Now().Add(-time.Minute)) // NotReady, not long enough yet
		f.makeMember(0, "a-"+suffix, true)
		b := f.makeMember(1, "b-"+suffix, false)
		lost := f.makeMember(2, "gone-"+suffix, false) // its Node was deleted
		for i := range 3 {
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: f.st.ShardClaimName(i), Namespace: f.ns},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
			Expect(k8sClient.Create(ctx, claim)).To(Succeed())
		}
		fm.serve(0, memberReport(f, 0, 0, 4, 100, 100, 90, 80))

		// Only member 0 serves: no majority, nothing is deleted.
		res := f.reconcile()
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(lost), &corev1.Pod{})).To(Succeed())
		st := f.showtime()
		Expect(cond(st, boxv1.ConditionShardRedundancy).Reason).To(Equal("ReplacementBlocked"))
		Expect(cond(st, boxv1.ConditionShardRedundancy).Message).To(ContainSubstring("no serving majority"))
		Expect(res.RequeueAfter).To(BeNumerically("<=", 4*time.Minute), "looks again when node b will have been NotReady long enough")

		// Member 1 comes back (its node recovers): a majority serves, and
		// the member on the deleted node is replaced: claim, then pod.
		f.setMemberReady(b, 1, true)
		fm.serve(1, memberReport(f, 1, 0, 4, 100))
		f.clock.SetTime(f.clock.Now().Add(5 * time.Second))
		f.reconcile()
		Eventually(func() bool {
			err := k8sClient.Get(ctx, client.ObjectKeyFromObject(lost), &corev1.Pod{})
			return apierrors.IsNotFound(err)
		}, 5*time.Second, 50*time.Millisecond).Should(BeTrue(), "the lost member's pod is deleted")
		claim := &corev1.PersistentVolumeClaim{}
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: f.st.ShardClaimName(2)}, claim)
		Expect(apierrors.IsNotFound(err) || !claim.DeletionTimestamp.IsZero()).To(BeTrue(), "the lost member's claim is deleted")
		for i := range 2 {
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: f.st.ShardClaimName(i)}, claim)).To(Succeed())
			Expect(claim.DeletionTimestamp.IsZero()).To(BeTrue(), "member %d keeps its claim", i)
		}
		Expect(drainEvents(f.recorder)).To(ContainElement(And(ContainSubstring("ShardMemberReplaced"), ContainSubstring("was deleted"))))
	})
})
