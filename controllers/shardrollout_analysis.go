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
	"boxoffice.dev/boxoffice/internal/canary"
	"boxoffice.dev/boxoffice/internal/freeze"
	"boxoffice.dev/boxoffice/internal/rolloutplan"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
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
			if st.Replicated() && e.ToShardImage != "" {
				// Member by member: each member has its own deadline.
				if why := s.memberOverdue[entryKey(e)]; why != "" {
					e.Analysis = boxv1.AnalysisFailed
					e.Message = fmt.Sprintf("%s: %s", entryKey(e), why)
					return e.Message
				}
				continue
			}
			if rolloutplan.ReadyOverdue(e, s.now, deadline) {
				e.Analysis = boxv1.AnalysisFailed
				msg := fmt.Sprintf("%s: not ready on the target within %s (%s)", entryKey(e), deadline, e.Message)
				e.Message = msg
				return msg
			}
		case boxv1.ShowtimeBaking:
			if ok, next := rolloutplan.AnalysisDue(e, s.now, r.interval(ro)); ok {
				due = append(due, e)
			} else {
				s.requeueAt(next)
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
// bake is over: passed ones become Upgraded; Inconclusive ones are noted in
// s.inconclusive (the rollout pauses on them). It returns the first failure.
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
		var bakeUntil *time.Time
		if ro.Status.BakeUntil != nil {
			bakeUntil = &ro.Status.BakeUntil.Time
		}
		switch rolloutplan.Final(e, bakeUntil, s.now, r.readyDeadline(ro)) {
		case rolloutplan.Promoted:
			e.State = boxv1.ShowtimeUpgraded
		case rolloutplan.HeldInconclusive:
			s.inconclusive = append(s.inconclusive, e)
		case rolloutplan.Unreadable:
			// Could not be read within a ready deadline's grace.
			e.Analysis = boxv1.AnalysisFailed
			msg := fmt.Sprintf("%s: could not be analysed: %s", entryKey(e), e.Message)
			e.Message = msg
			return msg
		}
	}
	return ""
}

// analyzeOne runs every check on one upgraded showtime and records the
// result. It returns the failure message, or "".
func (r *ShardRolloutReconciler) analyzeOne(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime) string {
	ro := s.ro
	st := s.showtimes[entryKey(e)]
	e.AnalyzedAt = ptr.To(metav1.NewTime(s.now))
	s.requeueAt(s.now.Add(r.interval(ro)))
	result, reason, findings := r.checks(ctx, s, e, st)
	e.Analysis = result
	e.Message = strings.Join(findings, "; ")
	switch result {
	case boxv1.AnalysisFailed:
		e.Message = entryKey(e).String() + ": " + e.Message
		return e.Message
	case boxv1.AnalysisInconclusive:
		s.inconclusiveReason[entryKey(e)] = reason
	}
	return ""
}

// checks runs every check that applies to one upgraded showtime: the front
// end's, the shard's, then the optional Prometheus query, and folds them
// into one verdict. Pending means the showtime could not be read at all.
func (r *ShardRolloutReconciler) checks(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) (boxv1.AnalysisResult, string, []string) {
	var all []canary.Check
	if e.ToFrontendImage != "" {
		cs, pending := r.checkFrontend(ctx, s, e, st)
		if pending != "" {
			return boxv1.AnalysisPending, "", []string{pending}
		}
		all = append(all, cs...)
	}
	if e.ToShardImage != "" {
		cs, pending := r.checkShard(ctx, s, e, st)
		if pending != "" {
			return boxv1.AnalysisPending, "", []string{pending}
		}
		all = append(all, cs...)
	}
	// The optional Prometheus query, for shard and front-end targets alike.
	if c, ok := r.checkPrometheus(ctx, s.ro, st); ok {
		all = append(all, c)
	}
	return canary.Verdict(all)
}

