package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice.dev/boxoffice/internal/testproc"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// spawnFlags say how to start shard processes of our own.
type spawnFlags struct {
	bin     string
	workdir string
	pidfile string
	// cpus, if set, confines every started shard to these CPUs (taskset
	// -c: a list such as "1" or "1-3"); Go sizes GOMAXPROCS to them.
	cpus string
	// pprof: every started shard serves its profiles (--pprof-listen on a
	// loopback port of its own).
	pprof bool
}

func (s *spawnFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.bin, "shard-bin", "", "start shards from this binary (bin/boxoffice)")
	fs.StringVar(&s.workdir, "workdir", "", "directory for seat maps, tokens, data and logs of started shards")
	fs.StringVar(&s.pidfile, "pidfile", "", "append the pid of every started shard here (for the caller's cleanup)")
	fs.StringVar(&s.cpus, "shard-cpus", "", "run every started shard on these CPUs only (taskset -c LIST; empty: wherever the kernel puts it)")
}

// spawnCmd is a subcommand that starts shards of its own: its flag set with
// the spawn flags, -seats and -out.
type spawnCmd struct {
	fs    *flag.FlagSet
	sp    spawnFlags
	seats *int
	out   *string
}

func newSpawnCmd(name string, seats int) *spawnCmd {
	c := &spawnCmd{fs: flag.NewFlagSet(name, flag.ExitOnError)}
	c.sp.register(c.fs)
	c.seats = c.fs.Int("seats", seats, "venue size")
	c.out = c.fs.String("out", "", "write the JSON result here")
	return c
}

// parse parses args (requiring -shard-bin if needBin) and returns the
// context that ends on SIGINT or SIGTERM.
func (c *spawnCmd) parse(args []string, needBin bool) (context.Context, context.CancelFunc, error) {
	c.fs.Parse(args)
	if needBin && c.sp.bin == "" {
		return nil, nil, errors.New("-shard-bin is required")
	}
	ctx, cancel := signalContext()
	return ctx, cancel, nil
}

// shardProc is one running shard started by us.
type shardProc struct {
	proc      *testproc.Proc
	started   time.Time
	url       string
	tokenFile string
	dataDir   string
	seatMap   string
	listen    string
	logPath   string
	pidfile   string
	bin       string
	cpus      string // taskset -c LIST, or "" (spawnFlags.cpus)
	pprof     bool   // serve profiles on pprofAddr (chosen at the first launch)
	pprofAddr string
	// extra flags (cluster members)
	extra []string
}

// start prepares a new shard directory (seat map of n seats, token, empty data
// dir) under workdir and starts the shard.
func (s *spawnFlags) start(ctx context.Context, name string, n int) (*shardProc, error) {
	if s.workdir == "" {
		return nil, errors.New("-workdir is required with -shard-bin")
	}
	if err := os.MkdirAll(s.workdir, 0o755); err != nil {
		return nil, err
	}
	// A new directory every time: each measurement starts from an empty log.
	dir, err := os.MkdirTemp(s.workdir, name+"-")
	if err != nil {
		return nil, err
	}
	_, data, err := venueSeats(n)
	if err != nil {
		return nil, err
	}
	p := &shardProc{
		bin:       s.bin,
		cpus:      s.cpus,
		pprof:     s.pprof,
		pidfile:   s.pidfile,
		seatMap:   filepath.Join(dir, "seatmap.yaml"),
		tokenFile: filepath.Join(dir, "token"),
		dataDir:   filepath.Join(dir, "data"),
		logPath:   filepath.Join(dir, "shard.log"),
	}
	if err := os.WriteFile(p.seatMap, data, 0o644); err != nil {
		return nil, err
	}
	if err := writeToken(p.tokenFile); err != nil {
		return nil, err
	}
	if p.listen, err = testproc.FreeAddr(); err != nil {
		return nil, err
	}
	p.url = "http://" + p.listen
	return p, p.launch()
}

// writeToken writes a new random bearer token to path (the shards' and the
// floor's).
func writeToken(path string) error {
	tok := make([]byte, 24)
	rand.Read(tok)
	return os.WriteFile(path, []byte(hex.EncodeToString(tok)+"\n"), 0o600)
}

