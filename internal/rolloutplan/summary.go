package rolloutplan

import (
	"fmt"
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition is what a status condition should say. Remove: the condition
// is taken off; Keep: left as it is.
type Condition struct {
	Status          metav1.ConditionStatus
	Reason, Message string
	Remove, Keep    bool
}

// started reports whether the rollout has left Pending.
func started(phase boxv1.RolloutPhase) bool {
	return phase != "" && phase != boxv1.RolloutPending
}

// ProgressingCondition is the Progressing condition of a rollout in phase
// with the status' reason and message: True while it moves showtimes or
// rolls back, False (the phase as reason) otherwise.
func ProgressingCondition(phase boxv1.RolloutPhase, reason, message string) Condition {
	switch phase {
	case boxv1.RolloutProgressing, boxv1.RolloutPromoting, boxv1.RolloutRollingBack:
		return Condition{Status: metav1.ConditionTrue, Reason: reason, Message: message}
	case "", boxv1.RolloutPending:
		return Condition{Status: metav1.ConditionFalse, Reason: "Pending", Message: message}
	}
	return Condition{Status: metav1.ConditionFalse, Reason: string(phase), Message: message}
}

// FrozenCondition is the Frozen condition given the waiting showtimes a
// freeze holds: gone once the rollout is over or rolling back (freezes do
// not hold a rollback), True naming up to five, False once started with
// none, left alone while Pending.
func FrozenCondition(phase boxv1.RolloutPhase, frozen []string) Condition {
	switch {
	case phase.Done() || phase == boxv1.RolloutSucceeded || phase == boxv1.RolloutRollingBack:
		return Condition{Remove: true}
	case len(frozen) > 0:
		return Condition{Status: metav1.ConditionTrue, Reason: "ShowtimesFrozen",
			Message: fmt.Sprintf("%d showtimes wait for a freeze or their on-sale peak to end: %s", len(frozen), strings.Join(FirstN(frozen, 5), ", "))}
	case started(phase):
		return Condition{Status: metav1.ConditionFalse, Reason: "NotFrozen", Message: "no selected showtime waits for a freeze"}
	}
	return Condition{Keep: true}
}
