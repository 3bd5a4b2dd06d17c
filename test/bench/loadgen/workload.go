package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RunResult is what one `run` measured; `report` reads it back.
type RunResult struct {
	System       string  `json:"system"`
	Mode         string  `json:"mode"` // closed (as fast as the clients go) or open (paced)
	TargetRate   float64 `json:"targetRate,omitempty"`
	Clients      int     `json:"clients"`
	Seats        int     `json:"seats"`
	ConfirmRatio float64 `json:"confirmRatio"`
	WarmupSec    float64 `json:"warmupSec"`
	WindowSec    float64 `json:"windowSec"`

	Holds       int64    `json:"holds"`
	Conflicts   int64    `json:"conflicts"`
	Confirms    int64    `json:"confirms"`
	Releases    int64    `json:"releases"`
	Errors      int64    `json:"errors"`
	FirstErrors []string `json:"firstErrors,omitempty"`
	// ConfirmsAsRelease counts confirms turned into releases because the
	// venue reached the sold cap (see -max-sold).
	ConfirmsAsRelease int64 `json:"confirmsAsRelease"`
	SoldSeats         int64 `json:"soldSeats"`
	SoldOut           bool  `json:"soldOut"`
	// Late counts paced operations that could not be queued on time (open loop).
	Late int64 `json:"late,omitempty"`
	// PacerLate (open loop) is how late the generator's pacer emitted each
	// slot: its timer and its share of the CPU, before any client.
	PacerLate Lat `json:"pacerLate,omitempty"`
	// GenSchedMs and GenGCPauseMs: over the measured window, how long the
	// generator's goroutines waited runnable for a CPU and how long its
	// garbage collector stopped it (Go runtime).
	GenSchedMs   Dist `json:"generatorSchedMs,omitempty"`
	GenGCPauseMs Dist `json:"generatorGcPauseMs,omitempty"`
	// HostSteal and HostIOWait are, over the measured window, the CPU time
	// per second the hypervisor gave to other guests while this machine
	// wanted it (steal) and the idle CPU time per second spent with a disk
	// write outstanding (iowait), summed over CPUs (/proc/stat): a stall
	// that neither the generator nor the system under test made.
	HostSteal  float64 `json:"hostSteal,omitempty"`
	HostIOWait float64 `json:"hostIowait,omitempty"`
	// GenRunqWait is ServerRunqWait for the generator's own threads.
	GenRunqWait float64 `json:"generatorRunqWait,omitempty"`

	HoldsPerSec     float64 `json:"holdsPerSec"`
	ConflictsPerSec float64 `json:"conflictsPerSec"`
	AttemptsPerSec  float64 `json:"attemptsPerSec"`
	Hold            Lat     `json:"hold"`
	Conflict        Lat     `json:"conflict"`
	Finish          Lat     `json:"finish"` // confirm or release
	// BatchTrip (batched shards) is each batch's round trip as the
	// generator saw it, sent to answer read, over the measured window: the
	// shard's batch request time plus loopback, HTTP and scheduling on both
	// ends. An operation may also wait in the coalescer for a batch to leave
	// (at most the batches in flight at once are out).
	BatchTrip Lat `json:"batchTrip,omitempty"`
	// Start (open loop) is how long a paced operation waited for a free
	// client after its slot: part of its hold latency, spent in the
	// generator's queue because every client was still busy (the system was
	// slower than the pace for a while, or the generator did not get a CPU).
	Start Lat `json:"start,omitempty"`
	// LoadAvg is the 1-minute load average at the end of the run: the
	// machine is shared, and this says how much else was running.
	LoadAvg string `json:"loadAvg"`
	// GenCPUs and ServerCPUs are the CPUs the generator and the system
	// under test may run on (Cpus_allowed_list): the run's placement.
	GenCPUs    string `json:"generatorCpus,omitempty"`
	ServerCPUs string `json:"serverCpus,omitempty"`
	// GenCPU is the CPU time the generator itself used per second of the run
	// (warm-up included): what it took away from the system under test.
	GenCPU float64 `json:"generatorCpu"`
	// ServerCPU is the same for the system under test (its process and
	// direct children), when its pid is known; 0 otherwise.
	ServerCPU float64 `json:"serverCpu"`
	// ServerRunqWait is how long, per second of the window, the system's
	// threads waited runnable in the kernel's run queue (summed over
	// threads): CPU that other work on the machine held while it needed it.
	ServerRunqWait float64 `json:"serverRunqWait,omitempty"`
	// LeaderCPU is the cluster leader's share of ServerCPU.
	LeaderCPU float64 `json:"leaderCpu,omitempty"`
	// RedisFsync is Redis's own account of its fsyncs over 5 ms in the
	// window (Redis only).
	RedisFsync *SlowFsyncs `json:"redisFsync,omitempty"`
	// Times is the shard's own account of a write's time (shards only).
	Times *ServerTimes `json:"times,omitempty"`
	// CPUWindowSec is the span ServerCPU and Times cover: the measured
	// window (warm-up excluded), as the throughput.
	CPUWindowSec float64 `json:"cpuWindowSec,omitempty"`
}

