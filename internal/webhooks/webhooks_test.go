package webhooks

import (
	"fmt"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "wh-"}}
	Expect(admin.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

func showtime(ns, name string, labels map[string]string, opens time.Time) *boxv1.Showtime {
	return &boxv1.Showtime{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: boxv1.ShowtimeSpec{
			Title:    "Stand-up 10, night 1",
			StartsAt: metav1.NewTime(opens.Add(72 * time.Hour)),
			SeatMap: boxv1.SeatMap{Sections: []boxv1.SeatSection{{Name: "stalls", Rows: []boxv1.SeatRow{
				{Names: "A-H", Seats: "1-24"}, {Names: "J-K", Seats: "1-30"}}}}},
			Sales: boxv1.Sales{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(48 * time.Hour))},
		},
	}
}

// frozenWindow is active now, for an hour, selecting showtimes labelled freeze=<label>.
func frozenWindow(name, label string) *boxv1.FreezeWindow {
	now := time.Now().Truncate(time.Second)
	fw := &boxv1.FreezeWindow{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: boxv1.FreezeWindowSpec{
			Reason:           "11.11 sale",
			TimeZone:         "Asia/Bangkok",
			ShowtimeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"freeze": label}},
			OneOff:           &boxv1.OneOffPeriod{Start: metav1.NewTime(now.Add(-time.Hour)), End: metav1.NewTime(now.Add(time.Hour))},
		},
	}
	Expect(admin.Create(ctx, fw)).To(Succeed())
	DeferCleanup(func() { _ = admin.Delete(ctx, fw) })
	return fw
}

func farOpens() time.Time { return time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second) }

// editTitle re-reads the showtime and changes its title as c.
func editTitle(c client.Client, st *boxv1.Showtime, title string, mutate ...func(*boxv1.Showtime)) error {
	cur := &boxv1.Showtime{}
	Expect(admin.Get(ctx, client.ObjectKeyFromObject(st), cur)).To(Succeed())
	cur.Spec.Title = title
	for _, m := range mutate {
		m(cur)
	}
	return c.Update(ctx, cur)
}

func update[T client.Object](c client.Client, obj T, mutate func(T)) error {
	Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	mutate(obj)
	return c.Update(ctx, obj)
}

// scaleTo writes replicas through the scale subresource, as kubectl scale
// does (a merge patch of the autoscaling/v1 Scale).
func scaleTo(c client.Client, obj client.Object, replicas int32) error {
	patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)))
	return c.SubResource("scale").Patch(ctx, obj, patch, client.WithSubResourceBody(&autoscalingv1.Scale{}))
}

// windowAt creates a one-off window from start to end selecting showtimes
// labelled freeze=<label>.
func windowAt(name, label string, start, end time.Time) *boxv1.FreezeWindow {
	fw := &boxv1.FreezeWindow{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: boxv1.FreezeWindowSpec{
			Reason:           "not now",
			ShowtimeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"freeze": label}},
			OneOff:           &boxv1.OneOffPeriod{Start: metav1.NewTime(start), End: metav1.NewTime(end)},
		},
	}
	Expect(admin.Create(ctx, fw)).To(Succeed())
	DeferCleanup(func() { _ = admin.Delete(ctx, fw) })
	return fw
}

