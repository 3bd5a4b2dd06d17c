package waitroom

import (
	"math"
	"time"
)

// rateWindow is how many recent admissions the admission rate is measured
// over.
const rateWindow = 64

// Wait-time histogram: bucket 0 holds waits under one second, bucket i > 0
// waits under 2^(i/2) seconds; the last bucket holds everything longer.
const waitBuckets = 44

// stats are the measurements kept in the state (and so in snapshots): the
// times of the last admissions, a histogram of waits, counters.
type stats struct {
	recent   [rateWindow]int64 // ring of admission times
	nRecent  int               // filled slots, up to rateWindow
	next     int               // next ring slot
	hist     [waitBuckets]uint64
	admitted uint64
	timedOut uint64
	bought   uint64
}

func (s *stats) admit(now, waited int64) {
	s.recent[s.next] = now
	s.next = (s.next + 1) % rateWindow
	s.nRecent = min(s.nRecent+1, rateWindow)
	s.hist[waitBucket(waited)]++
	s.admitted++
}

// rate is admissions per second over the recent window, and whether there
// were enough admissions to measure it.
func (s *stats) rate() (float64, bool) {
	if s.nRecent < 2 {
		return 0, false
	}
	newest := s.recent[(s.next+rateWindow-1)%rateWindow]
	oldest := s.recent[(s.next+rateWindow-s.nRecent)%rateWindow]
	span := newest - oldest
	if span <= 0 {
		return 0, false
	}
	return float64(s.nRecent-1) / (float64(span) / float64(time.Second)), true
}

func waitBucket(waited int64) int {
	sec := float64(waited) / float64(time.Second)
	if sec < 1 {
		return 0
	}
	b := int(math.Floor(2*math.Log2(sec))) + 1
	return min(b, waitBuckets-1)
}

// bucketTop is the upper bound of a bucket's waits.
func bucketTop(b int) time.Duration {
	return time.Duration(math.Exp2(float64(b)/2) * float64(time.Second))
}

// quantile is the upper bound of the bucket holding the q-quantile wait.
func (s *stats) quantile(q float64) time.Duration {
	if s.admitted == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.admitted)))
	var seen uint64
	for b, n := range s.hist {
		seen += n
		if seen >= rank && n > 0 {
			return bucketTop(b)
		}
	}
	return bucketTop(waitBuckets - 1)
}