// launch starts the process (again, on the same data dir and port).
func (p *shardProc) launch() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "---- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, "shard",
		"--showtime", "bench/venue",
		"--seat-map", p.seatMap,
		"--data-dir", p.dataDir,
		"--listen", p.listen,
		"--token-file", p.tokenFile,
		"--max-seats-per-holder", "8",
	)
	cmd.Args = append(cmd.Args, p.extra...)
	if p.pprof {
		if p.pprofAddr == "" {
			if p.pprofAddr, err = testproc.FreeAddr(); err != nil {
				logf.Close()
				return err
			}
		}
		cmd.Args = append(cmd.Args, "--pprof-listen", p.pprofAddr)
	}
	if p.cpus != "" {
		// taskset execs the shard: the pid stays the shard's.
		cmd = exec.Command("taskset", append([]string{"-c", p.cpus}, cmd.Args...)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a Ctrl-C on the terminal reaches us, and we stop the
	// shard in order; it dies with us, and the caller's trap kills it by pid
	// if we are killed first.
	p.started = time.Now()
	proc, err := testproc.Start(cmd)
	if err != nil {
		logf.Close()
		return err
	}
	p.proc = proc
	if p.pidfile != "" {
		if f, err := os.OpenFile(p.pidfile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintln(f, proc.Pid())
			f.Close()
		}
	}
	go func() {
		<-proc.Done()
		logf.Close()
	}()
	return nil
}

// startReady starts a shard (see start) and waits up to a minute for its
// /readyz; it returns the time from start to ready. The caller stops it.
func (s *spawnFlags) startReady(ctx context.Context, name string, n int) (*shardProc, time.Duration, error) {
	p, err := s.start(ctx, name, n)
	if err != nil {
		return nil, 0, err
	}
	d, err := p.waitReady(60 * time.Second)
	if err != nil {
		p.stop(30 * time.Second)
		return nil, 0, err
	}
	return p, d, nil
}

// restart launches the process again on its data and port and waits up to
// timeout for /readyz; it returns the time from start to ready.
func (p *shardProc) restart(timeout time.Duration) (time.Duration, error) {
	if err := p.launch(); err != nil {
		return 0, err
	}
	return p.waitReady(timeout)
}

func (p *shardProc) pid() int { return p.proc.Pid() }

// exited closes when the running process has exited.
func (p *shardProc) exited() <-chan struct{} { return p.proc.Done() }

// waitReady returns the time from process start to the first /readyz 200,
// polled every 2ms for at most timeout from the start.
func (p *shardProc) waitReady(timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithDeadline(context.Background(), p.started.Add(timeout))
	defer cancel()
	if err := (testproc.Poll{Interval: 2 * time.Millisecond, Exited: p.proc.Done()}).WaitHTTP(ctx, p.url+"/readyz", http.StatusOK); err != nil {
		return 0, fmt.Errorf("%w; last lines of %s:\n%s", err, p.logPath, tail(p.logPath, 15))
	}
	return time.Since(p.started), nil
}

// stop sends SIGTERM and waits up to grace, then SIGKILL. It returns how long
// the shutdown took and whether it was clean (exit 0 within grace).
func (p *shardProc) stop(grace time.Duration) (time.Duration, bool) { return p.proc.Stop(grace) }

func (p *shardProc) kill() { p.proc.Kill() }

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readStatusKB reads a "Name:   123 kB" line of /proc/PID/status, in bytes.
func readStatusKB(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		return kb * 1024, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

func readVmRSS(pid int) (int64, error) { return readStatusKB(pid, "VmRSS") }

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// treeCPU is the CPU time (user + system) of pid and its direct children
// (PostgreSQL's backends are children of the postmaster), as counted now.
func treeCPU(pid int) time.Duration {
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	cpu := func(f []string) time.Duration {
		if len(f) < 13 {
			return 0
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(u+s) * tick
	}
	total := cpu(statFields(pid))
	for _, child := range children(pid) {
		total += cpu(statFields(child))
	}
	return total
}

// children are the direct children of pid (their /proc/PID/stat parent).
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	want := strconv.Itoa(pid)
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if f := statFields(child); len(f) > 1 && f[1] == want {
			out = append(out, child)
		}
	}
	return out
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// RecoveryResult is what `recovery` measured.
type RecoveryResult struct {
	Seats          int      `json:"seats"`
	TargetWrites   int64    `json:"targetWrites"`
	Writes         int64    `json:"writes"` // acknowledged holds and releases
	Conflicts      int64    `json:"conflicts"`
	Errors         int64    `json:"errors"`
	FirstErrors    []string `json:"firstErrors,omitempty"`
	FillSec        float64  `json:"fillSec"`
	WritesPerSec   float64  `json:"writesPerSec"`
	FreshReadyMs   float64  `json:"freshReadyMs"` // empty data dir
	StopMs         float64  `json:"stopMs"`       // SIGTERM to exit
	StopClean      bool     `json:"stopClean"`    // exit 0 within the grace period
	DataBytes      int64    `json:"dataBytes"`    // data dir size after the fill
	ReadyMs        float64  `json:"readyMs"`      // restart after SIGTERM: start to /readyz 200
	StatusVersion  int64    `json:"statusVersion"`
	StatusHeldSeat int64    `json:"statusHeld"` // seats held after the restart (0: every hold was released)
	// Crash: more writes on top, SIGKILL while they are in flight, restart.
	KillWrites  int64   `json:"killWrites"`
	KillReadyMs float64 `json:"killReadyMs"`
}

// fillStats counts what a fill did.
type fillStats struct {
	writes, conflicts, errors atomic.Int64
	mu                        sync.Mutex
	firstErrs                 []string
}

// fill drives hold+release pairs (two logged writes each) with the given
// concurrency until target writes were acknowledged or ctx ends. progress,
// when set, is called every 100,000 writes.
func fill(ctx context.Context, sb *shardBackend, pool *seatPool, clients int, target int64, tag string, st *fillStats, progress func(int64)) {
	var wg sync.WaitGroup
	for ci := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(ci)+1, uint64(len(tag))))
			idxBuf, seats := make([]int, 0, 4), make([]string, 0, 4)
			fail := func(err error) {
				if ctx.Err() != nil {
					return
				}
				st.errors.Add(1)
				st.mu.Lock()
				if len(st.firstErrs) < 5 {
					st.firstErrs = append(st.firstErrs, err.Error())
				}
				st.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
			for n := 0; ctx.Err() == nil && st.writes.Load() < target; n++ {
				if e := st.errors.Load(); e > 1000 && e > st.writes.Load() {
					return
				}
				idx := pool.pick(r, 1+r.IntN(4), idxBuf)
				seats = seats[:0]
				for _, i := range idx {
					seats = append(seats, pool.ids[i])
				}
				id, conflict, err := sb.Hold(ctx, tag+strconv.Itoa(ci)+"-"+strconv.Itoa(n), seats)
				if err != nil {
					fail(err)
					continue
				}
				if conflict {
					st.conflicts.Add(1)
					continue
				}
				st.writes.Add(1)
				if err := sb.Release(ctx, id, seats); err != nil {
					fail(err)
					continue
				}
				if v := st.writes.Add(1); progress != nil && v%100000 < 2 {
					progress(v)
				}
			}
		}()
	}
	wg.Wait()
}

