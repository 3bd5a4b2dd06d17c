package main

import (
	"math"
	"runtime/metrics"
)

// The generator's own runtime over a run: how long its goroutines waited
// for a CPU and how long its garbage collector stopped it. A paced
// operation's latency is counted from its slot, so a stall of the generator
// shows in the client's p99 as much as a stall of the system; these say
// which it was.
const (
	rtSched   = "/sched/latencies:seconds"
	rtGCPause = "/sched/pauses/total/gc:seconds"
)

// selfHists reads the generator's scheduling-latency and GC-pause
// histograms, keyed as above.
func selfHists() map[string]Hist {
	s := []metrics.Sample{{Name: rtSched}, {Name: rtGCPause}}
	metrics.Read(s)
	out := map[string]Hist{}
	for _, x := range s {
		if x.Value.Kind() == metrics.KindFloat64Histogram {
			out[x.Name] = fromRuntime(x.Value.Float64Histogram())
		}
	}
	return out
}

// fromRuntime turns a runtime histogram (counts between boundaries) into
// a Hist (cumulative counts per upper bound, the last +Inf). The runtime
// keeps no sum: it is estimated from each bucket's midpoint.
func fromRuntime(h *metrics.Float64Histogram) Hist {
	var out Hist
	var cum float64
	for i, c := range h.Counts {
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		cum += float64(c)
		if c > 0 && !math.IsInf(lo, 0) && !math.IsInf(hi, 0) {
			out.Sum += float64(c) * (lo + hi) / 2
		}
		if math.IsInf(hi, 1) {
			continue
		}
		out.Upper = append(out.Upper, hi)
		out.Cum = append(out.Cum, cum)
	}
	out.Count = cum
	out.Upper = append(out.Upper, math.Inf(1))
	out.Cum = append(out.Cum, cum)
	return out
}