// checkShard judges the upgraded shard on its pod, /v1/status and /metrics.
// pending is set when the shard could not be read.
func (r *ShardRolloutReconciler) checkShard(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) (checks []canary.Check, pending string) {
	ro := s.ro
	a := ro.Spec.Analysis
	fail := func(format string, args ...any) ([]canary.Check, string) {
		return []canary.Check{{Result: boxv1.AnalysisFailed, Reason: "ShardUnhealthy", Note: fmt.Sprintf(format, args...)}}, ""
	}
	if st.Replicated() {
		if why := r.membersHealthy(ctx, st, e.ToShardImage, a.MaxRestarts); why != "" {
			return fail("%s", why)
		}
	}
	pod, err := r.analysedShardPod(ctx, st)
	if err != nil {
		return fail("shard pod gone during analysis: %v", err)
	}
	if img := shardContainerImage(pod); img != e.ToShardImage {
		return fail("the shard no longer runs the target (runs %s)", img)
	}
	if !podServing(pod) {
		return fail("the shard pod is no longer ready")
	}
	if n := podRestarts(pod); n > a.MaxRestarts {
		return fail("the shard container restarted %d times (at most %d allowed)", n, a.MaxRestarts)
	}
	tok, err := r.token(ctx, st)
	if err != nil {
		return nil, "shard token unreadable: " + err.Error()
	}
	if _, err := r.Shards.Status(ctx, pod.Status.PodIP, tok); err != nil {
		return nil, "/v1/status unreadable: " + err.Error()
	}
	m, err := r.Shards.Metrics(ctx, pod.Status.PodIP)
	if err != nil {
		return nil, "/metrics unreadable: " + err.Error()
	}
	note := fmt.Sprintf("ready, %d restarts", podRestarts(pod))
	if m.RecoverySeconds > 0 {
		note += fmt.Sprintf("; replay %.2fs", m.RecoverySeconds)
	}
	checks = append(checks, canary.Check{Result: boxv1.AnalysisPassed, Note: note})
	stable, _ := time.ParseDuration(ro.Status.StableHoldP99)
	floor := a.HoldLatencyFloor.Duration
	if floor == 0 {
		floor = defaultLatencyFloor
	}
	limits := canary.ShardLimits{
		MaxErrorRatio: parseDecimal(a.MaxWriteErrorRatio, defaultMaxErrorRatio), MinWrites: r.minWrites(ro),
		MaxLatencyRatio: parseDecimal(a.MaxHoldLatencyRatio, defaultLatencyRatio), LatencyFloor: floor, StableP99: stable,
	}
	sample := canary.ShardSample{Writes: m.Writes, ServerErrors: m.ServerErrors, HoldCount: m.HoldCount, HoldP99: m.HoldP99}
	return append(checks, canary.JudgeShard(sample, limits)...), ""
}

// checkPrometheus runs spec.analysis.prometheus, when set, for one showtime.
// ok is false when there is no query. A query that cannot run is
// Inconclusive.
func (r *ShardRolloutReconciler) checkPrometheus(ctx context.Context, ro *boxv1.ShardRollout, st *boxv1.Showtime) (canary.Check, bool) {
	p := ro.Spec.Analysis.Prometheus
	if p == nil || r.Prometheus == nil {
		return canary.Check{}, false
	}
	q := strings.NewReplacer("$namespace", st.Namespace, "$showtime", st.Name).Replace(p.Query)
	v, err := r.Prometheus.Query(ctx, p.URL, q)
	return canary.JudgePrometheus(v, err, parseDecimal(p.Threshold, 0), p.Threshold), true
}

func (r *ShardRolloutReconciler) minWrites(ro *boxv1.ShardRollout) float64 {
	if n := ro.Spec.Analysis.MinWrites; n > 0 {
		return float64(n)
	}
	return defaultMinWrites
}

// refreshBaseline reads the hold latency of a few shards still on the stable
// version and keeps their median p99 in status.stableHoldP99. Once no stable
// shard is left, the last value stays.
func (r *ShardRolloutReconciler) refreshBaseline(ctx context.Context, s *rolloutScope) {
	ro := s.ro
	if ro.Spec.Target.ShardImage == "" {
		return
	}
	minWrites := r.minWrites(ro)
	var p99s []time.Duration
	read := 0
	for _, st := range s.stableShowtimes() {
		if read >= r.stableSample() {
			break
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

func roundDur(d time.Duration) time.Duration { return canary.Round(d) }

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
	return rolloutplan.ReadyDeadline(&ro.Spec)
}

func (r *ShardRolloutReconciler) interval(ro *boxv1.ShardRollout) time.Duration {
	return rolloutplan.Interval(&ro.Spec)
}

func (r *ShardRolloutReconciler) maxConcurrent(ro *boxv1.ShardRollout) int32 {
	return rolloutplan.MaxConcurrent(&ro.Spec)
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

func setRolloutCondition(ro *boxv1.ShardRollout, typ string, status metav1.ConditionStatus, reason, msg string) {
	if reason == "" {
		reason = "Unknown"
	}
	setStatusCondition(&ro.Status.Conditions, ro.Generation, typ, status, reason, msg)
}

// showtimeRolloutPatch is a merge patch of status.rollout alone: the showtime
// controller's own status patches leave the field alone.
func showtimeRolloutPatch(v *boxv1.ShowtimeRolloutStatus) client.Patch {
	b, _ := json.Marshal(map[string]any{"status": map[string]any{"rollout": v}})
	return client.RawPatch(types.MergePatchType, b)
}
