package canary

import (
	"sort"
	"strconv"
	"time"
)

// Traffic is one showtime's write rate as the rollout measured it.
type Traffic struct {
	// WritesPerSecond since the shard started; meaningful when Known.
	WritesPerSecond float64
	// Known is false when the shard could not be read.
	Known bool
}

// WriteRate is writes over the time the shard has run; 0 for no time.
func WriteRate(writes float64, running time.Duration) float64 {
	if running <= 0 || writes <= 0 {
		return 0
	}
	return writes / running.Seconds()
}

// OrderByTraffic returns the indexes of ts, busiest first, so that the first
// cohorts (the canaries) have traffic to be judged on. Showtimes with the
// same rate keep their order (the caller's: namespace, then name); those
// whose rate is unknown come last.
func OrderByTraffic(ts []Traffic) []int {
	idx := make([]int, len(ts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ta, tb := ts[idx[a]], ts[idx[b]]
		if ta.Known != tb.Known || !ta.Known {
			return ta.Known && !tb.Known
		}
		return ta.WritesPerSecond > tb.WritesPerSecond
	})
	return idx
}

// FormatRate is a write rate for status: "12.5/s", "0/s".
func FormatRate(r float64) string {
	prec := 2
	if r >= 10 {
		prec = 1
	}
	return strconv.FormatFloat(r, 'f', prec, 64) + "/s"
}
