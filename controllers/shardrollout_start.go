package controllers

import (
	"context"
	"fmt"
	"sort"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// start takes the snapshot of the selected showtimes and checks the log
// format before anything moves.
func (r *ShardRolloutReconciler) start(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	ro.Status.Phase = boxv1.RolloutPending
	if ro.Spec.Abort {
		ro.Status.Phase = boxv1.RolloutRolledBack
		ro.Status.Reason, ro.Status.Message = "Aborted", "aborted before any showtime moved"
		ro.Status.CompletedAt = ptr.To(metav1.NewTime(s.now))
		return nil
	}
	if len(ro.Status.Showtimes) == 0 {
		sts, err := r.selectShowtimes(ctx, ro)
		if err != nil {
			return err
		}
		if len(sts) == 0 {
			r.fail(s, "NothingSelected", "no Showtime matches spec.scope")
			return nil
		}
		sts, rates := r.orderByTraffic(ctx, s.now, sts)
		for i := range sts {
			st := &sts[i]
			s.showtimes[client.ObjectKeyFromObject(st)] = st
			e := boxv1.RolloutShowtime{
				Namespace: st.Namespace, Name: st.Name, State: boxv1.ShowtimePending, WritesPerSecond: rates[i],
				FromShardImage: st.Spec.Shard.Image, FromFrontendImage: st.Spec.Frontend.Image,
				ToShardImage: ro.Spec.Target.ShardImage, ToFrontendImage: ro.Spec.Target.FrontendImage,
			}
			if r.onTarget(ro, st) {
				e.State, e.Analysis, e.Message = boxv1.ShowtimeUpgraded, boxv1.AnalysisSkipped, "already on the target"
			}
			ro.Status.Showtimes = append(ro.Status.Showtimes, e)
		}
	} else if err := r.loadShowtimes(ctx, s); err != nil {
		return err
	}

	if ok, err := r.checkLogFormat(ctx, s); err != nil || !ok {
		return err
	}
	ro.Status.Phase = boxv1.RolloutProgressing
	ro.Status.CurrentStep = 1
	ro.Status.StartedAt = ptr.To(metav1.NewTime(s.now))
	ro.Status.Reason, ro.Status.Message = "Started", fmt.Sprintf("moving %d showtimes to %s", len(ro.Status.Showtimes), targetString(ro))
	return r.progress(ctx, s)
}

// checkLogFormat refuses a target whose log the stable shards cannot read.
// It returns false while the rollout may not start.
func (r *ShardRolloutReconciler) checkLogFormat(ctx context.Context, s *rolloutScope) (bool, error) {
	ro := s.ro
	want := ro.Spec.LogCompatibility.TargetLogFormat
	if ro.Spec.Target.ShardImage == "" || want == 0 {
		return r.applyLogCheck(s, rolloutplan.LogFormatNotChecked()), nil
	}
	var readers []string
	minFormat := int64(0)
	for i := range ro.Status.Showtimes {
		if len(readers) >= r.stableSample() {
			break
		}
		e := &ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil || e.State != boxv1.ShowtimePending {
			continue
		}
		f, ok := r.oldestLogFormat(ctx, st)
		if !ok {
			continue
		}
		if minFormat == 0 || f < minFormat {
			minFormat = f
		}
		readers = append(readers, fmt.Sprintf("%s (format %d)", entryKey(e), f))
	}
	v := rolloutplan.JudgeLogFormat(want, minFormat, readers, ro.Spec.LogCompatibility.AllowIncompatibleLogFormat)
	if len(readers) > 0 {
		ro.Status.StableLogFormat = int32(minFormat)
	}
	return r.applyLogCheck(s, v), nil
}

// applyLogCheck records the log-format verdict: the condition, a retry, the
// event of an allowed incompatible format, or the refused start. It returns
// whether the rollout may start.
func (r *ShardRolloutReconciler) applyLogCheck(s *rolloutScope, v rolloutplan.LogCheck) bool {
	ro := s.ro
	setRolloutCondition(ro, boxv1.RolloutConditionLogCompatible, v.Condition.Status, v.Condition.Reason, v.Condition.Message)
	switch {
	case v.Retry:
		ro.Status.Reason, ro.Status.Message = "CheckingLogFormat", v.Condition.Message
		s.requeueAt(s.now.Add(logFormatRetry))
	case v.Allowed:
		s.event(ro, nil, corev1.EventTypeWarning, "IncompatibleLogFormatAllowed", "Start", "%s", v.Condition.Message)
	case v.Fail != "":
		r.fail(s, "IncompatibleLogFormat", v.Fail)
	}
	return v.Start
}

// restart sends a RolledBack or Failed rollout back to the start (spec.retry):
// a new selection, step 1, fresh analysis. spec.abort and spec.retry are
// cleared.
func (r *ShardRolloutReconciler) restart(s *rolloutScope) {
	ro := s.ro
	was := fmt.Sprintf("%s (%s: %s)", ro.Status.Phase, ro.Status.Reason, ro.Status.Message)
	ro.Status = boxv1.ShardRolloutStatus{}
	s.consumeRetry, s.consumeAbort = true, true
	ro.Spec.Abort = false
	s.event(ro, nil, corev1.EventTypeNormal, "Retried", "Retry", "starting over from a new selection; it was %s", was)
}

func (r *ShardRolloutReconciler) fail(s *rolloutScope, reason, msg string) {
	s.ro.Status.Phase = boxv1.RolloutFailed
	s.ro.Status.Reason, s.ro.Status.Message = reason, msg
	s.ro.Status.CompletedAt = ptr.To(metav1.NewTime(s.now))
}

// selectShowtimes lists the showtimes in scope in a stable order:
// namespace, then name (start then puts the busiest first).
func (r *ShardRolloutReconciler) selectShowtimes(ctx context.Context, ro *boxv1.ShardRollout) ([]boxv1.Showtime, error) {
	stSel, err := selectorOrAll(ro.Spec.Scope.ShowtimeSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.scope.showtimeSelector: %w", err)
	}
	var namespaces map[string]bool
	if sel := ro.Spec.Scope.NamespaceSelector; sel != nil {
		nsSel, err := selectorOrAll(sel)
		if err != nil {
			return nil, fmt.Errorf("spec.scope.namespaceSelector: %w", err)
		}
		list := &corev1.NamespaceList{}
		if err := r.List(ctx, list, client.MatchingLabelsSelector{Selector: nsSel}); err != nil {
			return nil, fmt.Errorf("listing namespaces: %w", err)
		}
		namespaces = map[string]bool{}
		for _, ns := range list.Items {
			namespaces[ns.Name] = true
		}
	}
	list := &boxv1.ShowtimeList{}
	if err := r.List(ctx, list, client.MatchingLabelsSelector{Selector: stSel}); err != nil {
		return nil, fmt.Errorf("listing showtimes: %w", err)
	}
	var out []boxv1.Showtime
	for _, st := range list.Items {
		if namespaces != nil && !namespaces[st.Namespace] {
			continue
		}
		if !st.DeletionTimestamp.IsZero() {
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func selectorOrAll(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

// loadShowtimes reads every showtime of the snapshot. A deleted one is
// noted and left out of everything after.
func (r *ShardRolloutReconciler) loadShowtimes(ctx context.Context, s *rolloutScope) error {
	for i := range s.ro.Status.Showtimes {
		e := &s.ro.Status.Showtimes[i]
		st := &boxv1.Showtime{}
		if err := r.Get(ctx, entryKey(e), st); err != nil {
			if apierrors.IsNotFound(err) {
				e.Message = "the showtime no longer exists"
				continue
			}
			return fmt.Errorf("reading showtime %s: %w", entryKey(e), err)
		}
		s.showtimes[entryKey(e)] = st
	}
	return nil
}

// oldestLogFormat is the newest log format every ready member of the
// showtime's shard reads (the one pod of a single shard): the guard holds
// for each member, since any of them may lead after a rollback. ok is false
// when no member could be read.
func (r *ShardRolloutReconciler) oldestLogFormat(ctx context.Context, st *boxv1.Showtime) (int64, bool) {
	pods := r.readyMemberPods(ctx, st)
	if len(pods) == 0 {
		return 0, false
	}
	tok, err := r.token(ctx, st)
	if err != nil {
		return 0, false
	}
	var oldest int64
	for _, pod := range pods {
		rep, err := r.Shards.Status(ctx, pod.Status.PodIP, tok)
		if err != nil {
			logf.FromContext(ctx).Info("stable shard status unreadable", "showtime", client.ObjectKeyFromObject(st).String(), "pod", pod.Name, "error", err.Error())
			continue
		}
		f := max(rep.LogFormat, 1)
		if oldest == 0 || f < oldest {
			oldest = f
		}
	}
	return oldest, oldest > 0
}
