package controllers

import (
	"fmt"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// One setter per condition: each reads the scope and sets exactly its own condition.

func setCondition(st *boxv1.Showtime, typ string, ok bool, reason, msg string) {
	setConditionStatus(st, typ, conditionStatus(ok), reason, msg)
}

func setSeatMapValidCondition(s *scope) {
	switch {
	case s.seatMapErr == nil && s.layout == nil:
		// The seat map was not reached: keep what was known.
		return
	case s.seatMapErr != nil:
		setCondition(s.st, boxv1.ConditionSeatMapValid, false, "InvalidSeatMap", s.seatMapErr.Error())
	default:
		setCondition(s.st, boxv1.ConditionSeatMapValid, true, "Valid",
			fmt.Sprintf("%d seats in %d sections", s.layout.Total, len(s.layout.Sections)))
	}
}

// reasonNameConflict is the ObjectsOwned reason, and the event reason, for an
// object in the way that is not the showtime's own.
const reasonNameConflict = "NameConflict"

// setObjectsOwnedCondition: False while an object the showtime needs exists
// and is not its own; True once every step ran and found only its own;
// otherwise (a step failed first, the seat map stopped the steps) unchanged.
func setObjectsOwnedCondition(s *scope, finished bool) {
	switch {
	case s.conflict != nil:
		setCondition(s.st, boxv1.ConditionObjectsOwned, false, reasonNameConflict, s.conflict.Error())
	case finished && s.seatMapErr == nil:
		setCondition(s.st, boxv1.ConditionObjectsOwned, true, "Owned", "every object this showtime needs is its own")
	}
}

func setShardReadyCondition(s *scope) {
	st := s.st
	switch {
	case s.seatMapErr != nil:
		setCondition(st, boxv1.ConditionShardReady, false, "SeatMapInvalid", "the shard is not created while the seat map is invalid")
	case s.cluster != nil:
		setClusterShardReady(s)
	case s.pod == nil:
		setCondition(st, boxv1.ConditionShardReady, false, "PodMissing",
			fmt.Sprintf("waiting for pod %s to be created", st.ShardPodName(0)))
	case !s.podReady:
		setCondition(st, boxv1.ConditionShardReady, false, "PodNotReady",
			fmt.Sprintf("pod %s is %s and not ready", s.pod.Name, s.pod.Status.Phase))
	case s.scrapeErr != nil:
		setCondition(st, boxv1.ConditionShardReady, false, "StatusUnreachable",
			fmt.Sprintf("pod %s is ready but its /v1/status failed: %v", s.pod.Name, s.scrapeErr))
	default:
		setCondition(st, boxv1.ConditionShardReady, true, "Ready",
			fmt.Sprintf("pod %s serves epoch %d", s.pod.Name, st.Status.Shard.Epoch))
	}
}

// setClusterShardReady: a replicated shard is ready while a majority of its
// members serves and its leader answers; one member down is not an outage
// (ShardRedundancy says it).
func setClusterShardReady(s *scope) {
	st, v := s.st, s.cluster
	switch {
	case !v.Quorum():
		c := meta.FindStatusCondition(st.Status.Conditions, boxv1.ConditionShardQuorum)
		setCondition(st, boxv1.ConditionShardReady, false, "NoQuorum", c.Message)
	case v.Leader == "":
		// Quorum without a leader is an election within its grace
		// (clusterView.Electing): no leader to ask, and no outage yet.
		c := meta.FindStatusCondition(st.Status.Conditions, boxv1.ConditionShardQuorum)
		setCondition(st, boxv1.ConditionShardReady, true, "Electing", c.Message)
	case s.scrapeErr != nil:
		setCondition(st, boxv1.ConditionShardReady, false, "StatusUnreachable", s.scrapeErr.Error())
	default:
		setCondition(st, boxv1.ConditionShardReady, true, "Ready",
			fmt.Sprintf("%s members ready, leader %s serves term %d", v.ReadyMembers(), v.Leader, v.Term))
	}
}

func setFrontendReadyCondition(s *scope) {
	st := s.st
	f := st.Status.Frontend
	switch {
	case s.seatMapErr != nil:
		setCondition(st, boxv1.ConditionFrontendReady, false, "SeatMapInvalid", "the front end is not created while the seat map is invalid")
	case s.deployment == nil:
		setCondition(st, boxv1.ConditionFrontendReady, false, "DeploymentMissing", "waiting for the front-end deployment")
	case f.ReadyReplicas == 0:
		setCondition(st, boxv1.ConditionFrontendReady, false, "NoReadyReplicas",
			fmt.Sprintf("0 of %d front-end replicas ready (floor %d)", f.Replicas, f.MinReplicas))
	default:
		setCondition(st, boxv1.ConditionFrontendReady, true, "Ready",
			fmt.Sprintf("%d of %d front-end replicas ready (floor %d)", f.ReadyReplicas, f.Replicas, f.MinReplicas))
	}
}

func setOnSaleCondition(s *scope) {
	st := s.st
	opens, closes := st.Spec.Sales.OpensAt.Time, st.Spec.Sales.ClosesAt.Time
	switch {
	case s.now.Before(opens):
		setCondition(st, boxv1.ConditionOnSale, false, "NotYetOpen", "sale opens at "+opens.Format(time.RFC3339))
	case !s.now.Before(closes):
		setCondition(st, boxv1.ConditionOnSale, false, "SaleClosed", "sale closed at "+closes.Format(time.RFC3339))
	case st.Status.Phase == boxv1.PhaseSoldOut:
		setCondition(st, boxv1.ConditionOnSale, false, "SoldOut", "every seat is sold")
	case !meta.IsStatusConditionTrue(st.Status.Conditions, boxv1.ConditionShardReady):
		setCondition(st, boxv1.ConditionOnSale, false, "ShardNotReady", "inside the sale window but the shard is not ready")
	case !meta.IsStatusConditionTrue(st.Status.Conditions, boxv1.ConditionFrontendReady):
		setCondition(st, boxv1.ConditionOnSale, false, "FrontendNotReady", "inside the sale window but no front-end replica is ready")
	default:
		setCondition(st, boxv1.ConditionOnSale, true, "SaleOpen", "on sale until "+closes.Format(time.RFC3339))
	}
}

// computePhase summarises the conditions into one word for kubectl get.
func computePhase(s *scope) boxv1.ShowtimePhase {
	st := s.st
	prev := st.Status.Phase
	shardReady := meta.IsStatusConditionTrue(st.Status.Conditions, boxv1.ConditionShardReady)
	frontendReady := meta.IsStatusConditionTrue(st.Status.Conditions, boxv1.ConditionFrontendReady)
	switch {
	case s.seatMapErr != nil:
		return boxv1.PhaseDegraded
	case !s.now.Before(st.Spec.Sales.ClosesAt.Time):
		return boxv1.PhaseClosed
	case !shardReady || !frontendReady:
		// A shard or front end that was serving and stopped is an incident;
		// one that has never served yet is still being provisioned.
		switch prev {
		case boxv1.PhaseReady, boxv1.PhaseOnSale, boxv1.PhaseSoldOut, boxv1.PhaseDegraded:
			return boxv1.PhaseDegraded
		}
		if s.sts == nil {
			return boxv1.PhasePending
		}
		return boxv1.PhaseProvisioning
	case s.now.Before(st.Spec.Sales.OpensAt.Time):
		return boxv1.PhaseReady
	case st.Status.Seats.Total > 0 && st.Status.Seats.Sold >= st.Status.Seats.Total:
		return boxv1.PhaseSoldOut
	default:
		return boxv1.PhaseOnSale
	}
}

// keepSummaryOnFailure is the status summary of a reconcile whose step failed.
// What the failed step and those after it would have read is unknown, not
// missing: ShardReady, FrontendReady, OnSale and the phase keep their last
// values, so a transient API error never reads as an outage. A showtime that
// has no phase yet is Pending. A name conflict is no transient error: only a
// person clears it, so the phase is Degraded.
func keepSummaryOnFailure(s *scope) {
	if s.conflict != nil {
		s.st.Status.Phase = boxv1.PhaseDegraded
		return
	}
	if s.st.Status.Phase == "" {
		s.st.Status.Phase = boxv1.PhasePending
	}
}

// setShardClusterConditions sets ShardQuorum and ShardRedundancy of a
// replicated shard and raises the Warning on-call must see when a member is
// lost (and the Normal event when every member serves again). A 1-member
// shard has neither condition.
func (r *ShowtimeReconciler) setShardClusterConditions(s *scope) {
	st, v := s.st, s.cluster
	if v == nil {
		meta.RemoveStatusCondition(&st.Status.Conditions, boxv1.ConditionShardQuorum)
		meta.RemoveStatusCondition(&st.Status.Conditions, boxv1.ConditionShardRedundancy)
		return
	}
	wasRedundant := meta.IsStatusConditionTrue(st.Status.Conditions, boxv1.ConditionShardRedundancy)
	hadQuorum := meta.IsStatusConditionTrue(st.Status.Conditions, boxv1.ConditionShardQuorum)
	quorumReason, quorumMsg, redReason, redMsg := clusterConditionText(*v)
	if s.replacementBlocked != "" {
		redReason, redMsg = "ReplacementBlocked", redMsg+"; "+s.replacementBlocked
	}
	setCondition(st, boxv1.ConditionShardQuorum, v.Quorum(), quorumReason, quorumMsg)
	setCondition(st, boxv1.ConditionShardRedundancy, v.Redundancy(), redReason, redMsg)
	switch {
	case hadQuorum && !v.Quorum():
		r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, "ShardQuorumLost", "Observe", "%s", quorumMsg)
	case wasRedundant && !v.Redundancy():
		r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, "ShardRedundancyLost", "Observe", "%s", redMsg)
	case !wasRedundant && v.Redundancy() && cond0(st, boxv1.ConditionShardRedundancy) != nil:
		r.Recorder.Eventf(st, nil, corev1.EventTypeNormal, "ShardRedundancyRestored", "Observe", "%s", redMsg)
	}
}

