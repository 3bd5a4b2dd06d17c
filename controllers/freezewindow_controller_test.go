package controllers

import (
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
)

func createWindow(name string, spec boxv1.FreezeWindowSpec) *boxv1.FreezeWindow {
	fw := &boxv1.FreezeWindow{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	Expect(k8sClient.Create(ctx, fw)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(ctx, fw) })
	return fw
}

var _ = Describe("FreezeWindow controller", func() {
	var (
		clk *clocktesting.FakePassiveClock
		rec *events.FakeRecorder
		r   *FreezeWindowReconciler
	)
	BeforeEach(func() {
		clk = clocktesting.NewFakePassiveClock(baseTime)
		rec = events.NewFakeRecorder(100)
		r = &FreezeWindowReconciler{Client: k8sClient, Recorder: rec, Clock: clk}
	})
	reconcile := func(name string) (ctrl.Result, *boxv1.FreezeWindow) {
		res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: name}})
		Expect(err).NotTo(HaveOccurred())
		fw := &boxv1.FreezeWindow{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Name: name}, fw)).To(Succeed())
		return res, fw
	}

	It("reports next start, activates at the exact start with an event, and ends at the exact end", func() {
		start, end := baseTime.Add(90*time.Minute), baseTime.Add(5*time.Hour)
		createWindow("fw-oneoff", boxv1.FreezeWindowSpec{Reason: "11.11 sale", TimeZone: "Asia/Bangkok",
			OneOff: &boxv1.OneOffPeriod{Start: metav1.NewTime(start), End: metav1.NewTime(end)}})

		res, fw := reconcile("fw-oneoff")
		Expect(res.RequeueAfter).To(Equal(90 * time.Minute))
		Expect(fw.Status.Active).To(BeFalse())
		Expect(fw.Status.NextStart.Time).To(BeTemporally("==", start))
		Expect(fw.Status.CurrentEnd).To(BeNil())
		Expect(meta.IsStatusConditionTrue(fw.Status.Conditions, boxv1.ConditionValid)).To(BeTrue())
		Expect(drainEvents(rec)).To(BeEmpty())

		// A second reconcile with nothing new writes nothing.
		rv := fw.ResourceVersion
		_, fw = reconcile("fw-oneoff")
		Expect(fw.ResourceVersion).To(Equal(rv))

		clk.SetTime(start)
		res, fw = reconcile("fw-oneoff")
		Expect(fw.Status.Active).To(BeTrue())
		Expect(fw.Status.CurrentEnd.Time).To(BeTemporally("==", end))
		Expect(fw.Status.NextStart).To(BeNil())
		Expect(res.RequeueAfter).To(Equal(end.Sub(start)))
		c := meta.FindStatusCondition(fw.Status.Conditions, boxv1.ConditionActive)
		Expect(c.Message).To(ContainSubstring("until 2026-11-25 14:00 +07 (+07:00) Asia/Bangkok"))
		evs := drainEvents(rec)
		Expect(evs).To(HaveLen(1))
		Expect(evs[0]).To(And(ContainSubstring("Activated"), ContainSubstring("11.11 sale")))

		clk.SetTime(end)
		res, fw = reconcile("fw-oneoff")
		Expect(fw.Status.Active).To(BeFalse())
		Expect(fw.Status.CurrentEnd).To(BeNil())
		Expect(res.RequeueAfter).To(BeZero())
		Expect(drainEvents(rec)).To(ConsistOf(ContainSubstring("Deactivated")))
	})

	It("follows the last days of the month in the window's time zone", func() {
		n := int32(3)
		createWindow("fw-month-end", boxv1.FreezeWindowSpec{Reason: "month-end close", TimeZone: "Asia/Bangkok",
			Recurring: &boxv1.RecurringPeriod{LastDaysOfMonth: &n}})
		// baseTime is 2026-11-25 02:00 UTC; the period starts 2026-11-28 00:00 +07.
		want := time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC)
		res, fw := reconcile("fw-month-end")
		Expect(fw.Status.NextStart.Time).To(BeTemporally("==", want))
		Expect(res.RequeueAfter).To(Equal(want.Sub(baseTime)))
		Expect(fw.Spec.TimeZone).To(Equal("Asia/Bangkok"))
	})

	It("reports a schedule the cron library rejects as not Valid", func() {
		createWindow("fw-bad-cron", boxv1.FreezeWindowSpec{Reason: "x",
			Recurring: &boxv1.RecurringPeriod{Schedule: "0 0 32 * *", Duration: &metav1.Duration{Duration: time.Hour}}})
		res, fw := reconcile("fw-bad-cron")
		Expect(res.RequeueAfter).To(BeZero())
		c := meta.FindStatusCondition(fw.Status.Conditions, boxv1.ConditionValid)
		Expect(c.Status).To(Equal(metav1.ConditionFalse))
		Expect(c.Message).To(ContainSubstring(`spec.recurring.schedule "0 0 32 * *"`))
		Expect(fw.Spec.TimeZone).To(Equal("UTC"), "timeZone defaults to UTC")
	})

	It("rejects invalid windows with messages naming the fields", func() {
		d := &metav1.Duration{Duration: time.Hour}
		n := int32(3)
		bad := map[string]boxv1.FreezeWindowSpec{
			"exactly one of spec.oneOff and spec.recurring": {Reason: "x"},
			"spec.oneOff.end must be after spec.oneOff.start": {Reason: "x", OneOff: &boxv1.OneOffPeriod{
				Start: metav1.NewTime(baseTime), End: metav1.NewTime(baseTime)}},
			"spec.recurring needs exactly one of schedule": {Reason: "x", Recurring: &boxv1.RecurringPeriod{
				Schedule: "0 0 * * *", Duration: d, LastDaysOfMonth: &n}},
			"spec.recurring.duration is required with spec.recurring.schedule": {Reason: "x", Recurring: &boxv1.RecurringPeriod{
				Schedule: "0 0 * * *"}},
			"spec.recurring.duration must be a duration between 1m and 744h": {Reason: "x", Recurring: &boxv1.RecurringPeriod{
				Schedule: "0 0 * * *", Duration: &metav1.Duration{Duration: 800 * time.Hour}}},
			"use spec.timeZone instead of TZ=": {Reason: "x", Recurring: &boxv1.RecurringPeriod{
				Schedule: "CRON_TZ=UTC 0 0 * * *", Duration: d}},
			"spec.timeZone must be an IANA time zone name": {Reason: "x", TimeZone: "Asia Bangkok", OneOff: &boxv1.OneOffPeriod{
				Start: metav1.NewTime(baseTime), End: metav1.NewTime(baseTime.Add(time.Hour))}},
		}
		for msg, spec := range bad {
			fw := &boxv1.FreezeWindow{ObjectMeta: metav1.ObjectMeta{GenerateName: "fw-bad-"}, Spec: spec}
			err := k8sClient.Create(ctx, fw)
			Expect(err).To(HaveOccurred(), msg)
			Expect(err.Error()).To(ContainSubstring(msg))
		}
	})
})

