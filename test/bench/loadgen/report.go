package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

	res := loadResults(*dir)
	var w reportWriter
	w.header(res, *versions)
	w.table(res)
	w.ratios(res)
	w.cpu(res)
	w.notes(res)
	w.recoveryMemoryFailover(res)
	w.targets(res)
	w.replicatedTargets(res)
	// The shard's CPU profiles, when bench.sh took them (BENCH_PROFILE).
	if prof, err := os.ReadFile(filepath.Join(*dir, "profiles.txt")); err == nil && len(prof) > 0 {
		w.p("\n%s", prof)
	}

	fmt.Print(w.String())
	if *out != "" {
		return os.WriteFile(*out, []byte(w.String()), 0o644)
	}
	return nil
}

// benchResults is what one benchmark run left in its result directory; a
// measurement that was not run is nil.
type benchResults struct {
	shard, redis, pg, half, redisHalf *RunResult
	cl, clHalf, redisRep              *RunResult
	// The same shards with the front end's batch path (POST /v2/batch).
	sb, sbHalf, cb, cbHalf *RunResult
	// floorHalf is the floor (floor.go) at the batched shard's half rate.
	floorHalf *RunResult
	all       []*RunResult // every run above, in the report's order

	rec *RecoveryResult
	mem *MemoryResult
	fo  *FailoverResult
}

// loadResults reads the JSON results in dir; a missing or unreadable file
// leaves its measurement nil.
func loadResults(dir string) *benchResults {
	load := func(name string) *RunResult {
		var r RunResult
		if !readJSON(filepath.Join(dir, name+".json"), &r) {
			return nil
		}
		return &r
	}
	res := &benchResults{
		shard: load("shard"), redis: load("redis"), pg: load("postgres"), half: load("shard-half"),
		redisHalf: load("redis-half"),
		cl:        load("cluster"), clHalf: load("cluster-half"), redisRep: load("redis-replica"),
		sb: load("shard-batch"), sbHalf: load("shard-batch-half"), cb: load("cluster-batch"), cbHalf: load("cluster-batch-half"),
		floorHalf: load("floor-half"),
	}
	res.all = []*RunResult{res.shard, res.sb, res.redis, res.pg, res.half, res.sbHalf, res.floorHalf, res.redisHalf,
		res.cl, res.cb, res.redisRep, res.clHalf, res.cbHalf}
	var rec RecoveryResult
	if readJSON(filepath.Join(dir, "recovery.json"), &rec) {
		res.rec = &rec
	}
	var mem MemoryResult
	if readJSON(filepath.Join(dir, "memory.json"), &mem) {
		res.mem = &mem
	}
	var fo FailoverResult
	if readJSON(filepath.Join(dir, "failover.json"), &fo) {
		res.fo = &fo
	}
	return res
}

// replicated reports whether any replicated run was measured.
func (res *benchResults) replicated() bool {
	return res.cl != nil || res.cb != nil || res.redisRep != nil
}

// reportWriter accumulates the report's text.
type reportWriter struct{ strings.Builder }

func (w *reportWriter) p(format string, a ...any) { fmt.Fprintf(&w.Builder, format, a...) }

// errors lists the first errors a measurement (what) met.
func (w *reportWriter) errors(what string, errs []string) {
	for _, e := range errs {
		w.p("error (%s): %s\n", what, e)
	}
}

// ratio is a's accepted holds per second over c's, or n/a.
func ratio(a, c *RunResult) string {
	if a == nil || c == nil || c.HoldsPerSec == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a.HoldsPerSec/c.HoldsPerSec)
}

