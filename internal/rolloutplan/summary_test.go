package rolloutplan

import (
	"testing"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProgressingCondition(t *testing.T) {
	cases := []struct {
		phase boxv1.RolloutPhase
		want  Condition
	}{
		{"", Condition{Status: metav1.ConditionFalse, Reason: "Pending", Message: "m"}},
		{boxv1.RolloutPending, Condition{Status: metav1.ConditionFalse, Reason: "Pending", Message: "m"}},
		{boxv1.RolloutProgressing, Condition{Status: metav1.ConditionTrue, Reason: "Baking", Message: "m"}},
		{boxv1.RolloutPromoting, Condition{Status: metav1.ConditionTrue, Reason: "Baking", Message: "m"}},
		{boxv1.RolloutRollingBack, Condition{Status: metav1.ConditionTrue, Reason: "Baking", Message: "m"}},
		{boxv1.RolloutPaused, Condition{Status: metav1.ConditionFalse, Reason: "Paused", Message: "m"}},
		{boxv1.RolloutSucceeded, Condition{Status: metav1.ConditionFalse, Reason: "Succeeded", Message: "m"}},
		{boxv1.RolloutRolledBack, Condition{Status: metav1.ConditionFalse, Reason: "RolledBack", Message: "m"}},
		{boxv1.RolloutFailed, Condition{Status: metav1.ConditionFalse, Reason: "Failed", Message: "m"}},
	}
	for _, c := range cases {
		if got := ProgressingCondition(c.phase, "Baking", "m"); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.phase, got, c.want)
		}
	}
}

func TestFrozenCondition(t *testing.T) {
	six := []string{"a", "b", "c", "d", "e", "f"}
	cases := []struct {
		name   string
		phase  boxv1.RolloutPhase
		frozen []string
		want   Condition
	}{
		{"pending: left alone", boxv1.RolloutPending, nil, Condition{Keep: true}},
		{"progressing, nothing frozen", boxv1.RolloutProgressing, nil, Condition{Status: metav1.ConditionFalse, Reason: "NotFrozen", Message: "no selected showtime waits for a freeze"}},
		{"paused on frozen showtimes", boxv1.RolloutPaused, six, Condition{Status: metav1.ConditionTrue, Reason: "ShowtimesFrozen",
			Message: "6 showtimes wait for a freeze or their on-sale peak to end: a, b, c, d, e, and 1 more"}},
		{"rolling back ignores freezes", boxv1.RolloutRollingBack, six, Condition{Remove: true}},
		{"succeeded", boxv1.RolloutSucceeded, nil, Condition{Remove: true}},
		{"rolled back", boxv1.RolloutRolledBack, nil, Condition{Remove: true}},
		{"failed", boxv1.RolloutFailed, nil, Condition{Remove: true}},
	}
	for _, c := range cases {
		if got := FrozenCondition(c.phase, c.frozen); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
