package rolloutplan

import (
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

// Defaults for the spec fields a client left out (the CRD defaults them too).
const (
	DefaultReadyDeadline = 60 * time.Second
	DefaultInterval      = 10 * time.Second
)

// Interval is how often a baking showtime is analysed.
func Interval(spec *boxv1.ShardRolloutSpec) time.Duration {
	if d := spec.Analysis.Interval.Duration; d > 0 {
		return d
	}
	return DefaultInterval
}

// ReadyDeadline is how long a moved showtime has to be ready on the target.
func ReadyDeadline(spec *boxv1.ShardRolloutSpec) time.Duration {
	if d := spec.Analysis.ReadyDeadline.Duration; d > 0 {
		return d
	}
	return DefaultReadyDeadline
}

// MaxConcurrent is how many showtimes may restart at once.
func MaxConcurrent(spec *boxv1.ShardRolloutSpec) int32 {
	if spec.MaxConcurrent > 0 {
		return spec.MaxConcurrent
	}
	return 1
}

// Cumulative is how many of total showtimes are on the target once step i
// (1-based) is done. A step never takes back what an earlier one reached; a
// percent rounds up to at least one; past the declared steps, everyone.
func Cumulative(steps []boxv1.RolloutStep, total, i int32) int32 {
	best := int32(0)
	for j := int32(0); j < i && j < int32(len(steps)); j++ {
		st := steps[j]
		n := int32(0)
		switch {
		case st.Count != nil:
			n = *st.Count
		case st.Percent != nil:
			n = max((total**st.Percent+99)/100, 1)
		}
		best = max(best, n)
	}
	if i > int32(len(steps)) || best > total {
		best = total
	}
	return best
}

// StepCount is the number of steps, with an implicit last step that moves
// the rest when the declared steps stop short of everyone (or there are
// none).
func StepCount(steps []boxv1.RolloutStep, total int32) int32 {
	n := int32(len(steps))
	if n == 0 || Cumulative(steps, total, n) < total {
		n++
	}
	return n
}

// Step is what one step asks for.
type Step struct {
	// Target is how many showtimes are on the target once the step is done.
	Target int32
	// Bake is how long its cohort runs on the target before it is judged.
	Bake time.Duration
	// Gate: the next step waits for spec.promote.
	Gate bool
}

// StepAt is step current (1-based; 0 reads as 1) of total showtimes. A full
// promotion (spec.promoteFull) and the implicit last step move everyone, with
// no bake and no gate.
func StepAt(steps []boxv1.RolloutStep, total, current int32, full bool) Step {
	if full {
		return Step{Target: total}
	}
	i := max(current, 1)
	if i > int32(len(steps)) {
		return Step{Target: total}
	}
	st := steps[i-1]
	return Step{Target: Cumulative(steps, total, i), Bake: st.Bake.Duration, Gate: st.ManualGate}
}