func eventsFor(ns, name string) []eventsv1.Event {
	list := &eventsv1.EventList{}
	Expect(admin.List(ctx, list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

var _ = Describe("Showtime webhook", func() {
	var (
		ns string
		st *boxv1.Showtime
		fw *boxv1.FreezeWindow
	)
	BeforeEach(func() {
		ns = newNamespace()
		label := strings.TrimPrefix(ns, "wh-")
		st = showtime(ns, "standup", map[string]string{"freeze": label}, farOpens())
		Expect(bob.Create(ctx, st)).To(Succeed())
		fw = frozenWindow("promo-"+label, label)
		// The webhook reads windows from the manager's cache: wait until it sees this one.
		Eventually(func() error { return editTitle(bob, st, "probe") }).Should(HaveOccurred())
	})

	It("denies an edit inside a window with the window, its reason, its end in its zone and how to break glass", func() {
		err := editTitle(bob, st, "new title")
		Expect(err).To(HaveOccurred())
		loc, _ := time.LoadLocation("Asia/Bangkok")
		end := freeze.Hit{End: fw.Spec.OneOff.End.Time, Location: loc}.EndString()
		Expect(err.Error()).To(ContainSubstring(
			`admission webhook "vshowtime.boxoffice.dev" denied the request: update of Showtime ` + ns + `/standup denied: frozen by FreezeWindow "` + fw.Name + `" (reason: 11.11 sale) until ` + end))
		Expect(end).To(HaveSuffix("Asia/Bangkok"))
		Expect(err.Error()).To(ContainSubstring("Allowed during a freeze: a rollback of spec.shard.image or spec.frontend.image"))
		Expect(err.Error()).To(ContainSubstring(`To break glass, a user or group named in the operator's --break-glass-users or --break-glass-groups adds the annotation boxoffice.dev/break-glass: "<reason>" to the change`))
	})

	It("denies a create inside a window, naming the window; the operator and break-glass may", func() {
		label := strings.TrimPrefix(ns, "wh-")
		err := bob.Create(ctx, showtime(ns, "encore", map[string]string{"freeze": label}, farOpens()))
		Expect(err).To(HaveOccurred())
		loc, _ := time.LoadLocation("Asia/Bangkok")
		end := freeze.Hit{End: fw.Spec.OneOff.End.Time, Location: loc}.EndString()
		Expect(err.Error()).To(ContainSubstring(
			`admission webhook "vshowtime.boxoffice.dev" denied the request: create of Showtime ` + ns + `/encore denied: frozen by FreezeWindow "` + fw.Name + `" (reason: 11.11 sale) until ` + end))
		Expect(err.Error()).To(ContainSubstring("To break glass"))

		// Outside the window's selector the same create passes.
		Expect(bob.Create(ctx, showtime(ns, "elsewhere", map[string]string{"freeze": "elsewhere"}, farOpens()))).To(Succeed())
		Expect(operator.Create(ctx, showtime(ns, "encore", map[string]string{"freeze": label}, farOpens()))).To(Succeed())
		withReason := showtime(ns, "encore-2", map[string]string{"freeze": label}, farOpens())
		withReason.Annotations = map[string]string{boxv1.BreakGlassAnnotation: "INC-12 added date"}
		Expect(bob.Create(ctx, withReason.DeepCopy())).To(MatchError(ContainSubstring(`user "bob"`)))
		Expect(alice.Create(ctx, withReason)).To(Succeed())
	})

	It("denies a delete and a relabel that would leave the window", func() {
		err := bob.Delete(ctx, st)
		Expect(err).To(MatchError(ContainSubstring("delete of Showtime " + ns + "/standup denied")))
		Expect(err.Error()).To(ContainSubstring("for a delete, annotate the object first"))
		Expect(update(bob, &boxv1.Showtime{ObjectMeta: st.ObjectMeta}, func(s *boxv1.Showtime) { s.Labels = nil })).
			To(MatchError(ContainSubstring("frozen by FreezeWindow")))
	})

	It("allows edits to showtimes outside the window, annotation-only changes and status writes", func() {
		other := showtime(ns, "other", map[string]string{"freeze": "elsewhere"}, farOpens())
		Expect(bob.Create(ctx, other)).To(Succeed())
		Expect(editTitle(bob, other, "free to change")).To(Succeed())

		Expect(update(bob, &boxv1.Showtime{ObjectMeta: st.ObjectMeta}, func(s *boxv1.Showtime) {
			s.Annotations = map[string]string{"note": "looked at it"}
		})).To(Succeed())

		cur := &boxv1.Showtime{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(st), cur)).To(Succeed())
		cur.Status.Phase = boxv1.PhaseReady
		Expect(bob.Status().Update(ctx, cur)).To(Succeed())
	})

	It("allows the operator", func() {
		Expect(editTitle(operator, st, "operator's change")).To(Succeed())
		Expect(operator.Delete(ctx, st)).To(Succeed())
	})

	It("allows break-glass for a configured group and records who and why; denies it to others", func() {
		before := testutil.ToFloat64(breakGlassTotal.WithLabelValues("Showtime", ns, "update"))
		breakGlass := func(s *boxv1.Showtime) {
			s.Annotations = map[string]string{boxv1.BreakGlassAnnotation: "INC-4711 wrong venue title"}
		}
		err := editTitle(bob, st, "bob breaks glass", breakGlass)
		Expect(err).To(MatchError(ContainSubstring(`user "bob" (groups ["system:masters" "system:authenticated" "devs"]) is not allowed to break glass: only users ["carol"] and groups ["sre-breakglass"]`)))

		Expect(editTitle(alice, st, "alice breaks glass", breakGlass)).To(Succeed())
		Expect(testutil.ToFloat64(breakGlassTotal.WithLabelValues("Showtime", ns, "update"))).To(Equal(before + 1))
		Eventually(func() []eventsv1.Event { return eventsFor(ns, "standup") }).Should(ContainElement(And(
			HaveField("Type", corev1.EventTypeWarning),
			HaveField("Reason", "BreakGlass"),
			HaveField("Note", And(ContainSubstring("alice (groups system:masters,system:authenticated,sre-breakglass) broke glass to update Showtime standup"),
				ContainSubstring("FreezeWindow "+fw.Name), ContainSubstring("INC-4711 wrong venue title"))),
		)))

		// The annotation stays on the object, but it was this update's: the
		// next edit, even by the group, does not pass under the old reason.
		err = editTitle(alice, st, "alice again")
		Expect(err).To(MatchError(ContainSubstring("update of Showtime " + ns + "/standup denied: frozen by FreezeWindow")))
		Expect(err.Error()).To(ContainSubstring(`The boxoffice.dev/break-glass annotation already on the object ("INC-4711 wrong venue title") was set by an earlier change and does not count`))
		err = editTitle(bob, st, "bob rides along")
		Expect(err).To(MatchError(ContainSubstring("was set by an earlier change and does not count")))
		Expect(err.Error()).NotTo(ContainSubstring("not allowed to break glass"))
		Expect(testutil.ToFloat64(breakGlassTotal.WithLabelValues("Showtime", ns, "update"))).To(Equal(before + 1))
		// A new reason is a new break-glass.
		Expect(editTitle(alice, st, "alice again", func(s *boxv1.Showtime) {
			s.Annotations[boxv1.BreakGlassAnnotation] = "INC-4712 and the date"
		})).To(Succeed())
		Expect(testutil.ToFloat64(breakGlassTotal.WithLabelValues("Showtime", ns, "update"))).To(Equal(before + 2))

		// For a delete the annotation present counts (there is no new object to carry it).
		Expect(bob.Delete(ctx, st)).To(MatchError(ContainSubstring(`user "bob"`)))
		Expect(alice.Delete(ctx, st)).To(Succeed())
	})

	It("allows a rollback to the previous image and a scale-up, and nothing else with them", func() {
		cur := &boxv1.Showtime{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(st), cur)).To(Succeed())
		cur.Status.Versions = boxv1.VersionHistory{
			Shard:    boxv1.ImageHistory{Current: "registry.example/boxoffice:v3", Previous: testImage},
			Frontend: boxv1.ImageHistory{Current: "registry.example/boxoffice:v3", Previous: testImage},
		}
		Expect(operator.Status().Update(ctx, cur)).To(Succeed())
		Expect(editTitle(operator, st, "probe", func(s *boxv1.Showtime) {
			s.Spec.Shard.Image = "registry.example/boxoffice:v3"
			s.Spec.Frontend.Image = "registry.example/boxoffice:v3"
		})).To(Succeed())
		keepTitle := func(s *boxv1.Showtime) { s.Spec.Title = "probe" }

		// To an image it never ran: a new version, denied.
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) { s.Spec.Shard.Image = "registry.example/boxoffice:v4" })).
			To(MatchError(ContainSubstring("frozen by FreezeWindow")))
		// Back to the previous one (here the operator's default image, written as empty).
		Expect(editTitle(bob, st, "probe", keepTitle, func(s *boxv1.Showtime) { s.Spec.Shard.Image = "" })).To(Succeed())
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) { s.Spec.Frontend.Image = testImage })).To(Succeed())
		// A rollback smuggling another change is denied.
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) {
			s.Spec.Frontend.Image = "registry.example/boxoffice:v3"
			s.Spec.Sales.MaxSeatsPerHolder = 2
		})).To(HaveOccurred())

		// Scale-up of the autoscaling bounds is allowed, scale-down is not.
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) {
			s.Spec.Frontend.Autoscaling.MaxReplicas = 80
			s.Spec.Frontend.Autoscaling.MinReplicas = 4
		})).To(Succeed())
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) { s.Spec.Frontend.Autoscaling.MaxReplicas = 60 })).
			To(MatchError(ContainSubstring("frozen by FreezeWindow")))

		// More buyers choosing seats at once is a scale-up too (from the
		// CRD's default of 200); fewer, or the room turned off, is not.
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) { s.Spec.Sales.WaitingRoom.MaxActiveBuyers = 400 })).To(Succeed())
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) { s.Spec.Sales.WaitingRoom.MaxActiveBuyers = 300 })).
			To(MatchError(ContainSubstring("frozen by FreezeWindow")))
		Expect(editTitle(bob, st, "probe", func(s *boxv1.Showtime) {
			s.Spec.Sales.WaitingRoom.MaxActiveBuyers = 500
			s.Spec.Sales.WaitingRoom.IdleTimeout = metav1.Duration{Duration: 10 * time.Minute}
		})).To(MatchError(ContainSubstring("frozen by FreezeWindow")))
	})
})

