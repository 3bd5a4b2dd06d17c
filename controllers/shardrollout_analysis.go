package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// analyze judges every moving showtime that is due: an upgrading one past its
// ready deadline fails; a baking one is analysed every interval. It returns
// the first failure, or "".
func (r *ShardRolloutReconciler) analyze(ctx context.Context, s *rolloutScope) string {
	ro := s.ro
	if ro.Status.Phase == boxv1.RolloutPromoting {
		return ""
	}
	deadline := r.readyDeadline(ro)
	var due []*boxv1.RolloutShowtime
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil {
			continue
		}
		switch e.State {
		case boxv1.ShowtimeUpgrading:
			if e.ChangedAt != nil && !s.now.Before(e.ChangedAt.Add(deadline)) {
				e.Analysis = boxv1.AnalysisFailed
				msg := fmt.Sprintf("%s: not ready on the target within %s (%s)", entryKey(e), deadline, e.Message)
				e.Message = msg
				return msg
			}
		case boxv1.ShowtimeBaking:
			if e.AnalyzedAt == nil || !s.now.Before(e.AnalyzedAt.Add(r.interval(ro))) {
				due = append(due, e)
			} else {
				s.requeueAt(e.AnalyzedAt.Add(r.interval(ro)))
			}
		}
	}
	if len(due) == 0 {
		return ""
	}
	r.refreshBaseline(ctx, s)
	for _, e := range due {
		if msg := r.analyzeOne(ctx, s, e); msg != "" {
			return msg
		}
	}
	return ""
}

// judgeBaked gives the final verdict on every baking showtime once the step's
// bake is over: passed ones become Upgraded. It returns the first failure.
func (r *ShardRolloutReconciler) judgeBaked(ctx context.Context, s *rolloutScope) string {
	ro := s.ro
	refreshed := false
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		if e.State != boxv1.ShowtimeBaking || s.showtimes[entryKey(e)] == nil {
			continue
		}
		if e.AnalyzedAt == nil || !e.AnalyzedAt.Time.Equal(s.now) {
			if !refreshed {
				r.refreshBaseline(ctx, s)
				refreshed = true
			}
			if msg := r.analyzeOne(ctx, s, e); msg != "" {
				return msg
			}
		}
		switch e.Analysis {
		case boxv1.AnalysisPassed:
			e.State = boxv1.ShowtimeUpgraded
		case boxv1.AnalysisPending:
			// Could not be read: give it a ready deadline's grace.
			since := s.now
			if ro.Status.BakeUntil != nil {
				since = ro.Status.BakeUntil.Time
			} else if e.ReadyAt != nil {
				since = e.ReadyAt.Time
			}
			if !s.now.Before(since.Add(r.readyDeadline(ro))) {
				e.Analysis = boxv1.AnalysisFailed
				msg := fmt.Sprintf("%s: could not be analysed: %s", entryKey(e), e.Message)
				e.Message = msg
				return msg
			}
		}
	}
	return ""
}

// analyzeOne runs every check on one upgraded showtime and records the
// result. It returns the failure message, or "".
func (r *ShardRolloutReconciler) analyzeOne(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime) string {
	ro := s.ro
	st := s.showtimes[entryKey(e)]
	e.AnalyzedAt = ptrTime(s.now)
	s.requeueAt(s.now.Add(r.interval(ro)))
	result, findings := r.checks(ctx, s, e, st)
	e.Analysis = result
	e.Message = strings.Join(findings, "; ")
	if result == boxv1.AnalysisFailed {
		e.Message = entryKey(e).String() + ": " + e.Message
		return e.Message
	}
	return ""
}

// checks runs every check that applies to one upgraded showtime: the front
// end's, the shard's, then the optional Prometheus query.
func (r *ShardRolloutReconciler) checks(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) (boxv1.AnalysisResult, []string) {
	ro := s.ro
	var notes []string
	if e.ToFrontendImage != "" {
		dep := &appsv1.Deployment{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.Name + "-frontend"}, dep); err != nil {
			return boxv1.AnalysisPending, []string{"front end unreadable: " + err.Error()}
		}
		if !deploymentRolledOut(dep, e.ToFrontendImage) {
			return boxv1.AnalysisFailed, []string{fmt.Sprintf("front end no longer available on the target (%d of %d available)",
				dep.Status.AvailableReplicas, dep.Status.Replicas)}
		}
		notes = append(notes, "front end available")
	}
	if e.ToShardImage != "" {
		result, shardNotes := r.checkShard(ctx, s, e, st)
		if result != boxv1.AnalysisPassed {
			return result, shardNotes
		}
		notes = append(notes, shardNotes...)
	}
	// The optional Prometheus query, for shard and front-end targets alike.
	if result, note := r.checkPrometheus(ctx, ro, st); result == boxv1.AnalysisFailed {
		return result, []string{note}
	} else if note != "" {
		notes = append(notes, note)
	}
	return boxv1.AnalysisPassed, notes
}

