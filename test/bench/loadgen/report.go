package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

func readJSON(path string, v any) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return json.Unmarshal(data, v) == nil
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// cmdReport prints one table from the JSON results in -dir:
// shard.json, redis.json, postgres.json, shard-half.json, recovery.json, memory.json.
func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	dir := fs.String("dir", "", "directory of JSON results")
	versions := fs.String("versions", "", "versions line for the header (for example \"redis 7.0.15, postgres 15.18\")")
	out := fs.String("out", "", "also write the report to this file")
	fs.Parse(args)

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	// pErrors lists the first errors a measurement (what) met.
	pErrors := func(what string, errs []string) {
		for _, e := range errs {
			p("error (%s): %s\n", what, e)
		}
	}

	p("Box office benchmark, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	p("machine: %d CPU (%s), linux %s, %s", runtime.NumCPU(), cpuModel(), kernel(), runtime.Version())
	if *versions != "" {
		p(", %s", *versions)
	}
	p("\n")

	load := func(name string) *RunResult {
		var r RunResult
		if !readJSON(filepath.Join(*dir, name+".json"), &r) {
			return nil
		}
		return &r
	}
	shard, redis, pg, half := load("shard"), load("redis"), load("postgres"), load("shard-half")
	redisHalf := load("redis-half")
	cl, clHalf, redisRep := load("cluster"), load("cluster-half"), load("redis-replica")
	// The same shards with the front end's batch path (POST /v2/batch).
	sb, sbHalf, cb, cbHalf := load("shard-batch"), load("shard-batch-half"), load("cluster-batch"), load("cluster-batch-half")
	all := []*RunResult{shard, sb, redis, pg, half, sbHalf, redisHalf, cl, cb, redisRep, clHalf, cbHalf}
	var first *RunResult
	for _, r := range []*RunResult{shard, redis, pg} {
		if r != nil {
			first = r
			break
		}
	}
	if first != nil {
		p("workload: %d seats, %d clients, each op holds 1-4 random unsold seats then confirms (%.0f%%) or releases;\n",
			first.Seats, first.Clients, first.ConfirmRatio*100)
		p("          %.0f s warm-up + %.0f s measured per system; latencies from exact samples, in ms;\n", first.WarmupSec, first.WindowSec)
		p("          load = 1-minute load average at the end of the run (the CPUs are shared with the generator and anything else)\n\n")
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tholds/s\tconflicts/s\thold p50\thold p99\tconflict p50\tconflict p99\tconfirm|release p99\terrors\tload\t")
	row := func(label string, r *RunResult) {
		if r == nil {
			fmt.Fprintf(tw, "%s\t(not run)\t\t\t\t\t\t\t\t\t\n", label)
			return
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t\n", label,
			r.HoldsPerSec, r.ConflictsPerSec, r.Hold.P50, r.Hold.P99, r.Conflict.P50, r.Conflict.P99, r.Finish.P99, r.Errors, r.LoadAvg)
	}
	row("shard", shard)
	if sb != nil {
		row("shard, batched", sb)
	}
	row("redis", redis)
	row("postgres", pg)
	if half != nil {
		row(fmt.Sprintf("shard, paced %.0f/s", half.TargetRate), half)
	}
	if sbHalf != nil {
		row(fmt.Sprintf("shard, batched, paced %.0f/s", sbHalf.TargetRate), sbHalf)
	}
	if redisHalf != nil {
		row(fmt.Sprintf("redis, paced %.0f/s", redisHalf.TargetRate), redisHalf)
	}
	if cl != nil || cb != nil || redisRep != nil {
		row("shard, 3 members", cl)
		if cb != nil {
			row("shard, 3 members, batched", cb)
		}
		row("redis + replica, WAIT 1 0", redisRep)
		if clHalf != nil {
			row(fmt.Sprintf("shard, 3 members, paced %.0f/s", clHalf.TargetRate), clHalf)
		}
		if cbHalf != nil {
			row(fmt.Sprintf("shard, 3 members, batched, paced %.0f/s", cbHalf.TargetRate), cbHalf)
		}
	}
	tw.Flush()

	ratio := func(a, c *RunResult) string {
		if a == nil || c == nil || c.HoldsPerSec == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", a.HoldsPerSec/c.HoldsPerSec)
	}
	p("\nthroughput ratios (accepted holds/s): shard/redis %s, shard/postgres %s\n", ratio(shard, redis), ratio(shard, pg))
	if sb != nil {
		p("  batched: shard/redis %s, shard/postgres %s, batched/unbatched %s\n", ratio(sb, redis), ratio(sb, pg), ratio(sb, shard))
	}
	if cl != nil || cb != nil || redisRep != nil {
		p("replicated (durable on 2 of 3 members, or on the primary and its replica): shard 3 members/redis + replica %s, shard 3 members/single shard %s\n",
			ratio(cl, redisRep), ratio(cl, shard))
		if cb != nil {
			p("  batched: shard 3 members/redis + replica %s, batched/unbatched %s\n", ratio(cb, redisRep), ratio(cb, cl))
		}
	}
	var gen, srv []string
	for _, r := range all {
		if r == nil {
			continue
		}
		gen = append(gen, fmt.Sprintf("%s %.2f", r.System, r.GenCPU))
		if r.ServerCPU > 0 {
			srv = append(srv, fmt.Sprintf("%s %.2f (%.0f holds per CPU-second)", r.System, r.ServerCPU, r.HoldsPerSec/r.ServerCPU))
		}
	}
	if len(srv) > 0 {
		p("CPU cores used by the system under test: %s\n", strings.Join(srv, ", "))
	}
	var rq []string
	for _, r := range all {
		if r != nil && r.ServerRunqWait > 0 {
			rq = append(rq, fmt.Sprintf("%s %.0f ms/s", r.System, r.ServerRunqWait*1000))
		}
	}
	if len(rq) > 0 {
		p("time its threads waited in the kernel's run queue for a CPU (summed over threads, per second): %s\n", strings.Join(rq, ", "))
	}
	if len(gen) > 0 {
		p("CPU cores used by the load generator (same machine): %s\n", strings.Join(gen, ", "))
	}
	if r := cpuRatio(shard, redis); r > 0 {
		p("holds per CPU-second, shard/redis: %.2fx", r)
		if r := cpuRatio(sb, redis); r > 0 {
			p("; batched %.2fx", r)
		}
		p("\n")
	}
	for _, c := range []*RunResult{cl, cb} {
		if c != nil && c.LeaderCPU > 0 && c.HoldsPerSec > 0 {
			p("%s: leader %.2f cores = %.0f us of CPU per committed hold (all members %.0f us)\n",
				c.System, c.LeaderCPU, c.LeaderCPU/c.HoldsPerSec*1e6, c.ServerCPU/c.HoldsPerSec*1e6)
		}
	}
	p("%s", timesSection([]*RunResult{shard, half, sb, sbHalf}, []*RunResult{cl, clHalf, cb, cbHalf}))
	for _, r := range all {
		if r == nil {
			continue
		}
		if r.SoldOut || r.ConfirmsAsRelease > 0 {
			p("note: %s reached the sold cap (%d seats sold; %d confirms turned into releases%s)\n",
				r.System, r.SoldSeats, r.ConfirmsAsRelease, map[bool]string{true: "; venue sold out", false: ""}[r.SoldOut])
		}
		if r.Late > 0 {
			p("note: %s: %d paced operations could not be queued on time\n", r.System, r.Late)
		}
		pErrors(r.System, r.FirstErrors)
	}

	var rec RecoveryResult
	haveRec := readJSON(filepath.Join(*dir, "recovery.json"), &rec)
	if haveRec {
		p("\nrecovery, %d seats: %d acknowledged writes (holds + releases) logged in %.0f s (%.0f/s, %d errors), data dir %.1f MB;\n",
			rec.Seats, rec.Writes, rec.FillSec, rec.WritesPerSec, rec.Errors, mb(rec.DataBytes))
		p("  SIGTERM -> exit in %.0f ms (clean: %v); restart -> /readyz 200 in %.0f ms (an empty shard: %.0f ms)\n",
			rec.StopMs, rec.StopClean, rec.ReadyMs, rec.FreshReadyMs)
		if rec.KillReadyMs > 0 {
			p("  then %d more writes, SIGKILL under load, restart -> /readyz 200 in %.0f ms\n", rec.KillWrites, rec.KillReadyMs)
		}
		pErrors("recovery fill", rec.FirstErrors)
	}
	var mem MemoryResult
	haveMem := readJSON(filepath.Join(*dir, "memory.json"), &mem)
	if haveMem {
		p("memory, %d seats: VmRSS %.1f MB when ready, %.1f MB after a burst of %d holds (%d seats held), peak (VmHWM) %.1f MB\n",
			mem.Seats, mb(mem.RSSReady), mb(mem.RSSAfter), mem.BurstHolds, mem.BurstSeats, mb(mem.HWM))
		pErrors("memory burst", mem.FirstErrors)
	}

	var fo FailoverResult
	haveFo := readJSON(filepath.Join(*dir, "failover.json"), &fo)
	if haveFo {
		p("failover, 3 members under a steady writer: leader SIGKILL -> next acknowledged write, %d kills: %s ms (worst %.0f ms)\n",
			fo.Kills, joinMs(fo.KillMs), maxOf(fo.KillMs))
		p("  leader SIGTERM (hand-over) -> longest pause between acknowledged writes, %d times: %s ms (worst %.0f ms)\n",
			fo.Handovers, joinMs(fo.HandoverMs), maxOf(fo.HandoverMs))
	}

	// Targets, reported (never asserted).
	p("\ntargets (measured on this run; informative, not a pass/fail gate):\n")
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	// vsBaselines prints r's three targets against redis and postgres, each
	// under its label, where both sides were measured.
	vsBaselines := func(r *RunResult, redisLabel, pgLabel, cpuLabel string) {
		if r != nil && redis != nil {
			p("  %s %s (%s)\n", redisLabel, mark(r.HoldsPerSec >= redis.HoldsPerSec), ratio(r, redis))
		}
		if r != nil && pg != nil {
			p("  %s %s (%s)\n", pgLabel, mark(r.HoldsPerSec >= 10*pg.HoldsPerSec), ratio(r, pg))
		}
		if r != nil && redis != nil && cpuRatio(r, redis) > 0 {
			p("  %s %s (%.2fx)\n", cpuLabel, mark(cpuRatio(r, redis) >= 1), cpuRatio(r, redis))
		}
	}
	vsBaselines(shard, "throughput >= redis:            ", "throughput >= 10x postgres:     ", "holds per CPU-second >= redis:  ")
	vsBaselines(sb, "batched throughput >= redis:    ", "batched >= 10x postgres:        ", "batched holds per CPU-s >= redis:")
	if sbHalf != nil {
		p("  batched hold p99 <= 5 ms at half rate: %s (%.2f ms at %.0f/s%s)\n", mark(sbHalf.Hold.N > 0 && sbHalf.Hold.P99 <= 5), sbHalf.Hold.P99, sbHalf.TargetRate, diskNote(sbHalf))
	}
	if half != nil {
		p("  hold p99 <= 5 ms at half rate:   %s (%.2f ms at %.0f/s%s)\n", mark(half.Hold.N > 0 && half.Hold.P99 <= 5), half.Hold.P99, half.TargetRate, diskNote(half))
		if half.Conflict.N > 0 {
			p("  conflict p99 <= 1 ms, half rate: %s (%.2f ms, %d conflicts)\n", mark(half.Conflict.P99 <= 1), half.Conflict.P99, half.Conflict.N)
		}
	}
	if shard != nil && shard.Conflict.N > 0 {
		p("  conflict p99 <= 1 ms, max rate:  %s (%.2f ms, %d conflicts)\n", mark(shard.Conflict.P99 <= 1), shard.Conflict.P99, shard.Conflict.N)
	}
	if haveRec {
		p("  recovery <= 1 s:                 %s (%.0f ms after %d writes)\n", mark(rec.ReadyMs > 0 && rec.ReadyMs <= 1000), rec.ReadyMs, rec.Writes)
	}
	if haveMem {
		p("  memory <= 200 MB at %d seats: %s (%.1f MB after the burst, peak %.1f MB)\n", mem.Seats, mark(mem.RSSAfter <= 200<<20), mb(mem.RSSAfter), mb(mem.HWM))
	}

	if cl != nil && redisRep != nil {
		p("  3 members >= redis + replica:    %s (%s)\n", mark(cl.HoldsPerSec >= redisRep.HoldsPerSec), ratio(cl, redisRep))
	}
	if cb != nil && redisRep != nil {
		p("  3 members batched >= redis + replica: %s (%s)\n", mark(cb.HoldsPerSec >= redisRep.HoldsPerSec), ratio(cb, redisRep))
	}
	if cbHalf != nil {
		p("  3 members batched hold p99 <= 10 ms, half rate: %s (%.2f ms at %.0f/s)\n", mark(cbHalf.Hold.N > 0 && cbHalf.Hold.P99 <= 10), cbHalf.Hold.P99, cbHalf.TargetRate)
	}
	if clHalf != nil {
		p("  3 members hold p99 <= 10 ms, half rate: %s (%.2f ms at %.0f/s)\n", mark(clHalf.Hold.N > 0 && clHalf.Hold.P99 <= 10), clHalf.Hold.P99, clHalf.TargetRate)
	}
	if haveFo && fo.Kills > 0 {
		p("  failover worst <= 1.5 s:         %s (%.0f ms over %d kills)\n", mark(maxOf(fo.KillMs) <= 1500), maxOf(fo.KillMs), fo.Kills)
	}
	if haveFo && fo.Handovers > 0 {
		p("  hand-over pause <= 300 ms:       %s (worst %.0f ms over %d)\n", mark(maxOf(fo.HandoverMs) <= 300), maxOf(fo.HandoverMs), fo.Handovers)
	}

	fmt.Print(b.String())
	if *out != "" {
		return os.WriteFile(*out, []byte(b.String()), 0o644)
	}
	return nil
}

func joinMs(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(s, ", ")
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
