package controllers

import (
	"fmt"
	"time"
)

// DefaultNodeLostAfter is how long a member's node may be NotReady before
// the operator gives the member up and replaces it.
const DefaultNodeLostAfter = 5 * time.Minute

// memberFacts is what the replacement plan needs to know of one member.
type memberFacts struct {
	Ordinal int
	Pod     string
	Ready   bool
	// Node is where the member lives: its pod's node, or, with no pod
	// scheduled, the node its volume was provisioned for (the claim's
	// volume.kubernetes.io/selected-node); "" when neither is known.
	Node string
	// NodeFound is false when that Node object no longer exists.
	NodeFound bool
	// NodeNotReadySince is when the node's Ready condition last left True;
	// zero while it is Ready.
	NodeNotReadySince time.Time
}

// replacementPlan is what to do about members on lost nodes.
type replacementPlan struct {
	// Replace is the member to replace now (nil: none).
	Replace *memberFacts
	// Why says why the member is given up, for the event.
	Why string
	// Blocked says why a lost member is not replaced (for on-call: the
	// runbook covers it); "" when nothing is blocked.
	Blocked string
	// Recheck is when a NotReady node will have been NotReady long enough
	// (0: no such node).
	Recheck time.Duration
}

// nodeLost tells whether a member's node is gone: deleted, or NotReady for
// at least after. wait is how long until it will be, for a NotReady node.
func nodeLost(m memberFacts, now time.Time, after time.Duration) (lost bool, why string, wait time.Duration) {
	switch {
	case m.Node == "" || m.Ready:
		return false, "", 0
	case !m.NodeFound:
		return true, fmt.Sprintf("its node %s was deleted", m.Node), 0
	case m.NodeNotReadySince.IsZero():
		return false, "", 0
	}
	down := now.Sub(m.NodeNotReadySince)
	if down >= after {
		return true, fmt.Sprintf("its node %s has been NotReady for %s (more than %s)", m.Node, down.Round(time.Second), after), 0
	}
	return false, "", after - down
}

// planReplacement decides which member, if any, to replace. A member is
// replaced only while a majority of the others serves (the new member joins
// through the leader, and the lost member's log may hold acknowledged
// writes no one else has once a majority is lost), and only one at a time:
// while another member is not ready (catching up, or a replacement still
// joining), none is replaced. The first lost member by ordinal goes first.
func planReplacement(members []memberFacts, quorum bool, now time.Time, after time.Duration) replacementPlan {
	var plan replacementPlan
	var lost []memberFacts
	var whys []string
	notReadyOthers := map[int]bool{}
	for _, m := range members {
		isLost, why, wait := nodeLost(m, now, after)
		switch {
		case isLost:
			lost = append(lost, m)
			whys = append(whys, why)
		case wait > 0:
			if plan.Recheck == 0 || wait < plan.Recheck {
				plan.Recheck = wait
			}
			notReadyOthers[m.Ordinal] = true
		case !m.Ready:
			notReadyOthers[m.Ordinal] = true
		}
	}
	if len(lost) == 0 {
		return plan
	}
	first := lost[0]
	switch {
	case !quorum:
		plan.Blocked = fmt.Sprintf("member %s is lost (%s) but the shard has no serving majority: replacing it could drop acknowledged writes only its volume holds; see the runbook (docs/operations/replicated-shards.md)", first.Pod, whys[0])
	case len(notReadyOthers) > 0:
		plan.Blocked = fmt.Sprintf("member %s is lost (%s); waiting for the other members to be ready before replacing it (one member at a time)", first.Pod, whys[0])
	default:
		plan.Replace, plan.Why = &first, whys[0]
	}
	return plan
}