// Lat summarises exact latency samples, in milliseconds.
type Lat struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50ms"`
	P90  float64 `json:"p90ms"`
	P99  float64 `json:"p99ms"`
	P999 float64 `json:"p999ms"`
	Max  float64 `json:"maxms"`
}

func summarize(s []time.Duration) Lat {
	if len(s) == 0 {
		return Lat{}
	}
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return ms(s[i])
	}
	return Lat{N: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// workload is one run's settings and shared state.
type workload struct {
	b            Backend
	pool         *seatPool
	clients      int
	confirmRatio float64
	maxSold      int64
	refPrefix    string

	mStart, mEnd time.Time // the measured window of the last loop

	mu          sync.Mutex
	holdLat     []time.Duration
	conflictLat []time.Duration
	finishLat   []time.Duration
	startLat    []time.Duration
	res         RunResult
}

// clientStats is one client's tally; merged at the end so the hot path takes no lock.
type clientStats struct {
	holdLat, conflictLat, finishLat                      []time.Duration
	startLat                                             []time.Duration // open loop: slot -> a client starts it
	holds, conflicts, confirms, releases, errors, capped int64
	errs                                                 []string
}

func (w *workload) merge(c *clientStats) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.holdLat = append(w.holdLat, c.holdLat...)
	w.startLat = append(w.startLat, c.startLat...)
	w.conflictLat = append(w.conflictLat, c.conflictLat...)
	w.finishLat = append(w.finishLat, c.finishLat...)
	w.res.Holds += c.holds
	w.res.Conflicts += c.conflicts
	w.res.Confirms += c.confirms
	w.res.Releases += c.releases
	w.res.Errors += c.errors
	w.res.ConfirmsAsRelease += c.capped
	for _, e := range c.errs {
		if len(w.res.FirstErrors) < 5 {
			w.res.FirstErrors = append(w.res.FirstErrors, e)
		}
	}
}