// checkShard judges the upgraded shard on its pod, /v1/status and /metrics.
func (r *ShardRolloutReconciler) checkShard(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) (boxv1.AnalysisResult, []string) {
	ro := s.ro
	a := ro.Spec.Analysis
	var notes []string
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.Name + "-shard-0"}, pod); err != nil {
		return boxv1.AnalysisFailed, []string{"shard pod gone during analysis: " + err.Error()}
	}
	if img := shardContainerImage(pod); img != e.ToShardImage {
		return boxv1.AnalysisFailed, []string{"the shard no longer runs the target (runs " + img + ")"}
	}
	if c := podReadyCondition(pod); c == nil || c.Status != corev1.ConditionTrue || !pod.DeletionTimestamp.IsZero() {
		return boxv1.AnalysisFailed, []string{"the shard pod is no longer ready"}
	}
	if n := podRestarts(pod); n > a.MaxRestarts {
		return boxv1.AnalysisFailed, []string{fmt.Sprintf("the shard container restarted %d times (at most %d allowed)", n, a.MaxRestarts)}
	}
	tok, err := r.token(ctx, st)
	if err != nil {
		return boxv1.AnalysisPending, []string{"shard token unreadable: " + err.Error()}
	}
	if _, err := r.Shards.Status(ctx, pod.Status.PodIP, tok); err != nil {
		return boxv1.AnalysisPending, []string{"/v1/status unreadable: " + err.Error()}
	}
	m, err := r.Shards.Metrics(ctx, pod.Status.PodIP)
	if err != nil {
		return boxv1.AnalysisPending, []string{"/metrics unreadable: " + err.Error()}
	}
	notes = append(notes, fmt.Sprintf("ready, %d restarts", podRestarts(pod)))
	if m.RecoverySeconds > 0 {
		notes = append(notes, fmt.Sprintf("replay %.2fs", m.RecoverySeconds))
	}

	maxRatio := parseDecimal(a.MaxWriteErrorRatio, defaultMaxErrorRatio)
	minWrites := float64(a.MinWrites)
	if minWrites <= 0 {
		minWrites = defaultMinWrites
	}
	if m.Writes >= minWrites {
		ratio := m.ServerErrors / m.Writes
		if ratio > maxRatio {
			return boxv1.AnalysisFailed, []string{fmt.Sprintf("write error ratio %.3f (%.0f server errors in %.0f holds and confirms) above %s",
				ratio, m.ServerErrors, m.Writes, fmtDecimal(maxRatio))}
		}
		notes = append(notes, fmt.Sprintf("write errors %.0f/%.0f", m.ServerErrors, m.Writes))
	} else {
		notes = append(notes, fmt.Sprintf("%.0f writes (fewer than %.0f: error ratio not judged yet)", m.Writes, minWrites))
	}

	if m.HoldCount >= minWrites {
		floor := a.HoldLatencyFloor.Duration
		if floor == 0 {
			floor = defaultLatencyFloor
		}
		stable, _ := time.ParseDuration(ro.Status.StableHoldP99)
		if stable > 0 {
			latRatio := parseDecimal(a.MaxHoldLatencyRatio, defaultLatencyRatio)
			limit := time.Duration(float64(stable) * latRatio)
			if limit < floor {
				limit = floor
			}
			if m.HoldP99 > limit {
				return boxv1.AnalysisFailed, []string{fmt.Sprintf("p99 hold latency %s above %s (%s x stable p99 %s, floor %s)",
					roundDur(m.HoldP99), roundDur(limit), fmtDecimal(latRatio), roundDur(stable), floor)}
			}
			notes = append(notes, fmt.Sprintf("p99 hold %s (stable %s)", roundDur(m.HoldP99), roundDur(stable)))
		} else {
			notes = append(notes, fmt.Sprintf("p99 hold %s (no stable baseline)", roundDur(m.HoldP99)))
		}
	}

	return boxv1.AnalysisPassed, notes
}

// checkPrometheus runs spec.analysis.prometheus, when set, for one showtime:
// Failed when the first sample is above the threshold. A query that cannot
// run (unreachable, an error answer, no sample) is reported in the note and
// not counted as a failure. The note is empty when there is no query.
func (r *ShardRolloutReconciler) checkPrometheus(ctx context.Context, ro *boxv1.ShardRollout, st *boxv1.Showtime) (boxv1.AnalysisResult, string) {
	p := ro.Spec.Analysis.Prometheus
	if p == nil || r.Prometheus == nil {
		return boxv1.AnalysisPassed, ""
	}
	q := strings.NewReplacer("$namespace", st.Namespace, "$showtime", st.Name).Replace(p.Query)
	v, err := r.Prometheus.Query(ctx, p.URL, q)
	limit := parseDecimal(p.Threshold, 0)
	switch {
	case err != nil:
		return boxv1.AnalysisPassed, "prometheus check not run: " + err.Error()
	case v > limit:
		return boxv1.AnalysisFailed, fmt.Sprintf("prometheus query value %g above threshold %s", v, p.Threshold)
	default:
		return boxv1.AnalysisPassed, fmt.Sprintf("prometheus %g <= %s", v, p.Threshold)
	}
}

