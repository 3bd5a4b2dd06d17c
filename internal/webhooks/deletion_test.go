package webhooks

import (
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// garbageCollector is the identity kube-controller-manager's garbage
// collector deletes with (--use-service-account-credentials).
const garbageCollector = "system:serviceaccount:kube-system:generic-garbage-collector"

// ownedSet makes, as the operator and the StatefulSet controller would, the
// shard's volume claim, Service, NetworkPolicy and PodDisruptionBudget of st.
func ownedSet(st *boxv1.Showtime) (pvc *corev1.PersistentVolumeClaim, svc *corev1.Service, np *networkingv1.NetworkPolicy, pdb *policyv1.PodDisruptionBudget) {
	lbl := st.OwnedLabels(boxv1.ComponentShard)
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: st.Namespace, Labels: lbl,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: boxv1.GroupVersion.String(), Kind: "Showtime", Name: st.Name, UID: st.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}}
	}
	sel := &metav1.LabelSelector{MatchLabels: st.SelectorLabels(boxv1.ComponentShard)}
	// The claim is the StatefulSet's (retention policy Retain): no owner.
	pvc = &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: st.ShardClaimName(0), Namespace: st.Namespace, Labels: lbl},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	}
	svc = &corev1.Service{ObjectMeta: meta(st.ShardName()), Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
		Selector: sel.MatchLabels, Ports: []corev1.ServicePort{{Name: "http", Port: specs.ShardPort}}}}
	np = &networkingv1.NetworkPolicy{ObjectMeta: meta(st.ShardName()), Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel,
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	pdb = &policyv1.PodDisruptionBudget{ObjectMeta: meta(st.ShardName()), Spec: policyv1.PodDisruptionBudgetSpec{
		MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: sel}}
	for _, o := range []client.Object{pvc, svc, np, pdb} {
		Expect(operator.Create(ctx, o)).To(Succeed())
	}
	return pvc, svc, np, pdb
}

