package controllers

import (
	"context"
	"fmt"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/canary"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A replicated shard moves member by member: the rollout changes the image
// once (upgrade, restore), and the Showtime controller restarts the members
// one at a time, followers first, each caught up, the leader last
// (rolloutplan.PlanMembers). The rollout follows the members here: ready
// once every member runs the wanted image, ready and caught up; failed when
// a member on the target does not turn ready within readyDeadline of its
// pod's creation; its write pause is the leader's hand-over.

// memberPods lists a replicated shard's member pods by name.
func (r *ShardRolloutReconciler) memberPods(ctx context.Context, st *boxv1.Showtime) (map[string]*corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := r.List(ctx, list, client.InNamespace(st.Namespace), client.MatchingLabels(st.SelectorLabels(boxv1.ComponentShard))); err != nil {
		return nil, err
	}
	out := map[string]*corev1.Pod{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// rolloutMembers is the planner's view of the members against the image
// the rollout wants, with roles and lag from the showtime's status.
func rolloutMembers(st *boxv1.Showtime, pods map[string]*corev1.Pod, want string) []rolloutplan.Member {
	seen := map[string]boxv1.ShardMember{}
	for _, m := range st.Status.Shard.Members {
		seen[m.Pod] = m
	}
	var out []rolloutplan.Member
	for _, name := range st.ShardPodNames() {
		m := rolloutplan.Member{Pod: name, Leader: name == st.Status.Shard.Leader, Lag: seen[name].Lag}
		if p := pods[name]; p != nil {
			m.Exists, m.Deleting, m.Since = true, !p.DeletionTimestamp.IsZero(), podStarted(p)
			m.Current = shardContainerImage(p) == want
			c := podReadyCondition(p)
			m.Ready = m.Current && c != nil && c.Status == corev1.ConditionTrue && !m.Deleting
		}
		out = append(out, m)
	}
	return out
}

// observeMembers reports whether every member runs want, ready and caught
// up (the Showtime controller says no member update is left). On the way it
// notes an overdue member (s.memberOverdue) and the leader's hand-over as
// the write pause.
func (r *ShardRolloutReconciler) observeMembers(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime, want string, rollback bool) (bool, string) {
	pods, err := r.memberPods(ctx, st)
	if err != nil {
		return false, "reading shard members: " + err.Error()
	}
	ms := rolloutMembers(st, pods, want)
	noteHandover(e, st)
	on := rolloutplan.MembersOnTarget(ms)
	progress := fmt.Sprintf("%d/%d members on %s", on, len(ms), want)
	if !rollback && e.ChangedAt != nil {
		pod, overdue, next := rolloutplan.OverdueMember(ms, e.ChangedAt.Time, s.now, r.readyDeadline(s.ro))
		if overdue {
			s.memberOverdue[entryKey(e)] = fmt.Sprintf("member %s not ready on the target within %s (%s)", pod, r.readyDeadline(s.ro), describeMember(pods[pod]))
		} else if !next.IsZero() {
			s.requeueAt(next)
		}
	}
	for _, m := range ms {
		if m.Exists && m.Current && !m.Ready && !m.Deleting {
			msg := progress + "; " + describeMember(pods[m.Pod])
			if reason, _, stuck := canary.StartProblem(pods[m.Pod]); stuck && e.Message != msg {
				s.event(s.ro, st, corev1.EventTypeWarning, "PodNotStarting", "Observe", "%s: %s", entryKey(e), msg)
				s.event(st, s.ro, corev1.EventTypeWarning, "RolloutPodNotStarting", "Observe", "ShardRollout %s: %s (%s)", s.ro.Name, msg, reason)
			}
			return false, msg
		}
	}
	if on < len(ms) || !membersSettled(st, want) {
		if u := st.Status.Shard.MemberUpdate; u != "" {
			return false, progress + "; " + u
		}
		return false, progress
	}
	if e.ReadyAt == nil {
		e.ReadyAt = ptr.To(metav1.NewTime(s.now))
		if e.PauseStartedAt == nil {
			// No hand-over: the leader kept leading (only followers moved).
			e.WritePause = "0s"
		}
		// A hand-over not seen through to a new leader leaves it unknown ("").
	}
	return true, ""
}

// membersSettled tells whether the showtime's own status agrees: it saw
// every member on want, a leader, and no member update left.
func membersSettled(st *boxv1.Showtime, want string) bool {
	sh := st.Status.Shard
	if st.Status.ObservedGeneration < st.Generation || sh.Leader == "" || sh.MemberUpdate != "" || len(sh.Members) == 0 {
		return false
	}
	for _, m := range sh.Members {
		if m.Image != want || !m.Ready {
			return false
		}
	}
	return true
}

// noteHandover takes the write pause of a replicated showtime's move from
// the leader's hand-over the Showtime controller measured, once it started
// after the image change: the other members' restarts pause no write.
func noteHandover(e *boxv1.RolloutShowtime, st *boxv1.Showtime) {
	h := st.Status.Shard.LastHandover
	if h == nil || e.ChangedAt == nil || h.StartedAt.Time.Before(e.ChangedAt.Time.Truncate(time.Second)) {
		return
	}
	e.PauseStartedAt = &metav1.Time{Time: h.StartedAt.Time}
	if d, err := time.ParseDuration(h.Duration); err == nil && h.Duration != "" {
		e.WritePause = h.Duration
		e.ReadyAt = &metav1.Time{Time: h.StartedAt.Add(d)}
	}
}

func describeMember(p *corev1.Pod) string {
	if p == nil {
		return "no pod"
	}
	return p.Name + ": " + canary.DescribeNewPod(p, "shard", "catching up with the leader")
}

// leaderPod is a replicated shard's leader pod when it is ready with an IP.
func (r *ShardRolloutReconciler) leaderPod(ctx context.Context, st *boxv1.Showtime) (*corev1.Pod, bool) {
	if st.Status.Shard.Leader == "" {
		return nil, false
	}
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.Status.Shard.Leader}, pod); err != nil {
		return nil, false
	}
	c := podReadyCondition(pod)
	if !pod.DeletionTimestamp.IsZero() || c == nil || c.Status != corev1.ConditionTrue || pod.Status.PodIP == "" {
		return nil, false
	}
	return pod, true
}

// readyMemberPods are every ready member of a replicated shard (the one
// pod of a single shard), for what each must be asked: the log format.
func (r *ShardRolloutReconciler) readyMemberPods(ctx context.Context, st *boxv1.Showtime) []*corev1.Pod {
	if !st.Replicated() {
		if p, ok := r.readyShardPod(ctx, st); ok {
			return []*corev1.Pod{p}
		}
		return nil
	}
	pods, err := r.memberPods(ctx, st)
	if err != nil {
		return nil
	}
	var out []*corev1.Pod
	for _, name := range st.ShardPodNames() {
		p := pods[name]
		if p == nil || !p.DeletionTimestamp.IsZero() || p.Status.PodIP == "" {
			continue
		}
		if c := podReadyCondition(p); c != nil && c.Status == corev1.ConditionTrue {
			out = append(out, p)
		}
	}
	return out
}

// membersHealthy checks every member of an upgraded replicated shard: on
// the target, ready, within the allowed restarts. It returns why not, or "".
func (r *ShardRolloutReconciler) membersHealthy(ctx context.Context, st *boxv1.Showtime, want string, maxRestarts int32) string {
	pods, err := r.memberPods(ctx, st)
	if err != nil {
		return "reading shard members: " + err.Error()
	}
	for _, name := range st.ShardPodNames() {
		p := pods[name]
		switch {
		case p == nil:
			return "member " + name + " gone during analysis"
		case shardContainerImage(p) != want:
			return fmt.Sprintf("member %s no longer runs the target (runs %s)", name, shardContainerImage(p))
		case podReadyCondition(p) == nil || podReadyCondition(p).Status != corev1.ConditionTrue || !p.DeletionTimestamp.IsZero():
			return "member " + name + " is no longer ready"
		case podRestarts(p) > maxRestarts:
			return fmt.Sprintf("member %s restarted %d times (at most %d allowed)", name, podRestarts(p), maxRestarts)
		}
	}
	return ""
}

// analysedShardPod is the pod whose /v1/status and /metrics judge the
// shard: the one pod of a single shard, the leader of a replicated one.
func (r *ShardRolloutReconciler) analysedShardPod(ctx context.Context, st *boxv1.Showtime) (*corev1.Pod, error) {
	name := st.ShardPodName(0)
	if st.Replicated() {
		if st.Status.Shard.Leader == "" {
			return nil, fmt.Errorf("no leader known")
		}
		name = st.Status.Shard.Leader
	}
	pod := &corev1.Pod{}
	err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: name}, pod)
	return pod, err
}

// podStarted is when the pod began: the earliest transition of its
// conditions (the kubelet's or scheduler's first word on it), else its
// creation.
func podStarted(p *corev1.Pod) time.Time {
	t := p.CreationTimestamp.Time
	first := time.Time{}
	for _, c := range p.Status.Conditions {
		if !c.LastTransitionTime.IsZero() && (first.IsZero() || c.LastTransitionTime.Before(&metav1.Time{Time: first})) {
			first = c.LastTransitionTime.Time
		}
	}
	if !first.IsZero() {
		return first
	}
	return t
}