// op runs one operation: hold 1-4 random seats, then confirm or release. t0 is
// when the operation was due (now for closed loop, its slot for open loop), so
// paced latencies include any wait for a free client. rec says whether to count it.
func (w *workload) op(ctx context.Context, r *rand.Rand, c *clientStats, ref string, t0 time.Time, rec bool, idxBuf []int, seatBuf []string) ([]int, []string, bool) {
	k := 1 + r.IntN(4)
	idx := w.pool.pick(r, k, idxBuf)
	if idx == nil {
		return idxBuf, seatBuf, false // sold out
	}
	seats := seatBuf[:0]
	for _, i := range idx {
		seats = append(seats, w.pool.ids[i])
	}
	id, conflict, err := w.b.Hold(ctx, ref, seats)
	lat := time.Since(t0)
	if err != nil {
		// Counted even when the run's deadline cut it short: a stuck
		// operation is a failure of the system under test.
		if rec {
			c.errors++
			if len(c.errs) < 2 {
				c.errs = append(c.errs, err.Error())
			}
		}
		if ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		return idx, seats, true
	}
	if conflict {
		if rec {
			c.conflicts++
			c.conflictLat = append(c.conflictLat, lat)
		}
		return idx, seats, true
	}
	if rec {
		c.holds++
		c.holdLat = append(c.holdLat, lat)
	}
	confirm := r.Float64() < w.confirmRatio
	if confirm && w.pool.nSold.Load()+int64(len(idx)) > w.maxSold {
		confirm = false
		if rec {
			c.capped++
		}
	}
	t1 := time.Now()
	if confirm {
		err = w.b.Confirm(ctx, id, seats, "order-"+ref)
		if err == nil {
			w.pool.markSold(idx)
		}
	} else {
		err = w.b.Release(ctx, id, seats)
	}
	if rec {
		switch {
		case err != nil:
			c.errors++
			if len(c.errs) < 2 {
				c.errs = append(c.errs, err.Error())
			}
		case err == nil && confirm:
			c.confirms++
			c.finishLat = append(c.finishLat, time.Since(t1))
		case err == nil:
			c.releases++
			c.finishLat = append(c.finishLat, time.Since(t1))
		}
	}
	return idx, seats, true
}

// closedLoop runs clients that each start the next operation as soon as the
// last one finished: the system's maximum rate at this concurrency.
func (w *workload) closedLoop(ctx context.Context, warmup, dur time.Duration) {
	start := time.Now()
	mStart, mEnd := start.Add(warmup), start.Add(warmup+dur)
	// Bounded: an operation still stuck 10 s after the end is abandoned.
	ctx, cancel := context.WithDeadline(ctx, mEnd.Add(10*time.Second))
	defer cancel()
	var soldOut atomic.Bool
	w.runClients(0x5eed, func(cl *opClient) {
		for n := 0; ctx.Err() == nil; n++ {
			t0 := time.Now()
			if !t0.Before(mEnd) {
				break
			}
			if !cl.do(ctx, n, t0, !t0.Before(mStart)) {
				soldOut.Store(true)
				break
			}
		}
	})
	w.res.Mode = "closed"
	w.mStart, w.mEnd = mStart, mEnd
	w.res.WarmupSec = warmup.Seconds()
	w.res.WindowSec = min(time.Since(mStart), dur).Seconds()
	w.res.SoldOut = soldOut.Load()
}

// opClient is one client goroutine's state: its random stream, its stats
// and the buffers its operations reuse.
type opClient struct {
	w       *workload
	ci      int
	r       *rand.Rand
	c       *clientStats
	idxBuf  []int
	seatBuf []string
}

// do runs the client's operation n, started at t0 and recorded if rec;
// false: the venue is sold out.
func (cl *opClient) do(ctx context.Context, n int, t0 time.Time, rec bool) bool {
	ref := cl.w.refPrefix + strconv.Itoa(cl.ci) + "-" + strconv.Itoa(n)
	var ok bool
	cl.idxBuf, cl.seatBuf, ok = cl.w.op(ctx, cl.r, cl.c, ref, t0, rec, cl.idxBuf, cl.seatBuf)
	return ok
}

// runClients runs loop in w.clients goroutines, each with its own client
// (random stream seeded from seed and its index), merges their stats and
// waits for all.
func (w *workload) runClients(seed uint64, loop func(cl *opClient)) {
	var wg sync.WaitGroup
	for ci := range w.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &opClient{w: w, ci: ci, r: rand.New(rand.NewPCG(uint64(ci)+1, seed)), c: &clientStats{},
				idxBuf: make([]int, 0, 4), seatBuf: make([]string, 0, 4)}
			loop(cl)
			w.merge(cl.c)
		}()
	}
	wg.Wait()
}