func cmdRecovery(args []string) error {
	cmd := newSpawnCmd("recovery", 50000)
	writes := cmd.fs.Int64("writes", 1000000, "acknowledged writes (holds + releases) to log before the restart")
	clients := cmd.fs.Int("clients", 128, "concurrent clients while filling the log")
	maxFill := cmd.fs.Duration("max-fill", 5*time.Minute, "stop filling after this long even if short of -writes")
	killWrites := cmd.fs.Int64("kill-writes", 100000, "crash variant: writes on top before the SIGKILL (0: skip)")
	ctx, cancel, err := cmd.parse(args, true)
	if err != nil {
		return err
	}
	defer cancel()
	res := RecoveryResult{Seats: *cmd.seats, TargetWrites: *writes}

	p, d, err := cmd.sp.startReady(ctx, "recovery", *cmd.seats)
	if err != nil {
		return err
	}
	defer p.stop(30 * time.Second)
	res.FreshReadyMs = ms(d)
	fmt.Fprintf(os.Stderr, "  recovery: fresh start ready in %.0f ms; logging %d writes with %d clients\n", res.FreshReadyMs, *writes, *clients)

	ids, _, _ := venueSeats(*cmd.seats)
	pool := newSeatPool(ids)
	if err := fillLog(ctx, p, pool, *clients, *writes, *maxFill, &res); err != nil {
		return err
	}
	if err := stopAndRestart(p, &res); err != nil {
		return err
	}
	if *killWrites > 0 {
		if err := crashAndRestart(ctx, p, pool, *clients, *killWrites, &res); err != nil {
			return err
		}
	}
	return writeJSON(*cmd.out, res)
}

