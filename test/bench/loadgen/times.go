package main

import (
	"fmt"
	"strings"
)

// cpuRatio is a's holds per CPU-second over c's (0 when either is unknown).
func cpuRatio(a, c *RunResult) float64 {
	if a == nil || c == nil || a.ServerCPU <= 0 || c.ServerCPU <= 0 || c.HoldsPerSec <= 0 {
		return 0
	}
	return (a.HoldsPerSec / a.ServerCPU) / (c.HoldsPerSec / c.ServerCPU)
}

// diskNote says, for a run whose hold p99 missed 5 ms, whether the disk's
// own fsync p99 was above that too (the disk's share) or not (ours).
func diskNote(r *RunResult) string {
	if r.Times == nil || r.Times.FsyncMs.N == 0 || r.Hold.P99 <= 5 {
		return ""
	}
	if r.Times.FsyncMs.P99 > 5 {
		return fmt.Sprintf("; the disk's fsync p99 was %.2f ms: above 5 ms", r.Times.FsyncMs.P99)
	}
	slow := ""
	if f := r.Times.FsyncMs; f.MaxLo >= 5 {
		share := 0.0
		if r.WindowSec > 0 {
			share = r.Times.FsyncStallMs / (r.WindowSec * 1000)
		}
		if share >= 0.01 {
			return fmt.Sprintf("; the disk's fsync p99 was %.2f ms, but fsyncs over 5 ms covered at least %.1f%% of the window (its longest took %s): a write arriving then waited over 5 ms for the disk alone, more than 1%% of the window, so this disk kept the p99 above 5 ms whatever the system (the longest hold %.0f ms)",
				f.P99, share*100, fmtMax(f), r.Hold.Max)
		}
		// One stall alone makes the p99 only if it lasted at least the
		// p99 and long enough to hold back 1% of the window's writes.
		if stallMayMakeP99(f, r.Hold.P99, r.WindowSec) {
			return fmt.Sprintf("; the disk's fsync p99 was %.2f ms, but its longest fsync took %s and every write waited behind it (the longest hold %.0f ms; fsyncs over 5 ms covered at least %.2f%% of the window): a stall of the disk, not a steady tail",
				f.P99, fmtMax(f), r.Hold.Max, share*100)
		}
		slow = fmt.Sprintf(", its longest %s, too short or too rare to make the p99", fmtMax(f))
	}
	gen := ""
	if r.Start.N > 0 {
		gen = fmt.Sprintf("; the generator's part: waiting for a free client p99 %.2f ms, its pacer late p99 %.2f ms, its threads waited %.0f ms/s",
			r.Start.P99, r.PacerLate.P99, r.GenRunqWait*1000)
	}
	return fmt.Sprintf("; the disk's fsync p99 was %.2f ms%s: the rest is CPU, the shard's or other work's (load %s; its threads waited %.0f ms/s in the run queue%s; the hypervisor stole %.0f ms/s; the longest hold %.0f ms)",
		r.Times.FsyncMs.P99, slow, r.LoadAvg, r.ServerRunqWait*1000, gen, r.HostSteal*1000, r.Hold.Max)
}

// stallMayMakeP99 says whether the longest fsync (f's top bucket, its upper
// bound) could alone have made a hold p99 of p99 ms over a window of
// windowSec (0: unknown, not checked): it lasted at least that long, and
// writes arriving during its part beyond 5 ms were at least 1% of the window.
func stallMayMakeP99(f Dist, p99, windowSec float64) bool {
	if f.MaxAbove {
		return true
	}
	if f.MaxHi < p99 {
		return false
	}
	return windowSec <= 0 || (f.MaxHi-5)/(windowSec*1000) >= 0.01
}

// redisFsyncNote is Redis's own account of its slow fsyncs in a run, when
// its latency monitor was read.
func redisFsyncNote(r *RunResult) string {
	f := r.RedisFsync
	if f == nil {
		return ""
	}
	if f.Seconds == 0 {
		return fmt.Sprintf("; its latency monitor saw no fsync of %d ms or more", f.ThresholdMs)
	}
	return fmt.Sprintf("; its latency monitor saw an fsync of %d ms or more in %d of the window's %.0f seconds, the longest %.0f ms (the longest hold %.0f ms)",
		f.ThresholdMs, f.Seconds, r.WindowSec, f.MaxMs, r.Hold.Max)
}

// stallNote is the time fsyncs spent beyond 5 ms, when there was any.
func stallNote(t *ServerTimes) string {
	if t.FsyncStallMs <= 0 {
		return ""
	}
	return fmt.Sprintf(" (beyond 5 ms: at least %.0f ms of the window)", t.FsyncStallMs)
}

