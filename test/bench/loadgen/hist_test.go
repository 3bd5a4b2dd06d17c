package main

import (
	"math"
	"strings"
	"testing"
)

const exposition = `# HELP boxoffice_shard_wal_fsync_duration_seconds x
# TYPE boxoffice_shard_wal_fsync_duration_seconds histogram
boxoffice_shard_wal_fsync_duration_seconds_bucket{le="0.001"} 10
boxoffice_shard_wal_fsync_duration_seconds_bucket{le="0.002"} 30
boxoffice_shard_wal_fsync_duration_seconds_bucket{le="0.004"} 40
boxoffice_shard_wal_fsync_duration_seconds_bucket{le="+Inf"} 40
boxoffice_shard_wal_fsync_duration_seconds_sum 0.06
boxoffice_shard_wal_fsync_duration_seconds_count 40
# HELP boxoffice_shard_request_duration_seconds x
# TYPE boxoffice_shard_request_duration_seconds histogram
boxoffice_shard_request_duration_seconds_bucket{route="hold",le="0.001"} 5
boxoffice_shard_request_duration_seconds_bucket{route="hold",le="+Inf"} 5
boxoffice_shard_request_duration_seconds_sum{route="hold"} 0.002
boxoffice_shard_request_duration_seconds_count{route="hold"} 5
# HELP boxoffice_shard_epoch x
# TYPE boxoffice_shard_epoch gauge
boxoffice_shard_epoch 3
`

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParseHists(t *testing.T) {
	hs, err := parseHists(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 {
		t.Fatalf("got %d histograms, want 2 (gauges are skipped): %v", len(hs), hs)
	}
	f := hs[mFsync]
	if f.Count != 40 || !near(f.Sum, 0.06) || len(f.Cum) != 4 || !math.IsInf(f.Upper[3], 1) || f.Cum[1] != 30 {
		t.Fatalf("fsync: %+v", f)
	}
	if h, ok := hs[mHold]; !ok || h.Count != 5 {
		t.Fatalf("hold route series %q missing or wrong: %+v", mHold, hs)
	}
}

// TestQuantile: linear interpolation inside the bucket that holds the rank,
// as Prometheus's histogram_quantile.
func TestQuantile(t *testing.T) {
	h := Hist{Upper: []float64{1, 2, 4, math.Inf(1)}, Cum: []float64{10, 30, 40, 40}, Count: 40, Sum: 60}
	for _, c := range []struct{ q, want float64 }{
		{0.125, 0.5}, // rank 5 of the first 10 in [0,1]
		{0.5, 1.5},   // rank 20: 10 into the 20 of (1,2]
		{0.875, 3},   // rank 35: 5 into the 10 of (2,4]
		{1, 4},
	} {
		if got := h.Quantile(c.q); !near(got, c.want) {
			t.Errorf("q%.3f = %v, want %v", c.q, got, c.want)
		}
	}
	inf := Hist{Upper: []float64{1, 2, math.Inf(1)}, Cum: []float64{1, 1, 100}, Count: 100}
	if got := inf.Quantile(.99); got != 2 {
		t.Errorf("rank in +Inf: got %v, want the highest finite bound 2", got)
	}
	if d := inf.Dist(1); !near(d.Over, 0.99) {
		t.Errorf("share above the top bucket: got %v, want 0.99", d.Over)
	}
	if !math.IsNaN((Hist{}).Quantile(.5)) {
		t.Error("empty histogram: want NaN")
	}
}

// TestSubAdd: a window is the later scrape minus the earlier; followers'
// histograms merge bucket by bucket.
func TestSubAdd(t *testing.T) {
	up := []float64{1, 2, math.Inf(1)}
	before := Hist{Upper: up, Cum: []float64{5, 8, 9}, Count: 9, Sum: 10}
	after := Hist{Upper: up, Cum: []float64{15, 28, 29}, Count: 29, Sum: 40}
	d := after.Sub(before)
	if d.Count != 20 || d.Sum != 30 || d.Cum[0] != 10 || d.Cum[1] != 20 || d.Cum[2] != 20 {
		t.Fatalf("delta: %+v", d)
	}
	if got := after.Sub(Hist{}); got.Count != 29 {
		t.Fatalf("no earlier scrape: want the whole histogram, got %+v", got)
	}
	s := Hist{}.Add(d).Add(d)
	if s.Count != 40 || s.Cum[1] != 40 || s.Sum != 60 {
		t.Fatalf("sum: %+v", s)
	}
	dist := d.Dist(1000)
	if !near(dist.Mean, 1500) || !near(dist.P50, 1000) || dist.N != 20 {
		t.Fatalf("dist in ms: %+v", dist)
	}
}

func TestCPURatioAndDiskNote(t *testing.T) {
	shard := &RunResult{HoldsPerSec: 9000, ServerCPU: 0.5}
	redis := &RunResult{HoldsPerSec: 9000, ServerCPU: 0.75}
	if got := cpuRatio(shard, redis); !near(got, 1.5) {
		t.Errorf("ratio: got %v, want 1.5", got)
	}
	if cpuRatio(shard, &RunResult{HoldsPerSec: 9000}) != 0 {
		t.Error("unknown CPU: want 0")
	}
	r := &RunResult{Hold: Lat{P99: 12}, Times: &ServerTimes{FsyncMs: Dist{N: 10, P99: 9}}}
	if n := diskNote(r); !strings.Contains(n, "above 5 ms") {
		t.Errorf("disk slower than the target: %q", n)
	}
	r.Times.FsyncMs.P99 = 1
	if n := diskNote(r); !strings.Contains(n, "the rest is CPU") {
		t.Errorf("disk fast, p99 missed: %q", n)
	}
	r.Hold.P99 = 3
	if n := diskNote(r); n != "" {
		t.Errorf("target met: want no note, got %q", n)
	}
}

// TestAttribute: the leader's histograms describe the writes; the other
// members' fsyncs are merged as the followers'.
func TestAttribute(t *testing.T) {
	up := []float64{0.001, 0.002, math.Inf(1)}
	h := func(n float64) Hist { return Hist{Upper: up, Cum: []float64{0, n, n}, Count: n, Sum: n * 0.0015} }
	d := []map[string]Hist{
		{mFsync: h(4)},
		{mFsync: h(10), mRTT: h(7), mCommit: h(3)},
		{mFsync: h(6)},
	}
	tm := attribute(d, 1)
	if tm.FsyncMs.N != 10 || tm.RoundTripMs.N != 7 || tm.CommitMs.N != 3 || tm.FollowerFsyncMs.N != 10 {
		t.Fatalf("%+v", tm)
	}
	if tm.QueueMs.N != 0 {
		t.Fatalf("absent series: want an empty distribution, got %+v", tm.QueueMs)
	}
}
