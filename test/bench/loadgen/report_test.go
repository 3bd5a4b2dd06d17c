package main

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A paced run's line names every part of the client's p99 the run
// measured: the generator's (pacer, free client, CPU waits, GC) and the
// shard's (request, writer queue, commit wait, fsync, groups, CPU, GC).
func TestPacedSectionTakesTheP99Apart(t *testing.T) {
	r := &RunResult{System: "shard, batched", Mode: "open", TargetRate: 10888, Clients: 256,
		Hold: Lat{P50: 1.2, P99: 11.4}, Start: Lat{N: 10, P50: 0.01, P99: 7.9}, PacerLate: Lat{N: 10, P50: 0.02, P99: 0.3},
		GenSchedMs: Dist{N: 5, P50: 0.01, P99: 0.2}, GenGCPauseMs: Dist{N: 2, P99: 0.05, Mean: 0.04}, GenCPU: 0.25,
		ServerCPU: 0.4, ServerRunqWait: 0.012, BatchTrip: Lat{N: 700, P50: 0.9, P99: 3.1, Max: 312},
		HostSteal: 0.045, HostIOWait: 0.2,
		Times: &ServerTimes{BatchMs: Dist{N: 100, P50: 0.5, P99: 0.98}, BatchOps: Dist{N: 100, P50: 6, P99: 30},
			QueueMs: Dist{N: 9, P99: 0.2}, CommitWaitMs: Dist{N: 9, P99: 0.9}, FsyncMs: Dist{N: 4000, P50: 0.3, P99: 0.5},
			GroupSize: Dist{N: 4000, P50: 5, P99: 40}, SchedMs: Dist{N: 9, P99: 0.4}, GCPauseMs: Dist{N: 12, P99: 0.3, Mean: 0.1}}}
	closed := &RunResult{System: "shard", Mode: "closed"}
	got := pacedSection([]*RunResult{closed, r, nil})
	for _, want := range []string{
		"shard, batched at 10888/s, 256 clients: client hold 1.20/11.40",
		"pacer late 0.02/0.30", "waiting for a free client 0.01/7.90", "its GC pauses 2, p99 0.05 ms",
		"shard batch request 0.5/0.98", "writer queue wait", "commit wait", "fsync 0.3/0.5 (mean 0) over 4000 groups",
		"group size 5/40", "GC pauses 12, p99 0.3 ms", "12 ms/s in the kernel's run queue",
		"round trip 0.90/3.10 over 700 batches", "batch round trip 312.0 ms",
		"45 ms/s of CPU stolen by the hypervisor, 200 ms/s idle waiting on the disk",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "shard at") {
		t.Errorf("a closed-loop run in the paced section:\n%s", got)
	}
}

func TestPlacementLine(t *testing.T) {
	all := "0"
	if n := runtime.NumCPU(); n > 1 {
		all = fmt.Sprintf("0-%d", n-1)
	}
	free := []*RunResult{{System: "shard", ServerCPUs: all, GenCPUs: all}, nil, {System: "redis", GenCPUs: all}}
	if got := placement(free); !strings.Contains(got, "not pinned") || strings.Count(got, "\n") != 1 {
		t.Errorf("unpinned runs: %q", got)
	}
	pinned := []*RunResult{{System: "shard", ServerCPUs: "1", GenCPUs: "0"}, {System: "redis", ServerCPUs: "1", GenCPUs: "0"}}
	if got := placement(pinned); got != "placement: system on CPUs 1, generator on CPUs 0\n" {
		t.Errorf("pinned runs: %q", got)
	}
	mixed := append(pinned, &RunResult{System: "postgres", ServerCPUs: all, GenCPUs: all})
	if got := placement(mixed); !strings.Contains(got, "postgres: not pinned") || !strings.Contains(got, "redis: system on CPUs 1") {
		t.Errorf("mixed placement: %q", got)
	}
}

