package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// FreezeWindowReconciler keeps each FreezeWindow's status (active, current
// end, next start) true, looking again at the exact next boundary rather
// than polling.
type FreezeWindowReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Clock is injectable so boundaries can be tested exactly.
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=boxoffice.dev,resources=freezewindows,verbs=get;list;watch
// +kubebuilder:rbac:groups=boxoffice.dev,resources=freezewindows/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes the window's state at now, writes the status only when
// it changed, and asks to run again at the next start or end.
func (r *FreezeWindowReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	fw := &boxv1.FreezeWindow{}
	if err := r.Get(ctx, req.NamespacedName, fw); err != nil {
		if apierrors.IsNotFound(err) {
			freezeWindowActive.DeletePartialMatch(prometheus.Labels{"window": req.Name})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	before := fw.DeepCopy()
	st := &fw.Status
	st.ObservedGeneration = fw.Generation

	sched, err := freeze.CompileWindow(fw)
	if err != nil {
		st.Active, st.CurrentStart, st.CurrentEnd, st.NextStart = false, nil, nil, nil
		setFWCondition(fw, boxv1.ConditionValid, false, "InvalidSchedule", err.Error())
		setFWCondition(fw, boxv1.ConditionActive, false, "InvalidSchedule", "an invalid window freezes nothing")
		if c := meta.FindStatusCondition(before.Status.Conditions, boxv1.ConditionValid); c == nil || c.Status != metav1.ConditionFalse || c.Message != err.Error() {
			r.Recorder.Eventf(fw, nil, corev1.EventTypeWarning, "InvalidSchedule", "Validate", "%v", err)
		}
		return ctrl.Result{}, r.writeStatus(ctx, before, fw)
	}
	state := sched.At(now)
	st.Active = state.Active
	active := 0.0
	if state.Active {
		active = 1
	}
	freezeWindowActive.WithLabelValues(fw.Name).Set(active)
	st.CurrentStart, st.CurrentEnd, st.NextStart = timePtr(state.Start), timePtr(state.End), timePtr(state.Next)
	setFWCondition(fw, boxv1.ConditionValid, true, "Valid", "schedule and time zone "+sched.Location.String()+" are valid")
	if state.Active {
		setFWCondition(fw, boxv1.ConditionActive, true, "InPeriod", "changes to selected showtimes are denied until "+showTime(state.End, sched.Location))
	} else if state.Next.IsZero() {
		setFWCondition(fw, boxv1.ConditionActive, false, "NoMorePeriods", "no period will start again")
	} else {
		setFWCondition(fw, boxv1.ConditionActive, false, "BetweenPeriods", "next period starts "+showTime(state.Next, sched.Location))
	}

	if state.Active && !before.Status.Active {
		r.Recorder.Eventf(fw, nil, corev1.EventTypeNormal, "Activated", "Freeze",
			"freeze %q active until %s: changes to selected showtimes are denied", fw.Spec.Reason, showTime(state.End, sched.Location))
	} else if !state.Active && before.Status.Active {
		r.Recorder.Eventf(fw, nil, corev1.EventTypeNormal, "Deactivated", "Freeze", "freeze %q over", fw.Spec.Reason)
	}
	if err := r.writeStatus(ctx, before, fw); err != nil {
		return ctrl.Result{}, err
	}
	if b := state.Boundary(); !b.IsZero() {
		d := b.Sub(now)
		if d <= 0 {
			d = time.Millisecond
		}
		return ctrl.Result{RequeueAfter: d}, nil
	}
	return ctrl.Result{}, nil
}

func (r *FreezeWindowReconciler) writeStatus(ctx context.Context, before, fw *boxv1.FreezeWindow) error {
	if equality.Semantic.DeepEqual(before.Status, fw.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, fw, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("writing freeze window status: %w", err)
	}
	return nil
}

func setFWCondition(fw *boxv1.FreezeWindow, typ string, ok bool, reason, msg string) {
	setStatusCondition(&fw.Status.Conditions, fw.Generation, typ, conditionStatus(ok), reason, msg)
}

func timePtr(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return ptr.To(metav1.NewTime(t))
}

// showTime shows an instant in a window's zone, with the zone named.
func showTime(t time.Time, loc *time.Location) string {
	return freeze.Hit{End: t, Location: loc}.EndString()
}

// SetupWithManager watches FreezeWindows.
func (r *FreezeWindowReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&boxv1.FreezeWindow{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("freezewindow").
		Complete(r)
}
