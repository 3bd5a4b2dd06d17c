package controllers

import (
	"context"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/canary"
	corev1 "k8s.io/api/core/v1"
)

// trafficReaders is how many shards are read at once for their write rate.
const trafficReaders = 8

// orderByTraffic reads every selected showtime's shard write rate and puts
// the busiest first (ties and unreadable shards keep namespace/name order),
// so that the canaries have writes to be judged on. It returns the rates,
// as text for status ("" when unreadable), in the new order.
func (r *ShardRolloutReconciler) orderByTraffic(ctx context.Context, now time.Time, sts []boxv1.Showtime) ([]boxv1.Showtime, []string) {
	traffic := make([]canary.Traffic, len(sts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, trafficReaders)
	for i := range sts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			traffic[i] = r.writeRate(ctx, now, &sts[i])
		}()
	}
	wg.Wait()
	order := canary.OrderByTraffic(traffic)
	out := make([]boxv1.Showtime, 0, len(sts))
	rates := make([]string, 0, len(sts))
	for _, i := range order {
		out = append(out, sts[i])
		rate := ""
		if traffic[i].Known {
			rate = canary.FormatRate(traffic[i].WritesPerSecond)
		}
		rates = append(rates, rate)
	}
	return out, rates
}

// writeRate is the showtime's shard writes over the time its container has
// run. Unknown when the shard cannot be read.
func (r *ShardRolloutReconciler) writeRate(ctx context.Context, now time.Time, st *boxv1.Showtime) canary.Traffic {
	pod, ok := r.readyShardPod(ctx, st)
	if !ok {
		return canary.Traffic{}
	}
	m, err := r.Shards.Metrics(ctx, pod.Status.PodIP)
	if err != nil {
		return canary.Traffic{}
	}
	running := max(now.Sub(runningSince(pod)), time.Second)
	return canary.Traffic{WritesPerSecond: canary.WriteRate(m.Writes, running), Known: true}
}

// runningSince is when the pod's shard container started: its running
// state, else the pod's start, else its Ready transition, else its creation.
func runningSince(pod *corev1.Pod) time.Time {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == "shard" && cs.State.Running != nil && !cs.State.Running.StartedAt.IsZero() {
			return cs.State.Running.StartedAt.Time
		}
	}
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	if c := podReadyCondition(pod); c != nil && !c.LastTransitionTime.IsZero() {
		return c.LastTransitionTime.Time
	}
	return pod.CreationTimestamp.Time
}
