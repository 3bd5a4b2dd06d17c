package webhooks

import (
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	"boxoffice.dev/boxoffice/internal/freeze"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		// The annotation is on the object now; a delete by the group carries it too.
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

		lbl := func(component string) map[string]string { return specs.Labels(st, component) }
		podSpec := func(name string) corev1.PodTemplateSpec {
			return corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: specs.SelectorLabels(st, name)},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.example/boxoffice:v3"}}},
			}
		}
		dep = &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "standup-frontend", Namespace: ns, Labels: lbl(specs.ComponentFrontend)},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: specs.SelectorLabels(st, "frontend")},
				Template: podSpec("frontend")},
		}
		sts = &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "standup-shard", Namespace: ns, Labels: lbl(specs.ComponentShard)},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: specs.SelectorLabels(st, "shard")},
				Template: podSpec("shard")},
		}
		hpa = &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "standup-frontend", Namespace: ns, Labels: lbl(specs.ComponentFrontend)},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 50,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "standup-frontend"}},
		}
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "standup-seatmap", Namespace: ns, Labels: lbl(specs.ComponentShard)},
			Data: map[string]string{"seatmap.yaml": "sections: []"}}
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
		Expect(update(bob, &corev1.ConfigMap{ObjectMeta: cm.ObjectMeta}, func(c *corev1.ConfigMap) { c.Data["z"] = "1" })).
			To(MatchError(ContainSubstring("is not allowed to break glass")))
	})

	It("leaves objects without the managed-by label alone", func() {
		own := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "users-own", Namespace: ns,
			Labels: map[string]string{specs.LabelShowtime: "standup"}}, Data: map[string]string{"a": "b"}}
		Expect(bob.Create(ctx, own)).To(Succeed())
		Expect(update(bob, own, func(c *corev1.ConfigMap) { c.Data["a"] = "c" })).To(Succeed())
	})
})