// The generator's own account of the batches it sent counts only those sent
// in the measured window.
func TestBatchRoundTripsInTheWindow(t *testing.T) {
	b := &shardBackend{}
	t0 := time.Now()
	for i, took := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond} {
		b.trips.add(t0.Add(time.Duration(i)*time.Second), took)
	}
	got := b.BatchRoundTrips(t0.Add(time.Second), t0.Add(3*time.Second))
	if len(got) != 2 || got[0] != 2*time.Millisecond || got[1] != 3*time.Millisecond {
		t.Fatalf("round trips in [1 s, 3 s): %v", got)
	}
	r := &RunResult{System: "shard, batched", Hold: Lat{P50: 1, P99: 3}, BatchTrip: Lat{N: 2, P50: 2, P99: 3},
		Times: &ServerTimes{BatchMs: Dist{N: 2, P50: 0.4, P99: 0.9}}}
	if s := timesSection([]*RunResult{r}, nil); !strings.Contains(s, "batch round trip at the generator 2.00/3.00") {
		t.Errorf("closed-loop attribution without the round trip:\n%s", s)
	}
}

func TestHostTimesFromProcStat(t *testing.T) {
	a := parseCPULine("cpu  2519383 81720 866165 1230963 294630 0 102232 9409 0 0")
	b := parseCPULine("cpu  2519860 81720 866377 1231157 294639 0 102300 9413 0 0")
	if got := b.steal.perSecond(a.steal, 2); got != 0.02 {
		t.Errorf("steal: %v CPU-s/s, want 0.02", got)
	}
	if got := b.iowait.perSecond(a.iowait, 1); got != 0.09 {
		t.Errorf("iowait: %v CPU-s/s, want 0.09", got)
	}
	if bad := parseCPULine("cpu0 1 2 3"); bad.steal.valid || bad.steal.perSecond(a.steal, 1) != 0 {
		t.Errorf("a short or per-CPU line read as %+v", bad)
	}
}

func TestDistBoundsTheLargestObservation(t *testing.T) {
	h := Hist{Upper: []float64{0.001, 0.01, 0.1, math.Inf(1)}, Cum: []float64{5, 9, 10, 10}, Count: 10}
	if d := h.Dist(1000); d.MaxLo != 10 || d.MaxHi != 100 || fmtMax(d) != "10-100 ms" {
		t.Errorf("largest in (10, 100] ms: %+v %q", d, fmtMax(d))
	}
	h.Cum[3] = 11
	h.Count = 11
	d := h.Dist(1000)
	if fmtMax(d) != "over 100 ms" {
		t.Errorf("largest above the top bound: %q", fmtMax(d))
	}
	// It reaches the report as JSON, which has no +Inf (make bench once
	// failed a run on "json: unsupported value: +Inf").
	b, err := json.Marshal(d)
	var back Dist
	if err == nil {
		err = json.Unmarshal(b, &back)
	}
	if err != nil || back != d {
		t.Errorf("JSON round trip of %+v: %s, %+v, %v", d, b, back, err)
	}
}

// A half-rate p99 made by one long fsync is put on the disk.
func TestDiskNoteNamesOneLongFsync(t *testing.T) {
	r := &RunResult{Hold: Lat{P99: 91, Max: 205}, Times: &ServerTimes{FsyncMs: Dist{N: 50000, P99: 0.7, MaxLo: 100, MaxHi: 500}}}
	if got := diskNote(r); !strings.Contains(got, "its longest fsync took 100-500 ms") || !strings.Contains(got, "a stall of the disk") {
		t.Errorf("one long fsync: %q", got)
	}
	// Fsyncs over 5 ms that covered 1.5% of a 20 s window: more than 1% of
	// arrivals waited over 5 ms for the disk alone.
	r.WindowSec, r.Times.FsyncStallMs = 20, 300
	if got := diskNote(r); !strings.Contains(got, "covered at least 1.5% of the window") || !strings.Contains(got, "this disk kept the p99 above 5 ms") {
		t.Errorf("stalls over 1%% of the window: %q", got)
	}
	r.Times.FsyncStallMs = 150
	if got := diskNote(r); !strings.Contains(got, "a stall of the disk") || !strings.Contains(got, "at least 0.75% of the window") {
		t.Errorf("stalls under 1%% of the window: %q", got)
	}
	// A longest fsync of 5-10 ms cannot make a 12 ms p99 (make bench put
	// one such p99 on the disk), nor one of 10-25 ms a 7.5 ms p99 over a
	// 20 s window (it held back far fewer than 1% of the writes).
	for _, c := range []struct{ p99, lo, hi float64 }{{12, 5, 10}, {7.5, 10, 25}} {
		r.Hold.P99, r.Times.FsyncMs.MaxLo, r.Times.FsyncMs.MaxHi, r.Times.FsyncStallMs = c.p99, c.lo, c.hi, 1
		if got := diskNote(r); !strings.Contains(got, "the rest is CPU") || !strings.Contains(got, "too short or too rare to make the p99") {
			t.Errorf("p99 %v, longest fsync %v-%v ms: %q", c.p99, c.lo, c.hi, got)
		}
	}
	r.Hold.P99 = 91
	r.Times.FsyncMs.MaxLo, r.Times.FsyncMs.MaxHi = 1, 2.5
	if got := diskNote(r); !strings.Contains(got, "the rest is CPU") {
		t.Errorf("no long fsync: %q", got)
	}
}

