package controllers

import (
	"context"
	"fmt"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

const (
	// memberCatchUpLag is how many log entries a member may be behind the
	// leader's commit index and count as caught up: the writes in flight
	// under load, a few milliseconds of them.
	memberCatchUpLag = 16
	// memberUpdateScrape is how fresh the members' status must be while a
	// member-by-member update runs (DefaultScrapeInterval otherwise).
	memberUpdateScrape = time.Second
	// DefaultHandoverWait bounds how long the operator watches for a new
	// leader after deleting the old leader's pod.
	DefaultHandoverWait = 5 * time.Second
	handoverPoll        = 20 * time.Millisecond
)

// reconcileMemberUpdate moves a replicated shard's members to the
// StatefulSet's revision one at a time (its update strategy is OnDelete):
// the pure plan (rolloutplan.PlanMembers) says which member to restart or
// what to wait for; this deletes that member's pod, and for the leader
// measures the hand-over its SIGTERM starts. A ShardRollout, an image
// changed by hand or an operator upgrade all move the members so.
func (r *ShowtimeReconciler) reconcileMemberUpdate(ctx context.Context, s *scope) error {
	st := s.st
	if s.cluster == nil || s.sts == nil || s.memberReplaced {
		return nil
	}
	ms, known := memberStates(s)
	st.Status.Shard.MemberUpdate = ""
	stale := len(ms) - countCurrent(ms)
	if !known {
		// Which revision is wanted is not known yet: look again soon.
		s.requeue(memberUpdateScrape)
		return nil
	}
	if stale == 0 {
		return nil
	}
	step := rolloutplan.PlanMembers(ms, memberCatchUpLag)
	progress := fmt.Sprintf("%d/%d members on the new revision", len(ms)-stale, len(ms))
	s.requeue(memberUpdateScrape)
	if step.Action != rolloutplan.MembersRestart {
		st.Status.Shard.MemberUpdate = progress + "; waiting: " + step.Reason
		return nil
	}
	pod := s.memberPods[step.Pod]
	if pod == nil {
		return nil
	}
	st.Status.Shard.MemberUpdate = progress + "; " + step.Reason
	startedAt := time.Now()
	if err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("restarting shard member %s on the new revision: %w", step.Pod, err)
	}
	r.Recorder.Eventf(st, pod, corev1.EventTypeNormal, "ShardMemberRestarted", "Update", "%s", step.Reason)
	role := "follower"
	if step.Leader {
		role = "leader"
	}
	shardMemberRestarts.WithLabelValues(st.Namespace, st.Name, role).Inc()
	logf.FromContext(ctx).Info("restarting a shard member on the new revision", "pod", step.Pod, "leader", step.Leader)
	if step.Leader {
		r.watchHandover(ctx, s, pod, startedAt)
	}
	return nil
}

// memberStates is the plan's view of each member. known is false while the
// StatefulSet has not observed its template yet (which revision is wanted
// is not known). Without revisions (no StatefulSet controller has run), a
// member is current when it runs the template's image.
func memberStates(s *scope) ([]rolloutplan.Member, bool) {
	sts := s.sts
	want := sts.Status.UpdateRevision
	if want != "" && sts.Status.ObservedGeneration < sts.Generation {
		return nil, false
	}
	image := templateShardImage(sts)
	out := make([]rolloutplan.Member, 0, len(s.cluster.Members))
	for _, cm := range s.cluster.Members {
		m := rolloutplan.Member{Pod: cm.Pod, Ready: cm.Ready, Lag: cm.Lag,
			Leader: cm.Pod == s.cluster.Leader && cm.Role == boxv1.RoleLeader}
		if p := s.memberPods[cm.Pod]; p != nil {
			m.Exists, m.Deleting, m.Since = true, !p.DeletionTimestamp.IsZero(), p.CreationTimestamp.Time
			if want != "" {
				m.Current = p.Labels[appsv1.ControllerRevisionHashLabelKey] == want
			} else {
				m.Current = shardContainerImage(p) == image
			}
		}
		out = append(out, m)
	}
	return out, true
}

