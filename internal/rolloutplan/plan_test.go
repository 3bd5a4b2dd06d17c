package rolloutplan

import (
	"reflect"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// allKinds is every decision Decide can return; TestDecide must return each.
var allKinds = []Kind{Move, Upgrading, Conflicts, Bake, Judge, RollBack, PauseInconclusive, Reanalyse, Wait, AwaitPromotion, Promote, NextStep, Done}

func TestDecide(t *testing.T) {
	// Step 1: one showtime, baked 5m, then a manual gate; step 2: half;
	// then the implicit last step. Ten showtimes, two at once.
	spec := &boxv1.ShardRolloutSpec{
		Steps: []boxv1.RolloutStep{
			{Count: i32(1), Bake: metav1.Duration{Duration: 5 * time.Minute}, ManualGate: true},
			{Percent: i32(50)},
		},
		MaxConcurrent: 2,
	}
	noBake := &boxv1.ShardRolloutSpec{Steps: []boxv1.RolloutStep{{Count: i32(1)}}}
	until := t0.Add(time.Minute)
	past := t0.Add(-time.Second)
	in := func(step int32, c Counts, f func(*Input)) Input {
		i := Input{Name: "v2", Spec: spec, Total: 10, CurrentStep: step, Now: t0, Counts: c}
		if f != nil {
			f(&i)
		}
		return i
	}
	cases := []struct {
		name string
		in   Input
		want Decision
	}{
		{"a new step moves its cohort, bounded by maxConcurrent",
			in(2, Counts{Moved: 1, Upgraded: 1, Remaining: 9}, nil),
			Decision{Kind: Move, Step: Step{Target: 5}, Want: 4, Slots: 2}},
		{"no free slot: wait for the ones restarting",
			in(2, Counts{Moved: 3, Upgrading: 2, Remaining: 7}, nil),
			Decision{Kind: Upgrading, Step: Step{Target: 5}, Reason: "Upgrading", Message: "step 2: 2 showtimes restarting onto the target"}},
		{"moves tried: wait for the ones restarting",
			in(2, Counts{Moved: 3, Upgrading: 1, Remaining: 7}, func(i *Input) { i.MoveTried = true }),
			Decision{Kind: Upgrading, Step: Step{Target: 5}, Reason: "Upgrading", Message: "step 2: 1 showtimes restarting onto the target"}},
		{"a move met a conflict: moved again",
			in(1, Counts{Remaining: 10}, func(i *Input) { i.MoveTried, i.Conflicts = true, 1 }),
			Decision{Kind: Conflicts, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}, Reason: "Upgrading",
				Message: "step 1: 1 showtimes changed while being moved; moving them again"}},
		{"the cohort is ready: its bake starts now",
			in(1, Counts{Moved: 1, Baking: 1, Remaining: 9}, func(i *Input) { i.MoveTried = true }),
			Decision{Kind: Bake, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}, Until: t0.Add(5 * time.Minute), SetBakeUntil: true,
				Reason: "Baking", Message: "step 1: baking until 2026-03-01T12:05:00Z"}},
		{"baking goes on until bakeUntil",
			in(1, Counts{Moved: 1, Baking: 1, Remaining: 9}, func(i *Input) { i.MoveTried, i.BakeUntil = true, &until }),
			Decision{Kind: Bake, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}, Until: until,
				Reason: "Baking", Message: "step 1: baking until 2026-03-01T12:01:00Z"}},
		{"baking while the rest of the step is held back",
			in(2, Counts{Moved: 2, Baking: 1, Upgraded: 1, Waiting: 8, Remaining: 8}, func(i *Input) { i.MoveTried, i.BakeUntil = true, &until }),
			Decision{Kind: Bake, Step: Step{Target: 5}, Until: until, Blocked: true, Reason: "Baking", Message: "step 2: baking until 2026-03-01T12:01:00Z"}},
		{"a bake spec.retry started, on a step without one",
			Input{Spec: noBake, Total: 2, CurrentStep: 1, Now: t0, BakeUntil: &until, MoveTried: true, Counts: Counts{Moved: 1, Baking: 1, Remaining: 1}},
			Decision{Kind: Bake, Step: Step{Target: 1}, Until: until, Reason: "Baking", Message: "step 1: baking until 2026-03-01T12:01:00Z"}},
		{"the bake is over: judge the cohort",
			in(1, Counts{Moved: 1, Baking: 1, Remaining: 9}, func(i *Input) { i.MoveTried, i.BakeUntil = true, &past }),
			Decision{Kind: Judge, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}}},
		{"no bake: judge at once",
			Input{Spec: noBake, Total: 2, CurrentStep: 1, Now: t0, MoveTried: true, Counts: Counts{Moved: 1, Baking: 1, Remaining: 1}},
			Decision{Kind: Judge, Step: Step{Target: 1}}},
		{"a failed verdict rolls back",
			in(1, Counts{Moved: 1, Baking: 1, Remaining: 9}, func(i *Input) { i.MoveTried, i.BakeUntil, i.Judged, i.Failed = true, &past, true, "ns/a: write errors" }),
			Decision{Kind: RollBack, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}, Reason: "AnalysisFailed", Message: "ns/a: write errors"}},
		{"an inconclusive verdict pauses",
			in(1, Counts{Moved: 1, Baking: 1, Remaining: 9}, func(i *Input) { i.MoveTried, i.BakeUntil, i.Judged, i.Inconclusive = true, &past, true, 1 }),
			Decision{Kind: PauseInconclusive, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}}},
		{"a showtime that could not be analysed is looked at again one interval later",
			in(1, Counts{Moved: 1, Baking: 1, Remaining: 9}, func(i *Input) { i.MoveTried, i.BakeUntil, i.Judged = true, &past, true }),
			Decision{Kind: Reanalyse, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}, Until: t0.Add(DefaultInterval)}},
		{"passed, at the manual gate: wait for promotion",
			in(1, Counts{Moved: 1, Upgraded: 1, Remaining: 9}, func(i *Input) { i.MoveTried, i.BakeUntil, i.Judged = true, &past, true }),
			Decision{Kind: AwaitPromotion, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}, Reason: "WaitingForPromotion",
				Message: "step 1 done; waiting for promotion (kubectl boxoffice rollout promote v2)"}},
		{"spec.promote approves the manual gate",
			in(1, Counts{Moved: 1, Upgraded: 1, Remaining: 9}, func(i *Input) { i.MoveTried, i.PromoteLeft = true, true }),
			Decision{Kind: Promote, Step: Step{Target: 1, Bake: 5 * time.Minute, Gate: true}}},
		{"a step without a gate is done: the next starts",
			in(2, Counts{Moved: 5, Upgraded: 5, Remaining: 5}, func(i *Input) { i.MoveTried = true }),
			Decision{Kind: NextStep, Step: Step{Target: 5}}},
		{"everything left is held back (freeze, peak, other rollout)",
			in(2, Counts{Moved: 2, Upgraded: 2, Waiting: 8, Remaining: 8}, func(i *Input) { i.MoveTried = true }),
			Decision{Kind: Wait, Step: Step{Target: 5}, Blocked: true}},
		{"held back but what remains is gone: the step is done",
			in(2, Counts{Moved: 2, Upgraded: 2, Remaining: 0}, func(i *Input) { i.MoveTried = true }),
			Decision{Kind: Done, Step: Step{Target: 5}}},
		{"everyone on the target: done",
			in(3, Counts{Moved: 10, Upgraded: 10}, nil),
			Decision{Kind: Done, Step: Step{Target: 10}}},
		{"promoteFull moves everyone, skipping the bake",
			in(1, Counts{Moved: 1, Upgraded: 1, Remaining: 9}, func(i *Input) { i.Full = true }),
			Decision{Kind: Move, Step: Step{Target: 10}, Want: 9, Slots: 2}},
		{"promoteFull skips the manual gate",
			in(1, Counts{Moved: 10, Upgraded: 10}, func(i *Input) { i.Full, i.MoveTried = true, true }),
			Decision{Kind: Done, Step: Step{Target: 10}}},
		{"promoteFull does not move showtimes held back",
			in(1, Counts{Moved: 3, Upgraded: 3, Waiting: 7, Remaining: 7}, func(i *Input) { i.Full, i.MoveTried = true, true }),
			Decision{Kind: Wait, Step: Step{Target: 10}, Blocked: true}},
	}
	seen := map[Kind]bool{}
	for _, c := range cases {
		got := Decide(c.in)
		seen[got.Kind] = true
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	for _, k := range allKinds {
		if !seen[k] {
			t.Errorf("no case returns %s", k)
		}
	}
}