var _ = Describe("Deletion guard on what a showtime owns", func() {
	var (
		ns    string
		label string
		st    *boxv1.Showtime
		fw    *boxv1.FreezeWindow
		pvc   *corev1.PersistentVolumeClaim
		svc   *corev1.Service
		np    *networkingv1.NetworkPolicy
		pdb   *policyv1.PodDisruptionBudget
	)
	BeforeEach(func() {
		ns = newNamespace()
		label = strings.TrimPrefix(ns, "wh-")
		st = showtime(ns, "standup", map[string]string{"freeze": label}, farOpens())
		Expect(operator.Create(ctx, st)).To(Succeed())
		pvc, svc, np, pdb = ownedSet(st)
		fw = frozenWindow("del-"+label, label)
		// Wait until the webhook's cache has the window.
		Eventually(func() error {
			return bob.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta}, client.DryRunAll)
		}).Should(HaveOccurred())
	})

	It("denies deleting the shard's volume, Service, NetworkPolicy and PDB during the freeze, naming the window and the showtime", func() {
		err := admin.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta})
		Expect(err).To(MatchError(ContainSubstring(`admission webhook "vworkloads-volumes.boxoffice.dev" denied the request: delete of PersistentVolumeClaim ` +
			ns + `/data-standup-shard-0 denied: frozen by FreezeWindow "` + fw.Name + `" (reason: 11.11 sale) until `)))
		Expect(err.Error()).To(And(ContainSubstring("for a delete, annotate the object first"),
			ContainSubstring("(PersistentVolumeClaim data-standup-shard-0 belongs to Showtime standup)")))
		Expect(bob.Delete(ctx, &corev1.Service{ObjectMeta: svc.ObjectMeta})).
			To(MatchError(ContainSubstring("delete of Service " + ns + "/standup-shard denied: frozen by FreezeWindow")))
		Expect(bob.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: np.ObjectMeta})).
			To(MatchError(ContainSubstring("delete of NetworkPolicy " + ns + "/standup-shard denied")))
		Expect(bob.Delete(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: pdb.ObjectMeta})).
			To(MatchError(ContainSubstring("delete of PodDisruptionBudget " + ns + "/standup-shard denied")))
		// A delete-collection is judged object by object.
		Expect(bob.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace(ns))).To(HaveOccurred())
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(pvc), &corev1.PersistentVolumeClaim{})).To(Succeed())

		// Relabelling the volume out of the webhook's sight first is denied
		// too; annotating it is not.
		Expect(update(bob, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta}, func(p *corev1.PersistentVolumeClaim) {
			delete(p.Labels, boxv1.LabelManagedBy)
		})).To(MatchError(ContainSubstring("update of PersistentVolumeClaim " + ns + "/data-standup-shard-0 denied")))
		Expect(update(bob, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta}, func(p *corev1.PersistentVolumeClaim) {
			p.Annotations = map[string]string{"note": "checked"}
		})).To(Succeed())
		// Editing the Service or the NetworkPolicy is a change like any other.
		Expect(update(bob, &networkingv1.NetworkPolicy{ObjectMeta: np.ObjectMeta}, func(p *networkingv1.NetworkPolicy) {
			p.Spec.PodSelector = metav1.LabelSelector{}
		})).To(MatchError(ContainSubstring("update of NetworkPolicy " + ns + "/standup-shard denied")))

		// The operator is exempt.
		Expect(operator.Delete(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: pdb.ObjectMeta})).To(Succeed())
	})

	It("allows deleting them outside the showtime's freeze", func() {
		other := showtime(ns, "matinee", map[string]string{"freeze": "elsewhere"}, farOpens())
		Expect(operator.Create(ctx, other)).To(Succeed())
		opvc, osvc, _, _ := ownedSet(other)
		Expect(bob.Delete(ctx, opvc)).To(Succeed())
		Expect(bob.Delete(ctx, osvc)).To(Succeed())

		// A claim of the user's own, with the showtime label but not the
		// managed-by one, never reaches the webhook.
		own := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "scratch", Namespace: ns,
			Labels: map[string]string{boxv1.LabelShowtime: "standup"}}, Spec: pvc.Spec}
		Expect(bob.Create(ctx, own)).To(Succeed())
		Expect(bob.Delete(ctx, own)).To(Succeed())
	})

	It("allows break-glass by a configured group, with an event on the volume", func() {
		withReason := func(p *corev1.PersistentVolumeClaim) {
			p.Annotations = map[string]string{boxv1.BreakGlassAnnotation: "INC-21 replace the corrupt volume"}
		}
		Expect(update(bob, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta}, withReason)).To(Succeed(), "annotating is always allowed")
		Expect(bob.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta})).
			To(MatchError(ContainSubstring(`user "bob" (groups ["system:masters" "system:authenticated" "devs"]) is not allowed to break glass`)))
		Expect(alice.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta})).To(Succeed())
		Eventually(func() []eventsv1.Event { return eventsFor(ns, pvc.Name) }).Should(ContainElement(And(
			HaveField("Reason", "BreakGlass"),
			HaveField("Note", And(ContainSubstring("alice"), ContainSubstring("broke glass to delete PersistentVolumeClaim "+pvc.Name),
				ContainSubstring("INC-21 replace the corrupt volume"))))))
	})

	It("lets the garbage collector remove what a deleted showtime owned", func() {
		gc := impersonate(garbageCollector)
		// While the showtime lives, the garbage collector is judged like
		// anyone (a stray owner reference must not get a volume deleted).
		Expect(gc.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta})).To(MatchError(ContainSubstring("denied")))

		// The showtime is deleted, with break-glass, in the foreground: it
		// stays, being deleted, until the collector has removed its children.
		Expect(update(alice, &boxv1.Showtime{ObjectMeta: st.ObjectMeta}, func(s *boxv1.Showtime) {
			s.Annotations = map[string]string{boxv1.BreakGlassAnnotation: "INC-22 cancelled show"}
		})).To(Succeed())
		Expect(alice.Delete(ctx, &boxv1.Showtime{ObjectMeta: st.ObjectMeta}, client.PropagationPolicy(metav1.DeletePropagationForeground))).To(Succeed())
		Expect(gc.Delete(ctx, &corev1.Service{ObjectMeta: svc.ObjectMeta})).To(Succeed())
		Expect(gc.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: np.ObjectMeta})).To(Succeed())

		// The collector lets the showtime go; what is left goes after it.
		Expect(update(admin, &boxv1.Showtime{ObjectMeta: st.ObjectMeta}, func(s *boxv1.Showtime) { s.Finalizers = nil })).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(st), &boxv1.Showtime{}))
		}).Should(BeTrue())
		Expect(gc.Delete(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: pdb.ObjectMeta})).To(Succeed())
		// The retained volume is anyone's to delete once its showtime is gone.
		Expect(bob.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta})).To(Succeed())
	})

	It("lets the garbage collector remove what an earlier showtime of the same name owned", func() {
		old := &corev1.Service{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(svc), old)).To(Succeed())
		Expect(update(alice, &boxv1.Showtime{ObjectMeta: st.ObjectMeta}, func(s *boxv1.Showtime) {
			s.Annotations = map[string]string{boxv1.BreakGlassAnnotation: "INC-23 recreate"}
		})).To(Succeed())
		Expect(alice.Delete(ctx, &boxv1.Showtime{ObjectMeta: st.ObjectMeta})).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(st), &boxv1.Showtime{}))
		}).Should(BeTrue())
		again := showtime(ns, "standup", map[string]string{"freeze": label}, farOpens())
		Expect(operator.Create(ctx, again)).To(Succeed())
		Expect(again.UID).NotTo(Equal(st.UID))

		gc := impersonate(garbageCollector)
		// The new showtime is frozen, but the Service names the old one as
		// its owner: it is the collector's to remove.
		Expect(gc.Delete(ctx, old)).To(Succeed())
		// The volume names no owner: it may be the new showtime's, and stays guarded.
		Expect(gc.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: pvc.ObjectMeta})).To(MatchError(ContainSubstring("denied")))
	})
})
