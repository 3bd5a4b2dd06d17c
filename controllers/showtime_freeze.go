package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// freezeScope is what the freeze phase reads: the freeze windows and the
// showtime's namespace labels.
type freezeScope struct {
	windows  []boxv1.FreezeWindow
	nsLabels map[string]string
	err      error
}

// +kubebuilder:rbac:groups=boxoffice.dev,resources=freezewindows,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// reconcileFreeze reads the freeze windows that could apply. A failure to
// read them does not stop the reconcile: Frozen becomes Unknown.
func (r *ShowtimeReconciler) reconcileFreeze(ctx context.Context, s *scope) error {
	fs := &freezeScope{}
	s.freeze = fs
	list := &boxv1.FreezeWindowList{}
	if err := r.List(ctx, list); err != nil {
		fs.err = err
		logf.FromContext(ctx).Info("freeze windows unreadable", "error", err.Error())
		return nil
	}
	fs.windows = list.Items
	needNS := false
	for i := range fs.windows {
		if sel := fs.windows[i].Spec.NamespaceSelector; sel != nil && (len(sel.MatchLabels) > 0 || len(sel.MatchExpressions) > 0) {
			needNS = true
		}
	}
	if needNS {
		fs.nsLabels, fs.err = freeze.NamespaceLabels(ctx, r, s.st.Namespace)
	}
	return nil
}

// setFrozenCondition sets Frozen from the windows in force now and the
// showtime's own sale freeze, naming each and its end. It also notes the
// images seen running, so admission can tell a rollback from a new version.
func setFrozenCondition(s *scope) {
	recordVersions(s)
	st := s.st
	if s.freeze != nil && s.freeze.err != nil {
		setConditionStatus(st, boxv1.ConditionFrozen, metav1.ConditionUnknown, "FreezeWindowsUnreadable",
			"cannot read freeze windows: "+s.freeze.err.Error())
		return
	}
	var windows []boxv1.FreezeWindow
	var nsLabels map[string]string
	if s.freeze != nil {
		windows, nsLabels = s.freeze.windows, s.freeze.nsLabels
	}
	hits := freeze.ForShowtime(windows, nsLabels, st, s.now)
	if len(hits) == 0 {
		msg := "no freeze window applies"
		if start, end, ok := freeze.SaleFreezeWindow(st); ok && s.now.Before(start) {
			msg += fmt.Sprintf("; the sale freeze runs from %s to %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
		}
		setConditionStatus(st, boxv1.ConditionFrozen, metav1.ConditionFalse, "NotFrozen", msg)
		return
	}
	parts := make([]string, 0, len(hits))
	reason := "SaleFreeze"
	for _, h := range hits {
		parts = append(parts, h.String())
		if !h.Sale() {
			reason = "FreezeWindow"
		}
	}
	setConditionStatus(st, boxv1.ConditionFrozen, metav1.ConditionTrue, reason,
		"frozen by "+strings.Join(parts, "; ")+"; changes are denied except rollbacks, scale-ups and break-glass")
}

func setConditionStatus(st *boxv1.Showtime, typ string, status metav1.ConditionStatus, reason, msg string) {
	setStatusCondition(&st.Status.Conditions, st.Generation, typ, status, reason, msg)
}

// freezeBoundaries are the next instants at which Frozen flips: the sale
// freeze's start and end and each selecting window's next start or end.
func freezeBoundaries(s *scope) []time.Time {
	var out []time.Time
	if start, end, ok := freeze.SaleFreezeWindow(s.st); ok {
		out = append(out, start, end)
	}
	if s.freeze != nil && s.freeze.err == nil {
		out = append(out, freeze.Boundaries(s.freeze.windows, s.freeze.nsLabels, s.st.Labels, s.now)...)
	}
	return out
}

// freezeWindowToShowtimes re-reconciles every Showtime when a window changes:
// a changed selector can add or drop any of them.
func (r *ShowtimeReconciler) freezeWindowToShowtimes() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []ctrl.Request {
		list := &boxv1.ShowtimeList{}
		if err := r.List(ctx, list); err != nil {
			logf.FromContext(ctx).Error(err, "listing showtimes for a freeze window change")
			return nil
		}
		reqs := make([]ctrl.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: list.Items[i].Namespace, Name: list.Items[i].Name}})
		}
		return reqs
	})
}