var _ = Describe("Showtime webhook with windows not in force", func() {
	It("allows creates and edits under a window that has not started or has ended", func() {
		ns := newNamespace()
		label := strings.TrimPrefix(ns, "wh-")
		now := time.Now().Truncate(time.Second)
		windowAt("later-"+label, label, now.Add(time.Hour), now.Add(2*time.Hour))
		windowAt("over-"+label, label, now.Add(-2*time.Hour), now.Add(-time.Minute))
		// A window in force for another label, created last: once the
		// webhook's cache has it, it has the two above.
		frozenWindow("sentinel-"+label, "sentinel-"+label)
		sentinel := showtime(ns, "sentinel", map[string]string{"freeze": "sentinel-" + label}, farOpens())
		Expect(operator.Create(ctx, sentinel)).To(Succeed())
		Eventually(func() error { return editTitle(bob, sentinel, "probe") }).Should(HaveOccurred())

		st := showtime(ns, "standup", map[string]string{"freeze": label}, farOpens())
		Expect(bob.Create(ctx, st)).To(Succeed())
		Expect(editTitle(bob, st, "edited")).To(Succeed())
		Expect(bob.Delete(ctx, st)).To(Succeed())
	})
})

var _ = Describe("Showtime webhook without windows", func() {
	It("denies changes inside the showtime's own sale freeze, naming it, but allows its creation", func() {
		ns := newNamespace()
		st := showtime(ns, "peak", nil, time.Now().Add(10*time.Minute).Truncate(time.Second))
		Expect(bob.Create(ctx, st)).To(Succeed())
		err := editTitle(bob, st, "late change")
		Expect(err).To(MatchError(ContainSubstring("update of Showtime " + ns + "/peak denied: frozen by the showtime's own sale freeze (spec.sales.freeze, 30m before to 2h after opensAt")))

		off := false
		late := showtime(ns, "no-freeze", nil, time.Now().Add(10*time.Minute).Truncate(time.Second))
		late.Spec.Sales.Freeze.Enabled = &off
		Expect(bob.Create(ctx, late)).To(Succeed())
		Expect(editTitle(bob, late, "fine")).To(Succeed())

		// 0s is zero, not "use the defaults": a window of nothing around opensAt.
		zero := showtime(ns, "zero-freeze", nil, time.Now().Add(10*time.Minute).Truncate(time.Second))
		zero.Spec.Sales.Freeze.Before = &metav1.Duration{}
		zero.Spec.Sales.Freeze.After = &metav1.Duration{}
		Expect(bob.Create(ctx, zero)).To(Succeed())
		Expect(zero.Spec.Sales.Freeze.Before).To(HaveValue(Equal(metav1.Duration{})), "0s kept, not re-defaulted")
		Expect(editTitle(bob, zero, "fine too")).To(Succeed())
	})

	It("rejects a seat map the shard's parser refuses, naming the row", func() {
		ns := newNamespace()
		st := showtime(ns, "bad-map", nil, farOpens())
		st.Spec.SeatMap.Sections[0].Rows = append(st.Spec.SeatMap.Sections[0].Rows, boxv1.SeatRow{Names: "M-L", Seats: "1-10"})
		err := bob.Create(ctx, st)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(And(ContainSubstring("spec.seatMap.sections[0].rows[2]"), ContainSubstring(`"M-L"`)))
	})

	It("rejects a freeze window whose schedule the cron library refuses", func() {
		fw := &boxv1.FreezeWindow{ObjectMeta: metav1.ObjectMeta{Name: "bad-cron"}, Spec: boxv1.FreezeWindowSpec{
			Reason: "x", Recurring: &boxv1.RecurringPeriod{Schedule: "0 0 L * *", Duration: &metav1.Duration{Duration: time.Hour}}}}
		Expect(admin.Create(ctx, fw)).To(MatchError(ContainSubstring(`spec.recurring.schedule "0 0 L * *"`)))
		fw.Spec.Recurring.Schedule = "0 0 * * *"
		fw.Spec.TimeZone = "Mars/Olympus_Mons"
		Expect(admin.Create(ctx, fw)).To(MatchError(ContainSubstring(`spec.timeZone "Mars/Olympus_Mons" is not a known IANA time zone`)))
	})
})