// fillLog logs writes acknowledged writes (for at most maxFill) on p with
// clients concurrent clients and records how it went in res.
func fillLog(ctx context.Context, p *shardProc, pool *seatPool, clients int, writes int64, maxFill time.Duration, res *RecoveryResult) error {
	sb, err := newShardBackend(p.url, p.tokenFile, clients)
	if err != nil {
		return err
	}
	fillCtx, fillCancel := context.WithTimeout(ctx, maxFill)
	defer fillCancel()
	t0 := time.Now()
	var st fillStats
	fill(fillCtx, sb, pool, clients, writes, "fill-", &st, func(v int64) {
		el := time.Since(t0).Seconds()
		fmt.Fprintf(os.Stderr, "  recovery: %d writes in %.0f s (%.0f/s)\n", v, el, float64(v)/el)
	})
	sb.Close()
	res.FillSec = time.Since(t0).Seconds()
	res.Writes, res.Conflicts, res.Errors, res.FirstErrors = st.writes.Load(), st.conflicts.Load(), st.errors.Load(), st.firstErrs
	res.WritesPerSec = float64(res.Writes) / res.FillSec
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(os.Stderr, "  recovery: %d writes in %.1f s (%.0f/s), %d errors\n", res.Writes, res.FillSec, res.WritesPerSec, res.Errors)
	return nil
}

// stopAndRestart SIGTERMs p and restarts it: the number the target is
// about.
func stopAndRestart(p *shardProc, res *RecoveryResult) error {
	sd, clean := p.stop(60 * time.Second)
	res.StopMs, res.StopClean = ms(sd), clean
	res.DataBytes = dirSize(p.dataDir)
	d, err := p.restart(5 * time.Minute)
	if err != nil {
		return err
	}
	res.ReadyMs = ms(d)
	if st, err := shardStatus(p); err == nil {
		res.StatusVersion, res.StatusHeldSeat = int64(st.Version), st.Counts.Held
	}
	fmt.Fprintf(os.Stderr, "  recovery: SIGTERM took %.0f ms; restart ready in %.0f ms (data dir %.1f MB)\n", res.StopMs, res.ReadyMs, float64(res.DataBytes)/(1<<20))
	return nil
}

// crashAndRestart is the crash variant: killWrites more writes, SIGKILL
// while they are still coming, restart.
func crashAndRestart(ctx context.Context, p *shardProc, pool *seatPool, clients int, killWrites int64, res *RecoveryResult) error {
	sb, err := newShardBackend(p.url, p.tokenFile, clients)
	if err != nil {
		return err
	}
	kctx, kcancel := context.WithTimeout(ctx, 30*time.Second)
	var kst fillStats
	reached := make(chan struct{})
	var once sync.Once
	go func() {
		fill(kctx, sb, pool, clients, 1<<62, "crash-", &kst, nil)
	}()
	go func() {
		for kctx.Err() == nil && kst.writes.Load() < killWrites {
			time.Sleep(5 * time.Millisecond)
		}
		once.Do(func() { close(reached) })
	}()
	<-reached
	p.kill() // mid-load: requests in flight get cut off
	kcancel()
	sb.Close()
	res.KillWrites = kst.writes.Load()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d, err := p.restart(5 * time.Minute)
	if err != nil {
		return err
	}
	res.KillReadyMs = ms(d)
	fmt.Fprintf(os.Stderr, "  recovery: %d more writes, SIGKILL under load, restart ready in %.0f ms\n", res.KillWrites, res.KillReadyMs)
	return nil
}

func shardStatus(p *shardProc) (*shardapi.Status, error) {
	tok, err := os.ReadFile(p.tokenFile)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	api := shardapi.Client{HTTP: statusHTTP, Token: strings.TrimSpace(string(tok))}
	return api.Status(ctx, p.url)
}

var statusHTTP = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}