// refreshBaseline reads the hold latency of a few shards still on the stable
// version and keeps their median p99 in status.stableHoldP99. Once no stable
// shard is left, the last value stays.
func (r *ShardRolloutReconciler) refreshBaseline(ctx context.Context, s *rolloutScope) {
	ro := s.ro
	if ro.Spec.Target.ShardImage == "" {
		return
	}
	minWrites := float64(ro.Spec.Analysis.MinWrites)
	if minWrites <= 0 {
		minWrites = defaultMinWrites
	}
	var p99s []time.Duration
	read := 0
	for i := range ro.Status.Showtimes {
		if read >= r.stableSample() {
			break
		}
		e := &ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		switch e.State {
		case boxv1.ShowtimePending, boxv1.ShowtimeWaiting, boxv1.ShowtimeRolledBack:
		default:
			continue
		}
		if st == nil {
			continue
		}
		pod, ok := r.readyShardPod(ctx, st)
		if !ok || shardContainerImage(pod) == ro.Spec.Target.ShardImage {
			continue
		}
		m, err := r.Shards.Metrics(ctx, pod.Status.PodIP)
		if err != nil {
			continue
		}
		read++
		if m.HoldCount >= minWrites {
			p99s = append(p99s, m.HoldP99)
		}
	}
	if len(p99s) == 0 {
		return
	}
	sort.Slice(p99s, func(i, j int) bool { return p99s[i] < p99s[j] })
	ro.Status.StableHoldP99 = roundDur(p99s[len(p99s)/2]).String()
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func parseDecimal(s string, def float64) float64 {
	if s == "" {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return def
	}
	return v
}

func fmtDecimal(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func (r *ShardRolloutReconciler) readyDeadline(ro *boxv1.ShardRollout) time.Duration {
	if d := ro.Spec.Analysis.ReadyDeadline.Duration; d > 0 {
		return d
	}
	return defaultReadyDeadline
}

func (r *ShardRolloutReconciler) interval(ro *boxv1.ShardRollout) time.Duration {
	if d := ro.Spec.Analysis.Interval.Duration; d > 0 {
		return d
	}
	return defaultAnalysisInterval
}

func (r *ShardRolloutReconciler) maxConcurrent(ro *boxv1.ShardRollout) int32 {
	if ro.Spec.MaxConcurrent > 0 {
		return ro.Spec.MaxConcurrent
	}
	return 1
}

func (r *ShardRolloutReconciler) stableSample() int {
	if r.StableSample > 0 {
		return r.StableSample
	}
	return 3
}

func (r *ShardRolloutReconciler) freezes() FreezeFunc {
	if r.Freezes != nil {
		return r.Freezes
	}
	return freeze.BlockingShowtime
}

// orDefault is the image an empty spec field runs.
func (r *ShardRolloutReconciler) orDefault(img string) string {
	if img == "" {
		return r.DefaultImage
	}
	return img
}

// onTarget reports whether the showtime already runs the target.
func (r *ShardRolloutReconciler) onTarget(ro *boxv1.ShardRollout, st *boxv1.Showtime) bool {
	t := ro.Spec.Target
	return (t.ShardImage == "" || r.orDefault(st.Spec.Shard.Image) == t.ShardImage) &&
		(t.FrontendImage == "" || r.orDefault(st.Spec.Frontend.Image) == t.FrontendImage)
}

type images struct{ shard, frontend string }

func (r *ShardRolloutReconciler) toImages(e *boxv1.RolloutShowtime) images {
	return images{e.ToShardImage, e.ToFrontendImage}
}

func (r *ShardRolloutReconciler) fromImages(e *boxv1.RolloutShowtime) images {
	im := images{}
	if e.ToShardImage != "" {
		im.shard = r.orDefault(e.FromShardImage)
		if e.FromShardImage == "" {
			im.shard += " (operator default)"
		}
	}
	if e.ToFrontendImage != "" {
		im.frontend = r.orDefault(e.FromFrontendImage)
		if e.FromFrontendImage == "" {
			im.frontend += " (operator default)"
		}
	}
	return im
}

func imagesString(im images) string {
	var parts []string
	if im.shard != "" {
		parts = append(parts, "shard "+im.shard)
	}
	if im.frontend != "" {
		parts = append(parts, "front end "+im.frontend)
	}
	return strings.Join(parts, ", ")
}

func targetString(ro *boxv1.ShardRollout) string {
	return imagesString(images{ro.Spec.Target.ShardImage, ro.Spec.Target.FrontendImage})
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

func setRolloutCondition(ro *boxv1.ShardRollout, typ string, status metav1.ConditionStatus, reason, msg string) {
	if reason == "" {
		reason = "Unknown"
	}
	meta.SetStatusCondition(&ro.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: ro.Generation,
	})
}

// showtimeRolloutPatch is a merge patch of status.rollout alone: the showtime
// controller's own status patches leave the field alone.
func showtimeRolloutPatch(v *boxv1.ShowtimeRolloutStatus) client.Patch {
	b, _ := json.Marshal(map[string]any{"status": map[string]any{"rollout": v}})
	return client.RawPatch(types.MergePatchType, b)
}