// mark names whether a target was met.
func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// header prints the date, the machine and the workload.
func (w *reportWriter) header(res *benchResults, versions string) {
	w.p("Box office benchmark, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	w.p("machine: %d CPU (%s), linux %s, %s", runtime.NumCPU(), cpuModel(), kernel(), runtime.Version())
	if versions != "" {
		w.p(", %s", versions)
	}
	w.p("\n")

	var first *RunResult
	for _, r := range []*RunResult{res.shard, res.redis, res.pg} {
		if r != nil {
			first = r
			break
		}
	}
	if first != nil {
		w.p("workload: %d seats, %d clients, each op holds 1-4 random unsold seats then confirms (%.0f%%) or releases;\n",
			first.Seats, first.Clients, first.ConfirmRatio*100)
		w.p("          %.0f s warm-up + %.0f s measured per system; latencies from exact samples, in ms;\n", first.WarmupSec, first.WindowSec)
		w.p("          load = 1-minute load average at the end of the run (the CPUs are shared with the generator and anything else)\n\n")
	}
}

// table prints one row per measured system.
func (w *reportWriter) table(res *benchResults) {
	tw := tabwriter.NewWriter(&w.Builder, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tholds/s\tconflicts/s\thold p50\thold p99\tconflict p50\tconflict p99\tconfirm|release p99\terrors\tload\t")
	row := func(label string, r *RunResult) {
		if r == nil {
			fmt.Fprintf(tw, "%s\t(not run)\t\t\t\t\t\t\t\t\t\n", label)
			return
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t\n", label,
			r.HoldsPerSec, r.ConflictsPerSec, r.Hold.P50, r.Hold.P99, r.Conflict.P50, r.Conflict.P99, r.Finish.P99, r.Errors, r.LoadAvg)
	}
	// paced prints an open-loop run's row, labelled with its rate, if it ran.
	paced := func(label string, r *RunResult) {
		if r != nil {
			row(fmt.Sprintf("%s, paced %.0f/s", label, r.TargetRate), r)
		}
	}
	row("shard", res.shard)
	if res.sb != nil {
		row("shard, batched", res.sb)
	}
	row("redis", res.redis)
	row("postgres", res.pg)
	paced("shard", res.half)
	paced("shard, batched", res.sbHalf)
	paced("floor", res.floorHalf)
	paced("redis", res.redisHalf)
	if res.replicated() {
		row("shard, 3 members", res.cl)
		if res.cb != nil {
			row("shard, 3 members, batched", res.cb)
		}
		row("redis + replica, WAIT 1 0", res.redisRep)
		paced("shard, 3 members", res.clHalf)
		paced("shard, 3 members, batched", res.cbHalf)
	}
	tw.Flush()
}

// ratios prints the throughput ratios between the systems.
func (w *reportWriter) ratios(res *benchResults) {
	w.p("\nthroughput ratios (accepted holds/s): shard/redis %s, shard/postgres %s\n", ratio(res.shard, res.redis), ratio(res.shard, res.pg))
	if res.sb != nil {
		w.p("  batched: shard/redis %s, shard/postgres %s, batched/unbatched %s\n", ratio(res.sb, res.redis), ratio(res.sb, res.pg), ratio(res.sb, res.shard))
	}
	if res.replicated() {
		w.p("replicated (durable on 2 of 3 members, or on the primary and its replica): shard 3 members/redis + replica %s, shard 3 members/single shard %s\n",
			ratio(res.cl, res.redisRep), ratio(res.cl, res.shard))
		if res.cb != nil {
			w.p("  batched: shard 3 members/redis + replica %s, batched/unbatched %s\n", ratio(res.cb, res.redisRep), ratio(res.cb, res.cl))
		}
	}
}

// cpu prints the CPU the systems and the generator used, and the shard's
// own account of a write's time.
func (w *reportWriter) cpu(res *benchResults) {
	var gen, srv, rq []string
	for _, r := range res.all {
		if r == nil {
			continue
		}
		gen = append(gen, fmt.Sprintf("%s %.2f", r.System, r.GenCPU))
		if r.ServerCPU > 0 {
			srv = append(srv, fmt.Sprintf("%s %.2f (%.0f holds per CPU-second)", r.System, r.ServerCPU, r.HoldsPerSec/r.ServerCPU))
		}
		if r.ServerRunqWait > 0 {
			rq = append(rq, fmt.Sprintf("%s %.0f ms/s", r.System, r.ServerRunqWait*1000))
		}
	}
	w.p("%s", placement(res.all))
	if len(srv) > 0 {
		w.p("CPU cores used by the system under test: %s\n", strings.Join(srv, ", "))
	}
	if len(rq) > 0 {
		w.p("time its threads waited in the kernel's run queue for a CPU (summed over threads, per second): %s\n", strings.Join(rq, ", "))
	}
	if len(gen) > 0 {
		w.p("CPU cores used by the load generator (same machine): %s\n", strings.Join(gen, ", "))
	}
	if r := cpuRatio(res.shard, res.redis); r > 0 {
		w.p("holds per CPU-second, shard/redis: %.2fx", r)
		if r := cpuRatio(res.sb, res.redis); r > 0 {
			w.p("; batched %.2fx", r)
		}
		w.p("\n")
	}
	for _, c := range []*RunResult{res.cl, res.cb} {
		if c != nil && c.LeaderCPU > 0 && c.HoldsPerSec > 0 {
			w.p("%s: leader %.2f cores = %.0f us of CPU per committed hold (all members %.0f us)\n",
				c.System, c.LeaderCPU, c.LeaderCPU/c.HoldsPerSec*1e6, c.ServerCPU/c.HoldsPerSec*1e6)
		}
	}
	w.p("%s", timesSection([]*RunResult{res.shard, res.half, res.sb, res.sbHalf}, []*RunResult{res.cl, res.clHalf, res.cb, res.cbHalf}))
	w.p("%s", pacedSection([]*RunResult{res.half, res.sbHalf, res.floorHalf, res.redisHalf, res.clHalf, res.cbHalf}))
}

// notes prints what each run met on the way: the sold cap, late paced
// operations, its first errors.
func (w *reportWriter) notes(res *benchResults) {
	for _, r := range res.all {
		if r == nil {
			continue
		}
		if r.SoldOut || r.ConfirmsAsRelease > 0 {
			w.p("note: %s reached the sold cap (%d seats sold; %d confirms turned into releases%s)\n",
				r.System, r.SoldSeats, r.ConfirmsAsRelease, map[bool]string{true: "; venue sold out", false: ""}[r.SoldOut])
		}
		if r.Late > 0 {
			w.p("note: %s: %d paced operations could not be queued on time\n", r.System, r.Late)
		}
		w.errors(r.System, r.FirstErrors)
	}
}

// recoveryMemoryFailover prints the recovery, memory and failover
// measurements that ran.
func (w *reportWriter) recoveryMemoryFailover(res *benchResults) {
	if rec := res.rec; rec != nil {
		w.p("\nrecovery, %d seats: %d acknowledged writes (holds + releases) logged in %.0f s (%.0f/s, %d errors), data dir %.1f MB;\n",
			rec.Seats, rec.Writes, rec.FillSec, rec.WritesPerSec, rec.Errors, mb(rec.DataBytes))
		w.p("  SIGTERM -> exit in %.0f ms (clean: %v); restart -> /readyz 200 in %.0f ms (an empty shard: %.0f ms)\n",
			rec.StopMs, rec.StopClean, rec.ReadyMs, rec.FreshReadyMs)
		if rec.KillReadyMs > 0 {
			w.p("  then %d more writes, SIGKILL under load, restart -> /readyz 200 in %.0f ms\n", rec.KillWrites, rec.KillReadyMs)
		}
		w.errors("recovery fill", rec.FirstErrors)
	}
	if mem := res.mem; mem != nil {
		w.p("memory, %d seats: VmRSS %.1f MB when ready, %.1f MB after a burst of %d holds (%d seats held), peak (VmHWM) %.1f MB\n",
			mem.Seats, mb(mem.RSSReady), mb(mem.RSSAfter), mem.BurstHolds, mem.BurstSeats, mb(mem.HWM))
		w.errors("memory burst", mem.FirstErrors)
	}
	if fo := res.fo; fo != nil {
		w.p("failover, 3 members under a steady writer: leader SIGKILL -> next acknowledged write, %d kills: %s ms (worst %.0f ms)\n",
			fo.Kills, joinMs(fo.KillMs), maxOf(fo.KillMs))
		w.p("  leader SIGTERM (hand-over) -> longest pause between acknowledged writes, %d times: %s ms (worst %.0f ms)\n",
			fo.Handovers, joinMs(fo.HandoverMs), maxOf(fo.HandoverMs))
	}
}

// vsBaselines prints r's three targets against redis and postgres, each
// under its label, where both sides were measured.
func (w *reportWriter) vsBaselines(res *benchResults, r *RunResult, redisLabel, pgLabel, cpuLabel string) {
	redis, pg := res.redis, res.pg
	if r != nil && redis != nil {
		w.p("  %s %s (%s)\n", redisLabel, mark(r.HoldsPerSec >= redis.HoldsPerSec), ratio(r, redis))
	}
	if r != nil && pg != nil {
		w.p("  %s %s (%s)\n", pgLabel, mark(r.HoldsPerSec >= 10*pg.HoldsPerSec), ratio(r, pg))
	}
	if r != nil && redis != nil && cpuRatio(r, redis) > 0 {
		w.p("  %s %s (%.2fx)\n", cpuLabel, mark(cpuRatio(r, redis) >= 1), cpuRatio(r, redis))
	}
}

// targets prints the single shard's, recovery's and memory's targets,
// reported (never asserted).
func (w *reportWriter) targets(res *benchResults) {
	w.p("\ntargets (measured on this run; informative, not a pass/fail gate):\n")
	w.vsBaselines(res, res.shard, "throughput >= redis:            ", "throughput >= 10x postgres:     ", "holds per CPU-second >= redis:  ")
	w.vsBaselines(res, res.sb, "batched throughput >= redis:    ", "batched >= 10x postgres:        ", "batched holds per CPU-s >= redis:")
	if sbHalf := res.sbHalf; sbHalf != nil {
		w.p("  batched hold p99 <= 5 ms at half rate: %s (%.2f ms at %.0f/s%s)\n", mark(sbHalf.Hold.N > 0 && sbHalf.Hold.P99 <= 5), sbHalf.Hold.P99, sbHalf.TargetRate, diskNote(sbHalf))
		w.p("%s", floorNote(res.floorHalf))
	}
	if half := res.half; half != nil {
		w.p("  hold p99 <= 5 ms at half rate:   %s (%.2f ms at %.0f/s%s)\n", mark(half.Hold.N > 0 && half.Hold.P99 <= 5), half.Hold.P99, half.TargetRate, diskNote(half))
		if half.Conflict.N > 0 {
			w.p("  conflict p99 <= 1 ms, half rate: %s (%.2f ms, %d conflicts)\n", mark(half.Conflict.P99 <= 1), half.Conflict.P99, half.Conflict.N)
		}
	}
	if rh := res.redisHalf; rh != nil && (res.half != nil || res.sbHalf != nil) {
		// The same target held to the alternative, on the same disk in the
		// same run: what part of a missed p99 any durable store would miss.
		w.p("  (the alternative) redis hold p99 <= 5 ms at half its rate: %s (%.2f ms at %.0f/s%s)\n",
			mark(rh.Hold.N > 0 && rh.Hold.P99 <= 5), rh.Hold.P99, rh.TargetRate, redisFsyncNote(rh))
	}
	if shard := res.shard; shard != nil && shard.Conflict.N > 0 {
		w.p("  conflict p99 <= 1 ms, max rate:  %s (%.2f ms, %d conflicts)\n", mark(shard.Conflict.P99 <= 1), shard.Conflict.P99, shard.Conflict.N)
	}
	if rec := res.rec; rec != nil {
		w.p("  recovery <= 1 s:                 %s (%.0f ms after %d writes)\n", mark(rec.ReadyMs > 0 && rec.ReadyMs <= 1000), rec.ReadyMs, rec.Writes)
	}
	if mem := res.mem; mem != nil {
		w.p("  memory <= 200 MB at %d seats: %s (%.1f MB after the burst, peak %.1f MB)\n", mem.Seats, mark(mem.RSSAfter <= 200<<20), mb(mem.RSSAfter), mb(mem.HWM))
	}
}

// floorNote is the floor's line under the half-rate target: the same
// generator, client and rate against a server that only logs each batch
// (floor.go), so a missed p99 can be split between the shard and what the
// machine, the generator and the disk leave any server.
func floorNote(f *RunResult) string {
	if f == nil || f.Hold.N == 0 {
		return ""
	}
	verdict := "the machine leaves room for the target"
	if f.Hold.P99 > 5 {
		verdict = "the machine alone misses the target"
	}
	return fmt.Sprintf("    (the floor: a server that only logs each batch, same generator and rate: hold p99 %.2f ms at %.0f/s; %s)\n",
		f.Hold.P99, f.TargetRate, verdict)
}

// replicatedTargets prints the replicated shard's and failover's targets.
func (w *reportWriter) replicatedTargets(res *benchResults) {
	cl, cb, clHalf, cbHalf, redisRep := res.cl, res.cb, res.clHalf, res.cbHalf, res.redisRep
	if cl != nil && redisRep != nil {
		w.p("  3 members >= redis + replica:    %s (%s)\n", mark(cl.HoldsPerSec >= redisRep.HoldsPerSec), ratio(cl, redisRep))
	}
	if cb != nil && redisRep != nil {
		w.p("  3 members batched >= redis + replica: %s (%s)\n", mark(cb.HoldsPerSec >= redisRep.HoldsPerSec), ratio(cb, redisRep))
	}
	if cbHalf != nil {
		w.p("  3 members batched hold p99 <= 10 ms, half rate: %s (%.2f ms at %.0f/s)\n", mark(cbHalf.Hold.N > 0 && cbHalf.Hold.P99 <= 10), cbHalf.Hold.P99, cbHalf.TargetRate)
	}
	if clHalf != nil {
		w.p("  3 members hold p99 <= 10 ms, half rate: %s (%.2f ms at %.0f/s)\n", mark(clHalf.Hold.N > 0 && clHalf.Hold.P99 <= 10), clHalf.Hold.P99, clHalf.TargetRate)
	}
	if fo := res.fo; fo != nil && fo.Kills > 0 {
		w.p("  failover worst <= 1.5 s:         %s (%.0f ms over %d kills)\n", mark(maxOf(fo.KillMs) <= 1500), maxOf(fo.KillMs), fo.Kills)
	}
	if fo := res.fo; fo != nil && fo.Handovers > 0 {
		w.p("  hand-over pause <= 300 ms:       %s (worst %.0f ms over %d)\n", mark(maxOf(fo.HandoverMs) <= 300), maxOf(fo.HandoverMs), fo.Handovers)
	}
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

// placement says on which CPUs the systems and the generator ran: one line
// when every run had the same placement, else one entry per run.
func placement(runs []*RunResult) string {
	all := "0"
	if n := runtime.NumCPU(); n > 1 {
		all = fmt.Sprintf("0-%d", n-1)
	}
	desc := func(r *RunResult) string {
		sys, gen := r.ServerCPUs, r.GenCPUs
		if (sys == "" || sys == all) && (gen == "" || gen == all) {
			return "not pinned (system and generator on all CPUs, placed by the kernel)"
		}
		return fmt.Sprintf("system on CPUs %s, generator on CPUs %s", orAll(sys, all), orAll(gen, all))
	}
	var seen []string
	var per []string
	for _, r := range runs {
		if r == nil {
			continue
		}
		d := desc(r)
		per = append(per, r.System+": "+d)
		if !slices.Contains(seen, d) {
			seen = append(seen, d)
		}
	}
	switch len(seen) {
	case 0:
		return ""
	case 1:
		return "placement: " + seen[0] + "\n"
	}
	return "placement: " + strings.Join(per, "; ") + "\n"
}

func orAll(cpus, all string) string {
	if cpus == "" {
		return all
	}
	return cpus
}