// cond0 is the condition of a type as it was set; here only to tell a
// first setting from a change.
func cond0(st *boxv1.Showtime, typ string) *metav1.Condition {
	c := meta.FindStatusCondition(st.Status.Conditions, typ)
	if c == nil || c.LastTransitionTime.IsZero() {
		return nil
	}
	return c
}

// clusterConditionText is the reasons and messages of ShardQuorum and
// ShardRedundancy.
func clusterConditionText(v clusterView) (qReason, qMsg, rReason, rMsg string) {
	majority := v.Replicas/2 + 1
	switch {
	case v.Leader == "" && v.Electing:
		qReason, qMsg = "Electing", fmt.Sprintf("the members are electing a leader; %s members ready, %d needed", v.ReadyMembers(), majority)
	case v.Leader == "":
		qReason, qMsg = "NoLeader", fmt.Sprintf("no member leads; %s members ready, %d needed", v.ReadyMembers(), majority)
	case v.Ready < majority:
		qReason, qMsg = "MajorityLost", fmt.Sprintf("%s members ready, %d needed: writes stop until a majority serves", v.ReadyMembers(), majority)
	default:
		qReason, qMsg = "Majority", fmt.Sprintf("%s members ready, %s leads in term %d", v.ReadyMembers(), v.Leader, v.Term)
	}
	if v.Redundancy() {
		return qReason, qMsg, "AllMembersServing", fmt.Sprintf("all %d members serve", v.Replicas)
	}
	down := v.Down()
	if len(down) == 0 {
		return qReason, qMsg, "NoQuorum", qMsg
	}
	return qReason, qMsg, "MembersDown", fmt.Sprintf("%s members ready; not serving: %s", v.ReadyMembers(), joinPods(down))
}