func countCurrent(ms []rolloutplan.Member) int {
	n := 0
	for _, m := range ms {
		if m.Current || !m.Exists {
			n++
		}
	}
	return n
}

func templateShardImage(sts *appsv1.StatefulSet) string {
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == boxv1.ComponentShard {
			return c.Image
		}
	}
	return ""
}

// watchHandover follows the hand-over the old leader's SIGTERM starts: it
// asks the other members for their status every handoverPoll until one
// says it leads in a newer term, at most HandoverWait, and records it in
// status.shard.lastHandover. The duration is wall time from the delete
// request, so it also holds the kubelet's reaction to the deletion: an
// upper bound on the hand-over.
func (r *ShowtimeReconciler) watchHandover(ctx context.Context, s *scope, old *corev1.Pod, startedAt time.Time) {
	h := &boxv1.ShardHandover{From: old.Name, StartedAt: metav1.NewMicroTime(s.now)}
	s.st.Status.Shard.LastHandover = h
	wait := r.HandoverWait
	if wait <= 0 {
		wait = DefaultHandoverWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	term := s.cluster.Term
	for {
		for _, name := range s.st.ShardPodNames() {
			p := s.memberPods[name]
			if name == old.Name || p == nil || p.Status.PodIP == "" {
				continue
			}
			rep, err := r.Shards.Status(ctx, p.Status.PodIP, s.token)
			if err != nil || rep.Role != string(boxv1.RoleLeader) || rep.Term <= term {
				continue
			}
			took := time.Since(startedAt)
			h.To, h.Term, h.Duration = name, rep.Term, took.Round(time.Millisecond).String()
			shardHandoverSeconds.Observe(took.Seconds())
			r.storeScrape(types.NamespacedName{Namespace: s.st.Namespace, Name: name}, scrapeEntry{at: s.now, podUID: p.UID, report: rep})
			logf.FromContext(ctx).Info("shard leadership handed over", "from", old.Name, "to", name, "term", rep.Term, "after", h.Duration)
			return
		}
		select {
		case <-ctx.Done():
			logf.FromContext(ctx).Info("no new shard leader seen in time after deleting the leader's pod", "pod", old.Name, "waited", wait.String())
			return
		case <-time.After(handoverPoll):
		}
	}
}

// membersBehind tells whether a member's pod runs another revision (or,
// without revisions, another image) than the StatefulSet wants.
func membersBehind(sts *appsv1.StatefulSet, pods map[string]*corev1.Pod) bool {
	if sts == nil {
		return false
	}
	want, image := sts.Status.UpdateRevision, templateShardImage(sts)
	for _, p := range pods {
		if want != "" && p.Labels[appsv1.ControllerRevisionHashLabelKey] != want {
			return true
		}
		if want == "" && shardContainerImage(p) != image {
			return true
		}
	}
	return false
}

// leaveRollingUpdate switches the StatefulSet of a replicated shard made
// before the operator moved members itself from RollingUpdate to OnDelete.
// An apply cannot do it alone: the API server defaulted
// rollingUpdate.partition, which no field manager owns and which OnDelete
// refuses, so it is cleared in the same patch.
func (r *ShowtimeReconciler) leaveRollingUpdate(ctx context.Context, st *boxv1.Showtime) error {
	if !st.Replicated() {
		return nil
	}
	live := &appsv1.StatefulSet{}
	found, err := r.getLive(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.ShardName()}, live)
	if err != nil || !found || live.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return err
	}
	if err := checkOwned(live, "StatefulSet", st); err != nil {
		return err
	}
	patch := []byte(`{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}`)
	if err := r.Patch(ctx, live, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("switching shard statefulset %s to the OnDelete update strategy: %w", live.Name, err)
	}
	return nil
}
