package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// memberScrapeTimeout bounds one round of member status reads: every member
// is asked at once, so a dead one costs this much, not this much each.
const memberScrapeTimeout = 3 * time.Second

// keepLiveMemberCount pins the member count to the live StatefulSet's.
// spec.shard.replicas cannot change once set (CEL), but a Showtime made
// before the field existed reads as the default, 3, while its shard runs
// one member on a single-mode data directory that a cluster member would
// refuse: that showtime keeps its one member. status.shard.replicas shows
// the count in force.
func (r *ShowtimeReconciler) keepLiveMemberCount(ctx context.Context, s *scope) error {
	live := &appsv1.StatefulSet{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.st.Namespace, Name: s.st.ShardName()}, live)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading shard statefulset: %w", err)
	}
	if n := live.Spec.Replicas; n != nil && *n != s.st.ShardReplicas() {
		s.st.Spec.Shard.Replicas = *n
	}
	return nil
}

// reconcileShardMembers reads every member of a replicated shard: its pod
// and its GET /v1/status at the pod IP, and writes status.shard.
func (r *ShowtimeReconciler) reconcileShardMembers(ctx context.Context, s *scope) error {
	st := s.st
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(st.Namespace), client.MatchingLabels(st.SelectorLabels(boxv1.ComponentShard))); err != nil {
		return fmt.Errorf("listing shard pods: %w", err)
	}
	byName := map[string]*corev1.Pod{}
	for i := range pods.Items {
		byName[pods.Items[i].Name] = &pods.Items[i]
	}
	s.memberPods = byName
	s.membersUpdating = membersBehind(s.sts, byName)
	obs := r.observeMembers(ctx, s, byName)
	view := summarizeMembers(obs, int(st.ShardReplicas()))
	view.Electing = electing(view, r.leaderlessSince(types.NamespacedName{Namespace: st.Namespace, Name: st.Name}, view.Leader == "", s.now), s.now)
	if view.Leader == "" {
		// Look again soon: on-call wants the new leader as soon as it leads.
		s.requeue(memberUpdateScrape)
	}
	s.cluster = &view
	r.applyClusterStatus(ctx, s, view)
	return nil
}

// observeMembers reads each member's status, all at once, at most every
// ScrapeInterval per pod.
func (r *ShowtimeReconciler) observeMembers(ctx context.Context, s *scope, pods map[string]*corev1.Pod) []memberObservation {
	names := s.st.ShardPodNames()
	obs := make([]memberObservation, len(names))
	ctx, cancel := context.WithTimeout(ctx, memberScrapeTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, name := range names {
		obs[i] = memberObservation{Ordinal: i, Pod: name}
		p := pods[name]
		if p == nil {
			continue
		}
		o := &obs[i]
		o.Exists, o.Node, o.Image = true, p.Spec.NodeName, shardContainerImage(p)
		o.Ready = podServing(p)
		if !p.DeletionTimestamp.IsZero() || p.Status.PodIP == "" {
			continue
		}
		key := types.NamespacedName{Namespace: s.st.Namespace, Name: name}
		maxAge := r.scrapeInterval()
		if s.membersUpdating || s.st.Status.Shard.Leader == "" {
			maxAge = min(maxAge, memberUpdateScrape)
		}
		if e, fresh := r.cachedScrapeWithin(key, p.UID, s.now, maxAge); fresh {
			o.Report, o.Err = e.report, e.err
			s.requeue(maxAge - s.now.Sub(e.at))
			continue
		}
		wg.Add(1)
		go func(ip string, uid types.UID) {
			defer wg.Done()
			rep, err := r.Shards.Status(ctx, ip, s.token)
			if err == nil && rep.Showtime != "" && rep.Showtime != s.st.ID() {
				rep, err = nil, fmt.Errorf("member reports showtime %q, expected %q", rep.Showtime, s.st.ID())
			}
			o.Report, o.Err = rep, err
			r.storeScrape(key, scrapeEntry{at: s.now, podUID: uid, report: rep, err: err})
		}(p.Status.PodIP, p.UID)
		s.requeue(maxAge)
	}
	wg.Wait()
	for _, o := range obs {
		if o.Err != nil {
			logf.FromContext(ctx).Info("shard member status unreachable", "pod", o.Pod, "error", o.Err.Error())
		}
	}
	return obs
}

// applyClusterStatus writes the members' view into status.shard, points the
// seat-count step at the leader, and raises the leader-change event.
func (r *ShowtimeReconciler) applyClusterStatus(ctx context.Context, s *scope, v clusterView) {
	st := s.st
	before := st.Status.Shard
	next := boxv1.ShardStatus{
		Replicas:         int32(v.Replicas),
		ReadyMembers:     v.ReadyMembers(),
		Leader:           v.Leader,
		Term:             v.Term,
		Members:          v.Members,
		LastLeaderChange: before.LastLeaderChange,
		LastHandover:     before.LastHandover,
		MemberUpdate:     before.MemberUpdate,
		Ready:            v.Quorum(),
		Epoch:            before.Epoch,
		Version:          before.Version,
	}
	if msg := leaderChange(before, next); msg != "" {
		next.LastLeaderChange = &metav1.Time{Time: s.now.Truncate(time.Second)}
		if before.Leader != "" {
			r.Recorder.Eventf(st, nil, corev1.EventTypeNormal, "ShardLeaderChanged", "Elect", "%s", msg)
			shardLeaderChanges.WithLabelValues(st.Namespace, st.Name).Inc()
		}
	}
	if v.Leader != "" {
		p := s.memberPods[v.Leader]
		next.Pod = v.Leader
		next.Image = memberImage(p)
		s.pod = p
		s.podReady = v.Quorum() && p != nil && podServing(p)
	} else if len(v.Members) > 0 {
		next.Image = memberImage(s.memberPods[v.Members[0].Pod])
	}
	st.Status.Shard = next
	recordMemberMetrics(st, v)
}

func memberImage(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	return shardContainerImage(p)
}

// leaderlessSince is when the showtime's members were first seen without a
// leader in the current leaderless stretch (now when they have one).
func (r *ShowtimeReconciler) leaderlessSince(key types.NamespacedName, leaderless bool, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !leaderless {
		delete(r.leaderless, key)
		return now
	}
	if r.leaderless == nil {
		r.leaderless = map[types.NamespacedName]time.Time{}
	}
	since, ok := r.leaderless[key]
	if !ok {
		since = now
		r.leaderless[key] = since
	}
	return since
}