func TestCount(t *testing.T) {
	sts := []Showtime{
		{Key: "a", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeUpgrading}},
		{Key: "b", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeBaking}},
		{Key: "c", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeUpgraded}},
		{Key: "d", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeRollingBack}},
		{Key: "e", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeRolledBack}},
		{Key: "f", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeWaiting}, Frozen: true},
		{Key: "g", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeWaiting}},
		{Key: "h", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimePending}},
		{Key: "i", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimePending}, Gone: true},
	}
	c := Count(sts)
	want := Counts{Moved: 3, Upgrading: 1, Baking: 1, Remaining: 3, Upgraded: 1, InProgress: 3, Waiting: 2, RolledBack: 1}
	want.FrozenKeys = []string{"f"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Count =\n %+v\nwant %+v", c, want)
	}
}

func TestRollback(t *testing.T) {
	cases := []struct {
		name     string
		e        boxv1.RolloutShowtime
		gone     bool
		onTarget bool
		pending  int
	}{
		{"moved by this rollout, not restored yet", boxv1.RolloutShowtime{State: boxv1.ShowtimeUpgraded, Step: 1, Analysis: boxv1.AnalysisPassed}, false, true, 1},
		{"promoted in full (analysis skipped, but moved at a step)", boxv1.RolloutShowtime{State: boxv1.ShowtimeUpgraded, Step: 2, Analysis: boxv1.AnalysisSkipped}, false, true, 1},
		{"already on the target before the rollout", boxv1.RolloutShowtime{State: boxv1.ShowtimeUpgraded, Analysis: boxv1.AnalysisSkipped}, false, false, 0},
		{"restarting onto its previous images", boxv1.RolloutShowtime{State: boxv1.ShowtimeRollingBack, Step: 1}, false, false, 1},
		{"back on its previous images", boxv1.RolloutShowtime{State: boxv1.ShowtimeRolledBack, Step: 1}, false, false, 0},
		{"never moved", boxv1.RolloutShowtime{State: boxv1.ShowtimePending}, false, false, 0},
		{"moved, then deleted", boxv1.RolloutShowtime{State: boxv1.ShowtimeBaking, Step: 1, Analysis: boxv1.AnalysisPending}, true, true, 0},
	}
	for _, c := range cases {
		if got := OnTargetByUs(&c.e); got != c.onTarget {
			t.Errorf("%s: OnTargetByUs = %v, want %v", c.name, got, c.onTarget)
		}
		if got := RollbackPending([]Showtime{{RolloutShowtime: c.e, Gone: c.gone}}); got != c.pending {
			t.Errorf("%s: RollbackPending = %d, want %d", c.name, got, c.pending)
		}
	}
}