// TimeOver counts each observation from its bucket's lower bound: a lower
// bound on the time spent beyond over.
func TestHistTimeOver(t *testing.T) {
	// 0.001 s buckets: 900 fast fsyncs, 3 in (0.01, 0.1], 1 in (0.1, 1], 1 above 1 s.
	h := Hist{Upper: []float64{0.001, 0.005, 0.01, 0.1, 1, math.Inf(1)}, Cum: []float64{900, 900, 900, 903, 904, 905}, Count: 905}
	want := 3*(0.01-0.005) + 1*(0.1-0.005) + 1*(1-0.005)
	if got := h.TimeOver(0.005); math.Abs(got-want) > 1e-12 {
		t.Errorf("TimeOver(5 ms) = %v, want %v", got, want)
	}
	if got := (Hist{}).TimeOver(0.005); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

// Redis's latency monitor answers LATENCY HISTORY with [unix second, longest
// ms] pairs; only the window's seconds count.
func TestCountSlowFsyncsKeepsTheWindow(t *testing.T) {
	hist := []any{
		[]any{int64(99), int64(400)}, // before the window (the warm-up)
		[]any{int64(100), int64(7)},
		[]any{int64(105), int64(120)},
		[]any{int64(119), int64(9)},
		[]any{int64(120), int64(800)}, // after it
	}
	got, err := countSlowFsyncs(hist, 100, 119)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seconds != 3 || got.MaxMs != 120 || got.ThresholdMs != SlowFsyncMs {
		t.Errorf("got %+v, want 3 seconds, longest 120 ms", got)
	}
	if _, err := countSlowFsyncs([]any{[]any{"x", int64(1)}}, 0, 1); err == nil {
		t.Error("a malformed entry was accepted")
	}
	r := &RunResult{WindowSec: 20, Hold: Lat{Max: 130}, RedisFsync: got}
	if note := redisFsyncNote(r); !strings.Contains(note, "in 3 of the window's 20 seconds, the longest 120 ms") {
		t.Errorf("note: %q", note)
	}
	r.RedisFsync = &SlowFsyncs{ThresholdMs: 5}
	if note := redisFsyncNote(r); !strings.Contains(note, "no fsync of 5 ms or more") {
		t.Errorf("note without slow fsyncs: %q", note)
	}
}

// The floor's run says, under the half-rate target, whether the machine
// alone leaves room for 5 ms, and its paced line shows its batches.
func TestFloorInTheReport(t *testing.T) {
	if got := floorNote(nil); got != "" {
		t.Errorf("no floor run: %q", got)
	}
	over := &RunResult{System: "floor, half rate", Mode: "open", TargetRate: 5911, Clients: 256,
		Hold: Lat{N: 1000, P50: 1.4, P99: 5.68}, ServerCPU: 0.66, ServerRunqWait: 0.5, BatchTrip: Lat{N: 300, P50: 0.54, P99: 1.37}}
	if got := floorNote(over); !strings.Contains(got, "hold p99 5.68 ms at 5911/s") || !strings.Contains(got, "the machine alone misses the target") {
		t.Errorf("floor over 5 ms: %q", got)
	}
	under := *over
	under.Hold.P99 = 3.2
	if got := floorNote(&under); !strings.Contains(got, "hold p99 3.20 ms") || !strings.Contains(got, "leaves room for the target") {
		t.Errorf("floor under 5 ms: %q", got)
	}
	got := pacedSection([]*RunResult{over})
	for _, want := range []string{"floor, half rate at 5911/s, 256 clients: client hold 1.40/5.68", "system: 0.66 cores; its threads waited 500 ms/s",
		"round trip 0.54/1.37 over 300 batches (one log write and fdatasync"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