// MemoryResult is what `memory` measured.
type MemoryResult struct {
	Seats       int      `json:"seats"`
	ReadyMs     float64  `json:"readyMs"`
	RSSReady    int64    `json:"rssReadyBytes"`
	BurstHolds  int64    `json:"burstHolds"`
	BurstSeats  int64    `json:"burstSeatsHeld"`
	BurstSec    float64  `json:"burstSec"`
	BurstErrors int64    `json:"burstErrors"`
	FirstErrors []string `json:"firstErrors,omitempty"`
	RSSAfter    int64    `json:"rssAfterBurstBytes"`
	HWM         int64    `json:"hwmBytes"` // VmHWM: peak resident memory
}

func cmdMemory(args []string) error {
	cmd := newSpawnCmd("memory", 100000)
	holds := cmd.fs.Int64("holds", 20000, "accepted holds in the burst (kept, not released)")
	clients := cmd.fs.Int("clients", 64, "concurrent clients in the burst")
	ctx, cancel, err := cmd.parse(args, true)
	if err != nil {
		return err
	}
	defer cancel()
	res := MemoryResult{Seats: *cmd.seats}
	p, d, err := cmd.sp.startReady(ctx, "memory", *cmd.seats)
	if err != nil {
		return err
	}
	defer p.stop(30 * time.Second)
	res.ReadyMs = ms(d)
	time.Sleep(time.Second) // let start-up garbage be collected
	if res.RSSReady, err = readVmRSS(p.pid()); err != nil {
		return err
	}
	sb, err := newShardBackend(p.url, p.tokenFile, *clients)
	if err != nil {
		return err
	}
	defer sb.Close()
	ids, _, _ := venueSeats(*cmd.seats)
	pool := newSeatPool(ids)
	var held, seatsHeld, errs atomic.Int64
	var mu sync.Mutex
	t0 := time.Now()
	bctx, bcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer bcancel()
	var wg sync.WaitGroup
	for ci := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(ci)+1, 0x3e3))
			idxBuf, seats := make([]int, 0, 4), make([]string, 0, 4)
			for n := 0; bctx.Err() == nil && held.Load() < *holds; n++ {
				idx := pool.pick(r, 1+r.IntN(4), idxBuf)
				if idx == nil {
					return
				}
				seats = seats[:0]
				for _, i := range idx {
					seats = append(seats, ids[i])
				}
				_, conflict, err := sb.Hold(bctx, fmt.Sprintf("mem-%d-%d", ci, n), seats)
				switch {
				case err != nil:
					if errs.Add(1) > 1000 {
						return
					}
					mu.Lock()
					if len(res.FirstErrors) < 5 {
						res.FirstErrors = append(res.FirstErrors, err.Error())
					}
					mu.Unlock()
				case !conflict:
					held.Add(1)
					seatsHeld.Add(int64(len(idx)))
					pool.markSold(idx) // held for good: keep picking other seats
				}
			}
		}()
	}
	wg.Wait()
	res.BurstSec = time.Since(t0).Seconds()
	res.BurstHolds, res.BurstSeats, res.BurstErrors = held.Load(), seatsHeld.Load(), errs.Load()
	time.Sleep(time.Second)
	if res.RSSAfter, err = readVmRSS(p.pid()); err != nil {
		return err
	}
	res.HWM, _ = readStatusKB(p.pid(), "VmHWM")
	fmt.Fprintf(os.Stderr, "  memory: %d seats: VmRSS %.1f MB ready, %.1f MB after %d holds (%d seats held), peak %.1f MB\n",
		res.Seats, mb(res.RSSReady), mb(res.RSSAfter), res.BurstHolds, res.BurstSeats, mb(res.HWM))
	return writeJSON(*cmd.out, res)
}

func mb(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }

// runqWait is how long the threads of pid and of its direct children have
// waited in the kernel's run queue for a CPU (/proc/PID/task/TID/schedstat,
// second field), as counted now: what other work on the machine took from
// the system under test. 0 where the kernel keeps no schedstats.
func runqWait(pid int) time.Duration {
	total := tasksRunqWait(pid)
	for _, c := range children(pid) {
		total += tasksRunqWait(c)
	}
	return total
}

// tasksRunqWait is runqWait for the threads of pid alone (not its
// children: the generator's own, apart from the shards it started).
func tasksRunqWait(pid int) time.Duration {
	var total time.Duration
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

// cpusAllowed is the CPUs process pid ("self" for this one) may run on, as
// /proc/PID/status lists them ("0-1"), or "" if unknown.
func cpusAllowed(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "Cpus_allowed_list" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