func TestWaiting(t *testing.T) {
	waiting := func(key, msg string, frozen bool) Showtime {
		return Showtime{Key: key, RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeWaiting, Message: msg}, Frozen: frozen}
	}
	reason, msg := Waiting([]Showtime{
		{Key: "ns/up", RolloutShowtime: boxv1.RolloutShowtime{State: boxv1.ShowtimeUpgraded}},
		waiting("ns/a", "held by ShardRollout other (Progressing)", false),
	}, 2)
	if reason != "Waiting" || msg != "step 2 cannot go on: ns/a: held by ShardRollout other (Progressing)" {
		t.Errorf("held by another rollout: %q %q", reason, msg)
	}
	reason, msg = Waiting([]Showtime{
		waiting("ns/a", "held", false), waiting("ns/b", "frozen by fw", true),
		waiting("ns/c", "frozen", true), waiting("ns/d", "frozen", true), waiting("ns/e", "frozen", true),
	}, 1)
	if reason != "Frozen" || !strings.HasSuffix(msg, "ns/c: frozen; and 2 more") || !strings.HasPrefix(msg, "step 1 cannot go on: ns/a: held; ns/b: frozen by fw") {
		t.Errorf("frozen: %q %q", reason, msg)
	}
}

func TestRouteOf(t *testing.T) {
	cases := []struct {
		phase boxv1.RolloutPhase
		abort bool
		want  Route
	}{
		{boxv1.RolloutSucceeded, false, RouteIdle},
		{boxv1.RolloutSucceeded, true, RouteUndo},
		{boxv1.RolloutRollingBack, false, RouteRollingBack},
		{boxv1.RolloutRollingBack, true, RouteRollingBack},
		{boxv1.RolloutProgressing, true, RouteAbort},
		{boxv1.RolloutPaused, true, RouteAbort},
		{boxv1.RolloutProgressing, false, RouteAdvance},
		{boxv1.RolloutPaused, false, RouteAdvance},
		{boxv1.RolloutPromoting, false, RouteAdvance},
	}
	for _, c := range cases {
		if got := RouteOf(c.phase, c.abort); got != c.want {
			t.Errorf("RouteOf(%s, abort %v) = %s, want %s", c.phase, c.abort, got, c.want)
		}
	}
}