// openLoop paces operations at rate per second (warm-up included) whatever
// the answers, and measures each from its slot (no coordinated omission).
func (w *workload) openLoop(ctx context.Context, rate float64, warmup, dur time.Duration) {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	mStart, mEnd := start.Add(warmup), start.Add(warmup+dur)
	ctx, cancel := context.WithDeadline(ctx, mEnd.Add(10*time.Second))
	defer cancel()
	slots := make(chan time.Time, 1<<16)
	var late atomic.Int64
	var pacerLate []time.Duration // written by the pacer, read after close(slots)
	go func() {
		defer close(slots)
		next := start
		for ctx.Err() == nil && next.Before(mEnd) {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			// Emit every slot that is due (the sleep may overshoot).
			now := time.Now()
			for !next.After(now) && next.Before(mEnd) {
				select {
				case slots <- next:
				default:
					if !next.Before(mStart) {
						late.Add(1)
					}
				}
				if !next.Before(mStart) {
					pacerLate = append(pacerLate, now.Sub(next))
				}
				next = next.Add(interval)
			}
		}
	}()
	var soldOut atomic.Bool
	w.runClients(0x0bee, func(cl *opClient) {
		n := 0
		for t0 := range slots {
			if ctx.Err() != nil || soldOut.Load() {
				continue // drain
			}
			rec := !t0.Before(mStart)
			if rec {
				cl.c.startLat = append(cl.c.startLat, time.Since(t0))
			}
			if !cl.do(ctx, n, t0, rec) {
				soldOut.Store(true)
			}
			n++
		}
	})
	w.res.Mode = "open"
	w.mStart, w.mEnd = mStart, mEnd
	w.res.TargetRate = rate
	w.res.WarmupSec = warmup.Seconds()
	w.res.WindowSec = dur.Seconds()
	w.res.Late = late.Load()
	w.res.PacerLate = summarize(pacerLate)
	w.res.SoldOut = soldOut.Load()
}

func (w *workload) finish() RunResult {
	r := w.res
	r.Clients = w.clients
	r.Seats = len(w.pool.ids)
	r.ConfirmRatio = w.confirmRatio
	r.SoldSeats = w.pool.nSold.Load()
	if r.WindowSec > 0 {
		r.HoldsPerSec = float64(r.Holds) / r.WindowSec
		r.ConflictsPerSec = float64(r.Conflicts) / r.WindowSec
		r.AttemptsPerSec = float64(r.Holds+r.Conflicts+r.Errors) / r.WindowSec
	}
	r.Hold = summarize(w.holdLat)
	r.Conflict = summarize(w.conflictLat)
	r.Finish = summarize(w.finishLat)
	r.Start = summarize(w.startLat)
	if bt, ok := w.b.(interface {
		BatchRoundTrips(from, to time.Time) []time.Duration
	}); ok {
		r.BatchTrip = summarize(bt.BatchRoundTrips(w.mStart, w.mEnd))
	}
	r.LoadAvg = loadAvg()
	return r
}

// signalContext is cancelled on SIGINT or SIGTERM so runs stop and spawned
// shards are stopped on the way out.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func cmdPrep(args []string) error {
	fs := flag.NewFlagSet("prep", flag.ExitOnError)
	backend := fs.String("backend", "", "redis or postgres")
	addr := fs.String("addr", "", "redis host:port")
	dsn := fs.String("dsn", "", "postgres connection string")
	seats := fs.Int("seats", 50000, "venue size")
	fs.Parse(args)
	ids, _, err := venueSeats(*seats)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch *backend {
	case "redis":
		return prepRedis(ctx, *addr, ids)
	case "postgres":
		return prepPostgres(ctx, *dsn, ids)
	}
	return fmt.Errorf("unknown backend %q", *backend)
}

