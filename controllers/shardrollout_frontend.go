package controllers

import (
	"context"
	"fmt"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/canary"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults of spec.analysis.frontend a client left out (the CRD defaults them too).
const (
	defaultFrontendMinRequests  = 20
	defaultFrontendErrorRatio   = 0.01
	defaultFrontendRetryRatio   = 0.05
	defaultFrontendLatencyRatio = 2.0
)

// checkFrontend judges an upgraded front end: its Deployment available on
// the target, then its pods' own metrics (answers to buyers, shard retries,
// shard latency) against the front ends still on the stable version.
// pending is set when the Deployment could not be read.
func (r *ShardRolloutReconciler) checkFrontend(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) (checks []canary.Check, pending string) {
	dep := &appsv1.Deployment{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.FrontendName()}, dep); err != nil {
		return nil, "front end unreadable: " + err.Error()
	}
	if !deploymentRolledOut(dep, e.ToFrontendImage) {
		return []canary.Check{{Result: boxv1.AnalysisFailed, Reason: "FrontendUnavailable", Note: fmt.Sprintf(
			"front end no longer available on the target (%d of %d available)", dep.Status.AvailableReplicas, dep.Status.Replicas)}}, ""
	}
	checks = append(checks, canary.Check{Result: boxv1.AnalysisPassed, Note: "front end available"})
	m, pods, err := r.frontendMetrics(ctx, st, func(img string) bool { return img == e.ToFrontendImage })
	if err != nil || pods == 0 {
		why := "no ready front-end pod on the target"
		if err != nil {
			why = err.Error()
		}
		return append(checks, canary.Check{Result: boxv1.AnalysisInconclusive, Reason: "FrontendMetricsUnreadable",
			Note: "front-end /metrics unreadable: " + why}), ""
	}
	a := s.ro.Spec.Analysis
	floor := a.HoldLatencyFloor.Duration
	if floor == 0 {
		floor = defaultLatencyFloor
	}
	minReq := float64(a.Frontend.MinRequests)
	if minReq <= 0 {
		minReq = defaultFrontendMinRequests
	}
	limits := canary.FrontendLimits{
		MinRequests:     minReq,
		MaxErrorRatio:   parseDecimal(a.Frontend.MaxErrorRatio, defaultFrontendErrorRatio),
		MaxRetryRatio:   parseDecimal(a.Frontend.MaxRetryRatio, defaultFrontendRetryRatio),
		MaxLatencyRatio: parseDecimal(a.Frontend.MaxLatencyRatio, defaultFrontendLatencyRatio),
		LatencyFloor:    floor,
		Stable:          r.stableFrontend(ctx, s),
	}
	return append(checks, canary.JudgeFrontend(m.Sample(), limits)...), ""
}

// frontendMetrics sums the /metrics of the showtime's ready front-end pods
// whose image want accepts. pods is how many were read.
func (r *ShardRolloutReconciler) frontendMetrics(ctx context.Context, st *boxv1.Showtime, want func(image string) bool) (*FrontendMetrics, int, error) {
	list := &corev1.PodList{}
	if err := r.List(ctx, list, client.InNamespace(st.Namespace), client.MatchingLabels(st.SelectorLabels(boxv1.ComponentFrontend))); err != nil {
		return nil, 0, fmt.Errorf("listing front-end pods: %w", err)
	}
	sum := &FrontendMetrics{}
	read := 0
	var lastErr error
	for i := range list.Items {
		pod := &list.Items[i]
		if !podServing(pod) || pod.Status.PodIP == "" || !want(containerImage(pod, boxv1.ComponentFrontend)) {
			continue
		}
		m, err := r.Shards.FrontendMetrics(ctx, pod.Status.PodIP)
		if err != nil {
			lastErr = err
			continue
		}
		sum.Add(m)
		read++
	}
	if read == 0 && lastErr != nil {
		return nil, 0, lastErr
	}
	return sum, read, nil
}

// stableFrontend sums the front ends of up to StableSample showtimes still
// on the stable version, once per reconcile; nil when none could be read.
func (r *ShardRolloutReconciler) stableFrontend(ctx context.Context, s *rolloutScope) *canary.FrontendSample {
	if s.stableFrontendRead {
		return s.stableFrontend
	}
	s.stableFrontendRead = true
	target := s.ro.Spec.Target.FrontendImage
	sum := &FrontendMetrics{}
	read := 0
	for _, st := range s.stableShowtimes() {
		if read >= r.stableSample() {
			break
		}
		m, pods, err := r.frontendMetrics(ctx, st, func(img string) bool { return img != target })
		if err != nil || pods == 0 {
			continue
		}
		sum.Add(m)
		read++
	}
	if read == 0 {
		return nil
	}
	sample := sum.Sample()
	s.stableFrontend = &sample
	return s.stableFrontend
}

// stableShowtimes are the rollout's showtimes not moved to the target
// (pending, waiting or rolled back) that still exist, in status order: the
// baseline the canaries are compared with.
func (s *rolloutScope) stableShowtimes() []*boxv1.Showtime {
	var out []*boxv1.Showtime
	for i := range s.ro.Status.Showtimes {
		e := &s.ro.Status.Showtimes[i]
		switch e.State {
		case boxv1.ShowtimePending, boxv1.ShowtimeWaiting, boxv1.ShowtimeRolledBack:
			if st := s.showtimes[entryKey(e)]; st != nil {
				out = append(out, st)
			}
		}
	}
	return out
}

// containerImage is the image of the named container, else of the first.
func containerImage(pod *corev1.Pod, name string) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return c.Image
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Image
	}
	return ""
}

// describeFrontendRollout says how far the front end's rollout onto want
// is, naming a new pod that cannot start (image not present, crash loop,
// ...) as what it is, with an event the first time.
func (r *ShardRolloutReconciler) describeFrontendRollout(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime, dep *appsv1.Deployment, want string) string {
	msg := fmt.Sprintf("front end rolling out onto %s (%d of %d updated, %d available)", want,
		dep.Status.UpdatedReplicas, dep.Status.Replicas, dep.Status.AvailableReplicas)
	list := &corev1.PodList{}
	if err := r.List(ctx, list, client.InNamespace(st.Namespace), client.MatchingLabels(st.SelectorLabels(boxv1.ComponentFrontend))); err != nil {
		return msg
	}
	for i := range list.Items {
		pod := &list.Items[i]
		if containerImage(pod, boxv1.ComponentFrontend) != want {
			continue
		}
		if reason, _, stuck := canary.StartProblem(pod); stuck {
			msg = canary.DescribeNewPod(pod, "front-end", "starting")
			if e.Message != msg {
				s.event(s.ro, st, corev1.EventTypeWarning, "PodNotStarting", "Observe", "%s: %s", entryKey(e), msg)
				s.event(st, s.ro, corev1.EventTypeWarning, "RolloutPodNotStarting", "Observe", "ShardRollout %s: %s (%s)", s.ro.Name, msg, reason)
			}
			return msg
		}
	}
	return msg
}