var _ = Describe("Showtime Frozen condition", func() {
	It("names the selecting window and its end, flips at the exact boundary, and ignores others", func() {
		f := newFixture(func(st *boxv1.Showtime) { st.Labels = map[string]string{"freeze-test": "frozen"} })
		start, end := baseTime.Add(20*time.Minute), baseTime.Add(40*time.Minute)
		createWindow("fw-select", boxv1.FreezeWindowSpec{Reason: "release freeze", TimeZone: "Europe/Paris",
			ShowtimeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"freeze-test": "frozen"}},
			OneOff:           &boxv1.OneOffPeriod{Start: metav1.NewTime(start), End: metav1.NewTime(end)}})
		createWindow("fw-other", boxv1.FreezeWindowSpec{Reason: "not this one",
			ShowtimeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"freeze-test": "other"}},
			OneOff:           &boxv1.OneOffPeriod{Start: metav1.NewTime(baseTime), End: metav1.NewTime(end)}})

		res := f.reconcile()
		Expect(res.RequeueAfter).To(Equal(20 * time.Minute))
		c := cond(f.showtime(), boxv1.ConditionFrozen)
		Expect(c.Status).To(Equal(metav1.ConditionFalse))
		Expect(c.Message).To(ContainSubstring("the sale freeze runs from 2026-11-25T03:30:00Z to 2026-11-25T06:00:00Z"))

		f.clock.SetTime(start)
		res = f.reconcile()
		c = cond(f.showtime(), boxv1.ConditionFrozen)
		Expect(c.Status).To(Equal(metav1.ConditionTrue))
		Expect(c.Reason).To(Equal("FreezeWindow"))
		Expect(c.Message).To(ContainSubstring(`FreezeWindow "fw-select" (reason: release freeze) until 2026-11-25 03:40 CET (+01:00) Europe/Paris`))
		Expect(c.Message).NotTo(ContainSubstring("fw-other"))
		Expect(res.RequeueAfter).To(Equal(20 * time.Minute))

		// Between the window and the sale freeze.
		f.clock.SetTime(end)
		res = f.reconcile()
		Expect(cond(f.showtime(), boxv1.ConditionFrozen).Status).To(Equal(metav1.ConditionFalse))
		Expect(res.RequeueAfter).To(Equal(f.opens.Add(-30 * time.Minute).Sub(end)))

		// The sale freeze: 30m before opensAt to 2h after.
		f.clock.SetTime(f.opens.Add(-30 * time.Minute))
		f.reconcile()
		c = cond(f.showtime(), boxv1.ConditionFrozen)
		Expect(c.Status).To(Equal(metav1.ConditionTrue))
		Expect(c.Reason).To(Equal("SaleFreeze"))
		Expect(c.Message).To(ContainSubstring("sale freeze (spec.sales.freeze, 30m before to 2h after opensAt 2026-11-25T04:00:00Z) until 2026-11-25 06:00 UTC"))
		f.clock.SetTime(f.opens.Add(2 * time.Hour))
		f.reconcile()
		Expect(cond(f.showtime(), boxv1.ConditionFrozen).Status).To(Equal(metav1.ConditionFalse))
	})

	It("defaults the sale freeze and records the images run ready", func() {
		f := newFixture()
		st := f.showtime()
		Expect(st.Spec.Sales.Freeze.Enabled).To(HaveValue(BeTrue()))
		Expect(st.Spec.Sales.Freeze.Before.Duration).To(Equal(30 * time.Minute))
		Expect(st.Spec.Sales.Freeze.After.Duration).To(Equal(2 * time.Hour))

		f.reconcile()
		pod := f.makeShardPod(true)
		f.reconcile()
		Expect(f.showtime().Status.Versions.Shard).To(Equal(boxv1.ImageHistory{Current: testImage, History: []string{testImage}}))
		// No front-end pod is ready yet: nothing recorded.
		Expect(f.showtime().Status.Versions.Frontend).To(Equal(boxv1.ImageHistory{}))
		dep := &appsv1.Deployment{}
		f.get(f.st.FrontendName(), dep)
		dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1}
		Expect(k8sClient.Status().Update(ctx, dep)).To(Succeed())
		Eventually(func() boxv1.ImageHistory { f.reconcile(); return f.showtime().Status.Versions.Frontend }).
			Should(Equal(boxv1.ImageHistory{Current: testImage, History: []string{testImage}}))

		// The pod is replaced by one running a new image, not ready yet:
		// not a version the showtime has run.
		replace := func(image string) *corev1.Pod {
			cur := &corev1.Pod{}
			f.get(pod.Name, cur)
			Expect(k8sClient.Delete(ctx, cur)).To(Succeed())
			newPod := pod.DeepCopy()
			newPod.ResourceVersion, newPod.UID = "", ""
			newPod.Spec.Containers[0].Image = image
			Eventually(func() error { return k8sClient.Create(ctx, newPod) }).Should(Succeed())
			return newPod
		}
		newPod := replace("registry.example/boxoffice:v1.3.0")
		f.setPodReady(newPod, false)
		f.reconcile()
		Expect(f.showtime().Status.Versions.Shard.History).To(Equal([]string{testImage}))
		f.setPodReady(newPod, true)
		f.reconcile()
		Expect(f.showtime().Status.Versions.Shard).To(Equal(boxv1.ImageHistory{
			Current: "registry.example/boxoffice:v1.3.0", Previous: testImage,
			History: []string{"registry.example/boxoffice:v1.3.0", testImage}}))
		Expect(strings.Contains(cond(f.showtime(), boxv1.ConditionFrozen).Message, "no freeze window")).To(BeTrue())
	})
})