func cmdRun(args []string) error {
	o := parseRunFlags(args)
	ids, _, err := venueSeats(o.seats)
	if err != nil {
		return err
	}
	if o.rateFrom != "" {
		if o.rate, err = pacedRate(o.rateFrom, o.rateFactor); err != nil {
			return err
		}
	}
	ctx, cancel := signalContext()
	defer cancel()

	pr := &probe{leader: 0}
	b, proc, stop, err := o.openBackend(ctx, pr)
	if err != nil {
		return err
	}
	defer stop()
	defer b.Close()
	if sb, ok := b.(*shardBackend); ok && o.batchOps > 0 {
		sb.useBatch(o.batchOps, o.batchFlights)
	}

	w := &workload{
		b:            b,
		pool:         newSeatPool(ids),
		clients:      o.clients,
		confirmRatio: o.confirm,
		maxSold:      int64(o.maxSold * float64(len(ids))),
		refPrefix:    fmt.Sprintf("bench-%d-", time.Now().UnixNano()%1e9),
	}
	w.res.System = o.name
	if proc != nil {
		pr.pids, pr.urls, pr.pprofs = []int{proc.pid()}, []string{proc.url}, []string{proc.pprofAddr}
	} else if o.serverPid > 0 {
		pr.pids = []int{o.serverPid}
		if o.backend == "shard" {
			pr.urls = []string{o.shardURL}
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	rb, _ := b.(*redisBackend)
	if rb != nil {
		if err := rb.watchFsyncs(ctx); err != nil {
			// A Redis that refuses CONFIG still gets measured, without the monitor's count.
			fmt.Fprintf(os.Stderr, "  (Redis's latency monitor is not read: %v)\n", err)
			rb = nil
		}
	}
	winFrom := time.Now().Add(o.warmup)
	res, err := o.measure(ctx, w, pr)
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if rb != nil {
		winTo := winFrom.Add(time.Duration(res.WindowSec * float64(time.Second)))
		if res.RedisFsync, err = rb.slowFsyncs(ctx, winFrom, winTo); err != nil {
			fmt.Fprintf(os.Stderr, "  (Redis's latency monitor is not read: %v)\n", err)
		}
	}
	logRun(res, proc)
	return writeJSON(o.out, res)
}

// runFlags are the flags of the run command.
type runFlags struct {
	backend, name, addr, dsn, shardURL, tokenFile string
	sp                                            spawnFlags
	seats, clients                                int
	warmup, dur                                   time.Duration
	confirm, maxSold                              float64
	rate, rateFactor                              float64
	rateFrom, out                                 string
	serverPid, members, batchOps, batchFlights    int
	redisWait                                     int
	cpuProfile, shardProfile                      string
}

func parseRunFlags(args []string) *runFlags {
	o := &runFlags{}
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	fs.StringVar(&o.backend, "backend", "", "shard, cluster, redis, postgres or floor (a server that only logs each batch: what the machine and the generator leave to any server; needs -batch)")
	fs.StringVar(&o.name, "name", "", "system name in the report (default: backend)")
	fs.StringVar(&o.addr, "addr", "", "redis host:port")
	fs.StringVar(&o.dsn, "dsn", "", "postgres connection string")
	fs.StringVar(&o.shardURL, "shard-url", "", "base URL of a running shard (or use -shard-bin)")
	fs.StringVar(&o.tokenFile, "token-file", "", "shard bearer token file (with -shard-url)")
	o.sp.register(fs)
	fs.IntVar(&o.seats, "seats", 50000, "venue size")
	fs.IntVar(&o.clients, "clients", 64, "concurrent clients")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "warm-up, not measured")
	fs.DurationVar(&o.dur, "duration", 20*time.Second, "measured window")
	fs.Float64Var(&o.confirm, "confirm", 0.1, "share of accepted holds that are confirmed (the rest are released)")
	fs.Float64Var(&o.maxSold, "max-sold", 0.8, "once this share of the venue is sold, confirms become releases")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: operations per second (0: closed loop)")
	fs.StringVar(&o.rateFrom, "rate-from", "", "open loop: take the rate from this result file's holds/s")
	fs.Float64Var(&o.rateFactor, "rate-factor", 0.5, "with -rate-from: share of that rate")
	fs.StringVar(&o.out, "out", "", "write the JSON result here")
	fs.IntVar(&o.serverPid, "server-pid", 0, "pid of the system under test, to report its CPU use (shards started here: automatic)")
	fs.IntVar(&o.members, "members", 3, "backend cluster: members started")
	fs.IntVar(&o.batchOps, "batch", 0, "backends shard and cluster: carry operations in POST /v2/batch requests of up to this many, as the front end does (0: one v1 request each)")
	fs.IntVar(&o.batchFlights, "batch-flights", 1, "with -batch: batches in flight at once (1: what a front-end pod does)")
	fs.IntVar(&o.redisWait, "redis-wait", 0, "backend redis: WAIT for this many replicas (timeout 0) after every write script")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the generator's own CPU profile of the run (warm-up included) here")
	fs.StringVar(&o.shardProfile, "shard-profile", "", "shards started here: write the CPU profile of the shard taking the writes over the measured window here (through its --pprof-listen)")
	fs.Parse(args)
	if o.name == "" {
		o.name = o.backend
	}
	o.sp.pprof = o.shardProfile != ""
	return o
}

// pacedRate is factor times the holds/s of the result saved in path.
func pacedRate(path string, factor float64) (float64, error) {
	var prev RunResult
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(data, &prev); err != nil {
		return 0, err
	}
	rate := prev.HoldsPerSec * factor
	if rate < 1 {
		return 0, fmt.Errorf("%s: holds/s %.1f too low to pace from", path, prev.HoldsPerSec)
	}
	return rate, nil
}

// openBackend connects to the system under test, starting the shard or the
// cluster first when asked to; stop ends what it started. A cluster's
// members are set in pr.
func (o *runFlags) openBackend(ctx context.Context, pr *probe) (b Backend, proc *shardProc, stop func(), err error) {
	stop = func() {}
	switch o.backend {
	case "redis":
		rb := newRedisBackend(o.addr, o.clients)
		rb.wait = o.redisWait
		return rb, nil, stop, nil
	case "postgres":
		pb, err := newPGBackend(ctx, o.dsn, o.clients)
		if err != nil {
			return nil, nil, stop, err
		}
		return pb, nil, stop, nil
	case "shard":
		url, tok := o.shardURL, o.tokenFile
		if o.sp.bin != "" {
			if proc, _, err = o.sp.startReady(ctx, "run", o.seats); err != nil {
				return nil, nil, stop, err
			}
			stop = func() { proc.stop(30 * time.Second) }
			url, tok = proc.url, proc.tokenFile
		}
		sb, err := newShardBackend(url, tok, o.clients)
		if err != nil {
			stop()
			return nil, nil, func() {}, err
		}
		return sb, proc, stop, nil
	case "cluster":
		b, stop, err := o.openCluster(ctx, pr)
		return b, nil, stop, err
	case "floor":
		if o.batchOps <= 0 || o.sp.workdir == "" {
			return nil, nil, stop, errors.New("-backend floor needs -batch (it answers batches only) and -workdir (for its log)")
		}
		fp, url, tok, err := startFloor(ctx, filepath.Join(o.sp.workdir, "floor"), o.sp.cpus)
		if err != nil {
			return nil, nil, stop, err
		}
		stop = func() { fp.Stop(10 * time.Second) }
		sb, err := newShardBackend(url, tok, o.clients)
		if err != nil {
			stop()
			return nil, nil, func() {}, err
		}
		pr.pids = []int{fp.Pid()}
		return sb, nil, stop, nil
	}
	return nil, nil, stop, fmt.Errorf("unknown backend %q", o.backend)
}

// openCluster starts a cluster of shards and connects to its leader.
func (o *runFlags) openCluster(ctx context.Context, pr *probe) (Backend, func(), error) {
	none := func() {}
	if o.sp.bin == "" {
		return nil, none, errors.New("-backend cluster needs -shard-bin")
	}
	cl, err := o.sp.startCluster(ctx, "cluster", o.seats, o.members)
	if err != nil {
		return nil, none, err
	}
	l, err := cl.leader(60 * time.Second)
	if err != nil {
		cl.stop()
		return nil, none, err
	}
	for _, m := range cl.members {
		pr.pids = append(pr.pids, m.pid())
		pr.urls = append(pr.urls, m.url)
		pr.pprofs = append(pr.pprofs, m.pprofAddr)
	}
	pr.leader = l
	sb, err := newShardBackend(cl.members[l].url, cl.members[l].tokenFile, o.clients)
	if err != nil {
		cl.stop()
		return nil, none, err
	}
	sb.members = pr.urls
	return sb, cl.stop, nil
}

// measure runs the workload (warm-up, then the measured window) and sums
// it up, with the system's CPU and histograms over the window.
func (o *runFlags) measure(ctx context.Context, w *workload, pr *probe) (RunResult, error) {
	// The system's CPU and histograms are taken over the measured window
	// only (as the throughput is): once when the warm-up ends, once after.
	winStart := make(chan probeSnap, 1)
	var profiled <-chan error
	if o.shardProfile != "" && pr.leader >= 0 && pr.leader < len(pr.pprofs) && pr.pprofs[pr.leader] != "" {
		// From the window's start, for the window (a timer of its own, so
		// that the scrape below does not delay it).
		ch := make(chan error, 1)
		profiled = ch
		time.AfterFunc(o.warmup, func() { ch <- <-profileShard(ctx, pr.pprofs[pr.leader], o.dur, o.shardProfile) })
	}
	go func() {
		select {
		case <-time.After(o.warmup):
			winStart <- pr.snap()
		case <-ctx.Done():
		}
	}()
	cpu0, t0 := selfCPU(), time.Now()
	if o.rate > 0 {
		fmt.Fprintf(os.Stderr, "  %s: open loop at %.0f holds/s, %d clients, %s warm-up + %s\n", o.name, o.rate, o.clients, o.warmup, o.dur)
		w.openLoop(ctx, o.rate, o.warmup, o.dur)
	} else {
		fmt.Fprintf(os.Stderr, "  %s: closed loop, %d clients, %s warm-up + %s\n", o.name, o.clients, o.warmup, o.dur)
		w.closedLoop(ctx, o.warmup, o.dur)
	}
	if ctx.Err() != nil {
		return RunResult{}, ctx.Err()
	}
	end := pr.snap()
	w.res.GenCPUs = cpusAllowed("self")
	if len(pr.pids) > 0 {
		w.res.ServerCPUs = cpusAllowed(strconv.Itoa(pr.pids[max(pr.leader, 0)]))
	}
	if profiled != nil {
		select {
		case err := <-profiled:
			if err != nil {
				fmt.Fprintf(os.Stderr, "    (no shard profile: %v)\n", err)
			}
		case <-time.After(40 * time.Second):
			fmt.Fprintln(os.Stderr, "    (the shard profile did not finish)")
		}
	}
	res := w.finish()
	elapsed := time.Since(t0).Seconds()
	res.GenCPU = (selfCPU() - cpu0).Seconds() / elapsed
	select {
	case start := <-winStart:
		pr.result(start, end, &res)
		res.CPUWindowSec = end.at.Sub(start.at).Seconds()
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "    (the window-start probe did not finish: no server CPU)")
	}
	return res, nil
}

// logRun prints the run's summary, its first errors and the shard's memory
// (when started here) on stderr.
func logRun(res RunResult, proc *shardProc) {
	fmt.Fprintf(os.Stderr, "  %s: %.0f holds/s, %.0f conflicts/s, hold p50 %.2f ms p99 %.2f ms, conflict p50 %.2f ms p99 %.2f ms, errors %d\n",
		res.System, res.HoldsPerSec, res.ConflictsPerSec, res.Hold.P50, res.Hold.P99, res.Conflict.P50, res.Conflict.P99, res.Errors)
	for _, e := range res.FirstErrors {
		fmt.Fprintf(os.Stderr, "    error: %s\n", e)
	}
	if proc != nil {
		if rss, err := readVmRSS(proc.pid()); err == nil {
			fmt.Fprintf(os.Stderr, "  %s: shard VmRSS after the run: %.1f MB\n", res.System, float64(rss)/(1<<20))
		}
	}
}

// selfCPU is the user plus system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if path == "" {
		_, err = os.Stdout.Write(append(data, '\n'))
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