var _ = Describe("Managed workload webhook", func() {
	var (
		ns  string
		st  *boxv1.Showtime
		dep *appsv1.Deployment
		sts *appsv1.StatefulSet
		hpa *autoscalingv2.HorizontalPodAutoscaler
		cm  *corev1.ConfigMap
	)
	BeforeEach(func() {
		ns = newNamespace()
		label := strings.TrimPrefix(ns, "wh-")
		st = showtime(ns, "standup", map[string]string{"freeze": label}, farOpens())
		Expect(operator.Create(ctx, st)).To(Succeed())
		st.Status.Versions = boxv1.VersionHistory{
			Shard:    boxv1.ImageHistory{Current: "registry.example/boxoffice:v3", Previous: testImage},
			Frontend: boxv1.ImageHistory{Current: "registry.example/boxoffice:v3", Previous: testImage},
		}
		Expect(operator.Status().Update(ctx, st)).To(Succeed())

		lbl := func(component string) map[string]string { return st.OwnedLabels(component) }
		podSpec := func(name string) corev1.PodTemplateSpec {
			return corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: st.SelectorLabels(name)},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.example/boxoffice:v3"}}},
			}
		}
		dep = &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: st.FrontendName(), Namespace: ns, Labels: lbl(boxv1.ComponentFrontend)},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: st.SelectorLabels("frontend")},
				Template: podSpec("frontend")},
		}
		sts = &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: st.ShardName(), Namespace: ns, Labels: lbl(boxv1.ComponentShard)},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: st.SelectorLabels("shard")},
				Template: podSpec("shard")},
		}
		hpa = &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: st.FrontendName(), Namespace: ns, Labels: lbl(boxv1.ComponentFrontend)},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 50,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: st.FrontendName()}},
		}
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: st.SeatMapName(), Namespace: ns, Labels: lbl(boxv1.ComponentShard)},
			Data: map[string]string{boxv1.SeatMapKey: "sections: []"}}
		for _, o := range []client.Object{dep, sts, hpa, cm} {
			Expect(operator.Create(ctx, o)).To(Succeed())
		}
		frozenWindow("wl-"+label, label)
		Eventually(func() error {
			return update(bob, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) { c.Data["probe"] = "x" })
		}).Should(HaveOccurred())
	})

	It("denies edits and deletes by anyone but the operator, naming the showtime", func() {
		err := update(bob, &appsv1.Deployment{ObjectMeta: dep.ObjectMeta}, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DEBUG", Value: "1"}}
		})
		Expect(err).To(MatchError(ContainSubstring("update of Deployment " + ns + "/standup-frontend denied: frozen by FreezeWindow")))
		Expect(err.Error()).To(ContainSubstring("(Deployment standup-frontend belongs to Showtime standup)"))
		Expect(update(admin, &appsv1.StatefulSet{ObjectMeta: sts.ObjectMeta}, func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Containers[0].Image = "registry.example/boxoffice:v4"
		})).To(MatchError(ContainSubstring("update of StatefulSet")))
		Expect(update(bob, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) { c.Data["x"] = "y" })).
			To(MatchError(ContainSubstring("update of ConfigMap")))
		Expect(bob.Delete(ctx, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta})).To(MatchError(ContainSubstring("delete of ConfigMap")))
		Expect(update(bob, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: hpa.ObjectMeta}, func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.MaxReplicas = 10
		})).To(MatchError(ContainSubstring("update of HorizontalPodAutoscaler")))
		Expect(update(bob, &appsv1.Deployment{ObjectMeta: dep.ObjectMeta}, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](1) })).
			To(HaveOccurred(), "scale-down is not a scale-up")

		// The operator and metadata-only changes pass; so do status writes.
		Expect(update(operator, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) { c.Data["x"] = "y" })).To(Succeed())
		Expect(update(bob, &appsv1.Deployment{ObjectMeta: dep.ObjectMeta}, func(d *appsv1.Deployment) {
			d.Annotations = map[string]string{"deployment.kubernetes.io/revision": "2"}
		})).To(Succeed())
		cur := &appsv1.Deployment{}
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(dep), cur)).To(Succeed())
		cur.Status.Replicas = 2
		Expect(bob.Status().Update(ctx, cur)).To(Succeed())
	})

	It("allows a rollback to the previous image and a scale-up", func() {
		Expect(update(bob, &appsv1.StatefulSet{ObjectMeta: sts.ObjectMeta}, func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Containers[0].Image = testImage
		})).To(Succeed())
		Expect(update(bob, &appsv1.Deployment{ObjectMeta: dep.ObjectMeta}, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = testImage
			d.Spec.Replicas = ptr.To[int32](10)
		})).To(Succeed())
		Expect(update(bob, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: hpa.ObjectMeta}, func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.MaxReplicas = 200
			h.Spec.MinReplicas = ptr.To[int32](20)
		})).To(Succeed())
	})

	It("lets a break-glass group edit, with an event on the workload", func() {
		Expect(update(alice, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) {
			c.Annotations = map[string]string{boxv1.BreakGlassAnnotation: "INC-9 hot fix"}
			c.Data["x"] = "y"
		})).To(Succeed())
		Eventually(func() []eventsv1.Event { return eventsFor(ns, "standup-seatmap") }).Should(ContainElement(And(
			HaveField("Reason", "BreakGlass"), HaveField("Note", ContainSubstring("INC-9 hot fix")))))
		// The annotation left on the object does not carry later edits.
		Expect(update(bob, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) { c.Data["z"] = "1" })).
			To(MatchError(And(ContainSubstring("update of ConfigMap "+ns+"/standup-seatmap denied: frozen by FreezeWindow"),
				ContainSubstring(`annotation already on the object ("INC-9 hot fix") was set by an earlier change and does not count`))))
		Expect(update(alice, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) { c.Data["z"] = "1" })).
			To(MatchError(ContainSubstring("was set by an earlier change and does not count")))
		Expect(update(bob, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) {
			c.Annotations[boxv1.BreakGlassAnnotation] = "INC-10 me too"
			c.Data["z"] = "1"
		})).To(MatchError(ContainSubstring("is not allowed to break glass")))
		Expect(update(alice, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) {
			c.Annotations[boxv1.BreakGlassAnnotation] = "INC-10 second fix"
			c.Data["z"] = "1"
		})).To(Succeed())
		// Removing the annotation is metadata only: allowed, and nothing to honour.
		Expect(update(bob, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) {
			delete(c.Annotations, boxv1.BreakGlassAnnotation)
		})).To(Succeed())
	})

	It("denies a scale-down through the scale subresource and allows a scale-up", func() {
		shard := &appsv1.StatefulSet{ObjectMeta: sts.ObjectMeta}
		front := &appsv1.Deployment{ObjectMeta: dep.ObjectMeta}
		Expect(sts.Name).To(Equal(st.ShardName()), "the webhook's matchConditions select shard and front-end names")
		Expect(dep.Name).To(Equal(st.FrontendName()))
		replicasOf := func(o client.Object) int32 {
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
			switch x := o.(type) {
			case *appsv1.StatefulSet:
				return *x.Spec.Replicas
			case *appsv1.Deployment:
				return *x.Spec.Replicas
			}
			return -1
		}

		// kubectl scale sts standup-shard --replicas=0, mid-freeze.
		err := scaleTo(bob, shard, 0)
		Expect(err).To(MatchError(ContainSubstring(`admission webhook "vworkloads-scale.boxoffice.dev" denied the request: scale-down of StatefulSet ` + ns + `/standup-shard denied: frozen by FreezeWindow`)))
		Expect(err.Error()).To(ContainSubstring("(StatefulSet standup-shard belongs to Showtime standup; scale from 1 to 0 replicas)"))
		Expect(err.Error()).To(ContainSubstring("Allowed during a freeze: scaling up."))
		Expect(scaleTo(admin, shard, 0)).To(HaveOccurred(), "cluster admins are not exempt")
		Expect(replicasOf(shard)).To(Equal(int32(1)))

		// A scale-up always passes; going back down does not.
		Expect(scaleTo(bob, shard, 2)).To(Succeed())
		Expect(replicasOf(shard)).To(Equal(int32(2)))
		Expect(scaleTo(bob, shard, 1)).To(MatchError(ContainSubstring("scale from 2 to 1 replicas")))
		Expect(scaleTo(bob, front, 6)).To(Succeed())
		Expect(scaleTo(bob, front, 3)).To(MatchError(ContainSubstring("scale-down of Deployment " + ns + "/standup-frontend denied")))
		Expect(replicasOf(front)).To(Equal(int32(6)))

		// The autoscaler may scale the front end down (within its frozen
		// minReplicas), not the shard.
		hpaController := impersonate("system:serviceaccount:kube-system:horizontal-pod-autoscaler")
		Expect(scaleTo(hpaController, front, 4)).To(Succeed())
		Expect(scaleTo(hpaController, shard, 1)).To(HaveOccurred())

		// The operator may.
		Expect(scaleTo(operator, shard, 1)).To(Succeed())

		// The Scale carries no annotations: break-glass goes through the object itself.
		err = scaleTo(alice, shard, 0)
		Expect(err).To(MatchError(ContainSubstring("the scale subresource carries no annotations: set spec.replicas on the StatefulSet itself in the same change")))
		Expect(update(alice, shard, func(s *appsv1.StatefulSet) {
			s.Annotations = map[string]string{boxv1.BreakGlassAnnotation: "INC-77 drain the shard"}
			s.Spec.Replicas = ptr.To[int32](0)
		})).To(Succeed())
		Expect(replicasOf(shard)).To(Equal(int32(0)))
		Eventually(func() []eventsv1.Event { return eventsFor(ns, "standup-shard") }).Should(ContainElement(And(
			HaveField("Reason", "BreakGlass"), HaveField("Note", ContainSubstring("INC-77 drain the shard")))))
	})

	It("leaves scale-downs of workloads it does not manage, or not frozen, alone", func() {
		// Named like a shard, but not Box office's: the webhook reads it and lets it be.
		own := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "users-own-shard", Namespace: ns, Labels: map[string]string{boxv1.LabelShowtime: "standup"}},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "own"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "own"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
		}
		Expect(bob.Create(ctx, own)).To(Succeed())
		Expect(scaleTo(bob, own, 1)).To(Succeed())

		// Box office's, but its showtime is not frozen.
		other := showtime(ns, "matinee", map[string]string{"freeze": "elsewhere"}, farOpens())
		Expect(operator.Create(ctx, other)).To(Succeed())
		free := sts.DeepCopy()
		free.ObjectMeta = metav1.ObjectMeta{Name: other.ShardName(), Namespace: ns, Labels: other.OwnedLabels(boxv1.ComponentShard)}
		free.Spec.Replicas = ptr.To[int32](1)
		Expect(operator.Create(ctx, free)).To(Succeed())
		Expect(scaleTo(bob, free, 0)).To(Succeed())
	})

	It("leaves objects without the managed-by label alone", func() {
		own := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "users-own", Namespace: ns,
			Labels: map[string]string{boxv1.LabelShowtime: "standup"}}, Data: map[string]string{"a": "b"}}
		Expect(bob.Create(ctx, own)).To(Succeed())
		Expect(update(bob, own, func(c *corev1.ConfigMap) { c.Data["a"] = "c" })).To(Succeed())
	})
})