// startNote is, for a paced run, the part of the client's hold latency
// spent waiting for a free client after the operation's slot.
func startNote(r *RunResult) string {
	if r.Start.N == 0 {
		return ""
	}
	return fmt.Sprintf(" (of which waiting for a free client %.2f/%.2f)", r.Start.P50, r.Start.P99)
}

func fmtDist(d Dist) string {
	if d.N == 0 {
		return "-"
	}
	s := fmt.Sprintf("%.3g/%.3g (mean %.3g)", d.P50, d.P99, d.Mean)
	if d.Over > 0.01 {
		s += fmt.Sprintf(" [%.0f%% above the top bucket]", d.Over*100)
	}
	return s
}

// timesSection prints each shard run's own account of where a write's time
// went beside what the client saw, so that a p99 can be put on the disk
// (fsync), on CPU (queue wait, apply) or on group forming (commit wait
// minus fsync).
func timesSection(singles, clusters []*RunResult) string {
	var b strings.Builder
	any := false
	for _, r := range singles {
		if r == nil || r.Times == nil {
			continue
		}
		if !any {
			b.WriteString("\nwhere a write's time went, from the shard's own histograms over the measured window\n" +
				"(ms as p50/p99 (mean), estimated from buckets; group size in commands):\n")
			any = true
		}
		t := r.Times
		fmt.Fprintf(&b, "  %s: client hold %.2f/%.2f%s; %s%s\n", r.System, r.Hold.P50, r.Hold.P99, startNote(r), shardTime(t), tripNote(r))
		fmt.Fprintf(&b, "    queue wait %s; apply %s; commit wait %s\n", fmtDist(t.QueueMs), fmtDist(t.ApplyMs), fmtDist(t.CommitWaitMs))
		fmt.Fprintf(&b, "    fsync %s over %.0f groups%s; group size %s; goroutines waiting for a CPU %s; GC pauses %s\n",
			fmtDist(t.FsyncMs), t.FsyncMs.N, stallNote(t), fmtDist(t.GroupSize), fmtDist(t.SchedMs), fmtPauses(t.GCPauseMs))
	}
	for _, r := range clusters {
		if r == nil || r.Times == nil {
			continue
		}
		if !any {
			b.WriteString("\nwhere a write's time went (ms as p50/p99 (mean), from the members' histograms):\n")
			any = true
		}
		t := r.Times
		fmt.Fprintf(&b, "  %s: client hold %.2f/%.2f%s; leader: %s, queue wait %s, proposal->commit %s%s\n",
			r.System, r.Hold.P50, r.Hold.P99, startNote(r), shardTime(t), fmtDist(t.QueueMs), fmtDist(t.CommitMs), tripNote(r))
		fmt.Fprintf(&b, "    leader goroutines waiting for a CPU %s; GC pauses %s\n", fmtDist(t.SchedMs), fmtPauses(t.GCPauseMs))
		fmt.Fprintf(&b, "    leader fsync %s; append round trip %s = network + follower fsync %s",
			fmtDist(t.FsyncMs), fmtDist(t.RoundTripMs), fmtDist(t.FollowerFsyncMs))
		if t.RoundTripMs.N > 0 && t.FollowerFsyncMs.N > 0 {
			fmt.Fprintf(&b, "; network and queueing about %.3g ms (means)", max(t.RoundTripMs.Mean-t.FollowerFsyncMs.Mean, 0))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// longestRequest bounds the shard's longest request for the client's writes.
func longestRequest(t *ServerTimes) string {
	if t.BatchMs.N > 0 {
		return "batch request " + fmtMax(t.BatchMs)
	}
	return "hold " + fmtMax(t.HoldMs)
}

// tripNote is a batched run's batch round trip as the generator saw it.
func tripNote(r *RunResult) string {
	if r.BatchTrip.N == 0 {
		return ""
	}
	return fmt.Sprintf("; batch round trip at the generator %.2f/%.2f", r.BatchTrip.P50, r.BatchTrip.P99)
}

// shardTime is the shard's own time for the client's requests: a v1 hold,
// or a batch request and its size.
func shardTime(t *ServerTimes) string {
	if t.BatchMs.N > 0 {
		return "shard batch request " + fmtDist(t.BatchMs) + ", operations per batch " + fmtDist(t.BatchOps)
	}
	return "shard hold " + fmtDist(t.HoldMs)
}

// fmtPauses is a pause histogram: how many, p99 and mean.
func fmtPauses(d Dist) string {
	if d.N == 0 {
		return "none"
	}
	return fmt.Sprintf("%.0f, p99 %.3g ms (mean %.3g)", d.N, d.P99, d.Mean)
}

// pacedSection takes each paced run's client hold p99 apart: what the
// generator added (its pacer, the wait for a free client, its own CPU
// waits and GC pauses) and what the system took (for shards: the request,
// the writer's queue, the commit wait, the disk's fsync, group sizes, CPU
// waits and GC pauses), all over the measured window, so that a p99 can be
// put on the generator, the disk or the system's CPU.
func pacedSection(runs []*RunResult) string {
	var b strings.Builder
	for _, r := range runs {
		if r == nil || r.Mode != "open" {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\npaced runs, the client's hold p99 taken apart (ms as p50/p99, over the measured window):\n")
		}
		fmt.Fprintf(&b, "  %s at %.0f/s, %d clients: client hold %.2f/%.2f\n", r.System, r.TargetRate, r.Clients, r.Hold.P50, r.Hold.P99)
		fmt.Fprintf(&b, "    generator: pacer late %.2f/%.2f; waiting for a free client %.2f/%.2f; its goroutines waiting for a CPU %s; its GC pauses %s; %.2f cores; its threads waited %.0f ms/s in the kernel's run queue\n",
			r.PacerLate.P50, r.PacerLate.P99, r.Start.P50, r.Start.P99, fmtDist(r.GenSchedMs), fmtPauses(r.GenGCPauseMs), r.GenCPU, r.GenRunqWait*1000)
		fmt.Fprintf(&b, "    longest: hold %.1f ms, wait for a free client %.1f ms, pacer late %.1f ms", r.Hold.Max, r.Start.Max, r.PacerLate.Max)
		if r.BatchTrip.N > 0 {
			fmt.Fprintf(&b, ", batch round trip %.1f ms", r.BatchTrip.Max)
		}
		fmt.Fprintf(&b, "; the host: %.0f ms/s of CPU stolen by the hypervisor, %.0f ms/s idle waiting on the disk\n", r.HostSteal*1000, r.HostIOWait*1000)
		t := r.Times
		if t == nil {
			if r.ServerCPU > 0 {
				fmt.Fprintf(&b, "    system: %.2f cores; its threads waited %.0f ms/s in the kernel's run queue\n", r.ServerCPU, r.ServerRunqWait*1000)
			}
			if r.BatchTrip.N > 0 {
				// The floor (floor.go): a batch's time in it is one log write and fdatasync.
				fmt.Fprintf(&b, "    batches as the generator saw them: round trip %.2f/%.2f over %d batches (one log write and fdatasync plus loopback, HTTP and both ends' scheduling)\n",
					r.BatchTrip.P50, r.BatchTrip.P99, r.BatchTrip.N)
			}
			if r.RedisFsync != nil {
				fmt.Fprintf(&b, "    disk: %s\n", strings.TrimPrefix(redisFsyncNote(r), "; "))
			}
			continue
		}
		if r.BatchTrip.N > 0 {
			fmt.Fprintf(&b, "    batches as the generator saw them: round trip %.2f/%.2f over %d batches (the shard's batch request plus loopback, HTTP and both ends' scheduling)\n",
				r.BatchTrip.P50, r.BatchTrip.P99, r.BatchTrip.N)
		}
		fmt.Fprintf(&b, "    shard: %s; writer queue wait %s; commit wait %s\n", shardTime(t), fmtDist(t.QueueMs), fmtDist(t.CommitWaitMs))
		fmt.Fprintf(&b, "    the shard's longest: %s, writer queue wait %s, commit wait %s, fsync %s, GC pause %s\n",
			longestRequest(t), fmtMax(t.QueueMs), fmtMax(t.CommitWaitMs), fmtMax(t.FsyncMs), fmtMax(t.GCPauseMs))
		if t.CommitMs.N > 0 {
			fmt.Fprintf(&b, "    leader: proposal->commit %s; append round trip %s; followers' fsync %s\n", fmtDist(t.CommitMs), fmtDist(t.RoundTripMs), fmtDist(t.FollowerFsyncMs))
		}
		fmt.Fprintf(&b, "    disk: fsync %s over %.0f groups%s; group size %s\n", fmtDist(t.FsyncMs), t.FsyncMs.N, stallNote(t), fmtDist(t.GroupSize))
		fmt.Fprintf(&b, "    shard CPU: %.2f cores; goroutines waiting for a CPU %s; GC pauses %s; its threads waited %.0f ms/s in the kernel's run queue\n",
			r.ServerCPU, fmtDist(t.SchedMs), fmtPauses(t.GCPauseMs), r.ServerRunqWait*1000)
	}
	return b.String()
}
