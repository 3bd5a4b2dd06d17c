package rolloutplan

import (
	"testing"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

func TestTake(t *testing.T) {
	inconclusive := Asks{Phase: boxv1.RolloutPaused, Reason: boxv1.RolloutReasonInconclusive}
	with := func(a Asks, f func(*Asks)) Asks { f(&a); return a }
	progressing := Asks{Phase: boxv1.RolloutProgressing}
	cases := []struct {
		name string
		in   Asks
		want Answer
	}{
		{"nothing asked", progressing, Answer{}},
		{"spec.paused pauses", with(progressing, func(a *Asks) { a.Paused = true }), Answer{Pause: true, Stop: true}},
		{"spec.paused on a paused rollout stops, no new pause", Asks{Phase: boxv1.RolloutPaused, Reason: "PausedByUser", Paused: true}, Answer{Stop: true}},
		{"spec.paused cleared resumes", Asks{Phase: boxv1.RolloutPaused, Reason: "PausedByUser"}, Answer{Resume: true}},
		{"a rollout paused on a freeze is resumed too (the step loop pauses it again while held)", Asks{Phase: boxv1.RolloutPaused, Reason: "Frozen"}, Answer{Resume: true}},
		{"spec.promoteFull enters Promoting", with(progressing, func(a *Asks) { a.PromoteFull = true }), Answer{EnterFull: true}},
		{"spec.promoteFull once Promoting", Asks{Phase: boxv1.RolloutPromoting, PromoteFull: true}, Answer{}},
		{"spec.promoteFull on a paused rollout: Promoting, then paused by spec.paused", Asks{Phase: boxv1.RolloutPaused, PromoteFull: true, Paused: true}, Answer{EnterFull: true, Pause: true, Stop: true}},
		{"spec.promote at a manual gate is left for it", with(progressing, func(a *Asks) { a.Promote, a.WaitingForPromotion = true, true }), Answer{PromoteLeft: true}},
		{"spec.promote with no gate waiting is cleared", with(progressing, func(a *Asks) { a.Promote = true }), Answer{PromoteLeft: true, IgnorePromote: true}},
		{"spec.retry with nothing inconclusive is cleared", with(progressing, func(a *Asks) { a.Retry = true }), Answer{IgnoreRetry: true}},
		{"spec.retry of a rollout just started over is not ignored", with(progressing, func(a *Asks) { a.Retry, a.RetryTaken = true, true }), Answer{}},
		{"inconclusive, no answer: resumed; the step loop judges again, pausing again if still inconclusive", inconclusive, Answer{Resume: true}},
		{"inconclusive, spec.promote: promoted by hand", with(inconclusive, func(a *Asks) { a.Promote = true }), Answer{Inconclusive: PromoteByHand}},
		{"inconclusive, spec.retry: baked again", with(inconclusive, func(a *Asks) { a.Retry = true }), Answer{Inconclusive: BakeAgain}},
		{"inconclusive, both: promote wins, retry is cleared", with(inconclusive, func(a *Asks) { a.Promote, a.Retry = true, true }), Answer{Inconclusive: PromoteByHand, IgnoreRetry: true}},
		{"inconclusive, spec.promote while spec.paused: resolved, then paused", with(inconclusive, func(a *Asks) { a.Promote, a.Paused = true, true }), Answer{Inconclusive: PromoteByHand, Pause: true, Stop: true}},
	}
	for _, c := range cases {
		if got := Take(c.in); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}
