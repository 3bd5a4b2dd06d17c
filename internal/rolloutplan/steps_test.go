package rolloutplan

import (
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func i32(v int32) *int32 { return &v }

func count(n int32) boxv1.RolloutStep   { return boxv1.RolloutStep{Count: &n} }
func percent(p int32) boxv1.RolloutStep { return boxv1.RolloutStep{Percent: &p} }

func TestCumulative(t *testing.T) {
	cases := []struct {
		name     string
		steps    []boxv1.RolloutStep
		total, i int32
		want     int32
	}{
		{"count", []boxv1.RolloutStep{count(2)}, 10, 1, 2},
		{"percent rounds up", []boxv1.RolloutStep{percent(25)}, 10, 1, 3},
		{"percent is at least one", []boxv1.RolloutStep{percent(1)}, 10, 1, 1},
		{"percent of zero showtimes", []boxv1.RolloutStep{percent(50)}, 0, 1, 0},
		{"a later smaller step keeps the earlier count", []boxv1.RolloutStep{count(5), count(2)}, 10, 2, 5},
		{"count above the total is the total", []boxv1.RolloutStep{count(20)}, 10, 1, 10},
		{"past the declared steps is everyone", []boxv1.RolloutStep{count(2)}, 10, 2, 10},
		{"step 0 moves nobody", []boxv1.RolloutStep{count(2)}, 10, 0, 0},
		{"a step with neither count nor percent moves no one more", []boxv1.RolloutStep{count(2), {Bake: metav1.Duration{Duration: time.Minute}}}, 10, 2, 2},
		{"no steps", nil, 4, 1, 4},
	}
	for _, c := range cases {
		if got := Cumulative(c.steps, c.total, c.i); got != c.want {
			t.Errorf("%s: Cumulative(step %d of %d) = %d, want %d", c.name, c.i, c.total, got, c.want)
		}
	}
}

func TestStepCount(t *testing.T) {
	cases := []struct {
		name  string
		steps []boxv1.RolloutStep
		total int32
		want  int32
	}{
		{"no steps: one implicit step", nil, 5, 1},
		{"steps that stop short get an implicit last step", []boxv1.RolloutStep{count(1), percent(50)}, 10, 3},
		{"steps that reach everyone", []boxv1.RolloutStep{count(1), percent(100)}, 10, 2},
		{"a count reaching the total", []boxv1.RolloutStep{count(3)}, 3, 1},
	}
	for _, c := range cases {
		if got := StepCount(c.steps, c.total); got != c.want {
			t.Errorf("%s: StepCount = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestStepAt(t *testing.T) {
	steps := []boxv1.RolloutStep{
		{Count: i32(1), Bake: metav1.Duration{Duration: time.Minute}, ManualGate: true},
		{Percent: i32(50)},
	}
	cases := []struct {
		name    string
		current int32
		full    bool
		want    Step
	}{
		{"step 0 reads as step 1", 0, false, Step{Target: 1, Bake: time.Minute, Gate: true}},
		{"first step: its count, bake and gate", 1, false, Step{Target: 1, Bake: time.Minute, Gate: true}},
		{"second step", 2, false, Step{Target: 5}},
		{"the implicit last step moves the rest", 3, false, Step{Target: 10}},
		{"promoteFull moves everyone, no bake, no gate", 1, true, Step{Target: 10}},
	}
	for _, c := range cases {
		if got := StepAt(steps, 10, c.current, c.full); got != c.want {
			t.Errorf("%s: StepAt = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	spec := &boxv1.ShardRolloutSpec{}
	if Interval(spec) != DefaultInterval || ReadyDeadline(spec) != DefaultReadyDeadline || MaxConcurrent(spec) != 1 {
		t.Errorf("defaults: interval %s, ready deadline %s, max concurrent %d", Interval(spec), ReadyDeadline(spec), MaxConcurrent(spec))
	}
	spec.Analysis.Interval.Duration, spec.Analysis.ReadyDeadline.Duration, spec.MaxConcurrent = time.Second, time.Minute, 3
	if Interval(spec) != time.Second || ReadyDeadline(spec) != time.Minute || MaxConcurrent(spec) != 3 {
		t.Errorf("set: interval %s, ready deadline %s, max concurrent %d", Interval(spec), ReadyDeadline(spec), MaxConcurrent(spec))
	}
}
