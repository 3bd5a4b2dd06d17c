//go:build linux

package main

// `fanout room` measures the waiting room (docs/waiting-room.md): one shard
// with its room on and a 2,000-seat hall, several front-end processes, all
// on 127.0.0.0/8.
//
//  1. Joins: -joins joins from -join-workers concurrent callers, through the
//     front ends' POST /api/room when the front end serves it (round robin,
//     no cookie: every call is a new place), else straight at the shard's
//     POST /v1/room/join (and the report says so). Joins per second, per
//     front-end pod, and the shard's CPU-seconds per join (from
//     /proc/PID/task/*/schedstat, or /proc/PID/stat ticks).
//  2. Place updates: -clients browser-like event streams spread over the
//     front ends (/api/events, as the page opens it), all waiting, and one
//     stream straight from the shard (/v1/events). Then -admissions
//     admissions, one every -spacing: an admitted buyer holds a seat and
//     buys it, which ends the place and admits the next in line in the same
//     log record. Timed from the buy's answer (or its sending, for an event
//     that overtakes the answer) to each stream's first event showing it:
//     a `room` event whose `admitted` count includes it, or, for the seat
//     stream, the `seats` event of the buy's version.
//
// The target: p99 from an admission to every waiting page's new place at
// most 1 s. Where the front end relays `room` events, that is measured
// directly; where it does not, the report says so and gives the bound the
// two measured legs make (shard to `room` event, plus the front end's
// fan-out of the same record to every stream).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

type roomOptions struct {
	bin                string
	clients, frontends int
	joins, workers     int
	admissions         int
	perWorker          int
	spacing, joinLimit time.Duration
	addrs              int
	dir, jsonOut       string
}

func runRoomCmd(args []string) error {
	var o roomOptions
	fs := flag.NewFlagSet("room", flag.ExitOnError)
	fs.StringVar(&o.bin, "bin", "bin/boxoffice", "boxoffice binary")
	fs.IntVar(&o.clients, "clients", 50000, "waiting browsers (event streams on the front ends)")
	fs.IntVar(&o.frontends, "frontends", 4, "front-end processes (each holds clients/frontends sockets, under the open-file limit)")
	fs.IntVar(&o.perWorker, "per-worker", 15000, "clients per client process (under the open-file limit)")
	fs.IntVar(&o.joins, "joins", 50000, "joins measured (the waiting clients' places)")
	fs.IntVar(&o.workers, "join-workers", 64, "concurrent joiners")
	fs.IntVar(&o.admissions, "admissions", 20, "admissions measured (also the room's active cap)")
	fs.DurationVar(&o.spacing, "spacing", 2*time.Second, "time between admissions (the shard paces room events: at most once a second, four a second for admissions)")
	fs.DurationVar(&o.joinLimit, "join-limit", 120*time.Second, "cap on the join phase")
	fs.IntVar(&o.addrs, "source-addrs", 8, "loopback source addresses 127.0.0.2.. to spread client connections over")
	fs.StringVar(&o.dir, "dir", "", "work directory (default: a temporary one, removed at the end)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	_ = fs.Parse(args)
	if o.clients < 1 || o.frontends < 1 || o.joins < 1 || o.workers < 1 || o.perWorker < 1 || o.admissions < 1 || o.admissions > 2000 {
		return fmt.Errorf("room: -clients, -frontends, -joins, -join-workers, -per-worker must be positive, -admissions 1..2000 (one seat each)")
	}
	if o.addrs < 1 || o.addrs > 250 {
		return fmt.Errorf("room: -source-addrs must be between 1 and 250")
	}
	return runRoom(o)
}

// roomResult is what `fanout room` reports (and writes with -json).
type roomResult struct {
	Frontends          int     `json:"frontends"`
	JoinsVia           string  `json:"joinsVia"` // "frontend" or "shard"
	Joins              int64   `json:"joins"`
	JoinErrors         int64   `json:"joinErrors"`
	JoinSeconds        float64 `json:"joinSeconds"`
	JoinsPerSecond     float64 `json:"joinsPerSecond"`
	JoinsPerSecondPod  float64 `json:"joinsPerSecondPerFrontend,omitempty"`
	ShardCPUSeconds    float64 `json:"shardCpuSecondsJoining"`
	ShardCPUPerJoinUs  float64 `json:"shardCpuMicrosecondsPerJoin"`
	ShardCPUSource     string  `json:"shardCpuSource"`
	FrontendCPUPerJoin float64 `json:"frontendCpuMicrosecondsPerJoin,omitempty"`
	Clients            int     `json:"clients"`
	ConnectSeconds     float64 `json:"connectSeconds"`
	Admissions         int     `json:"admissions"`
	Waiting            int64   `json:"waitingAtStart"`
	RoomViaFrontend    track   `json:"roomEventsViaFrontend"`
	SeatsViaFrontend   track   `json:"seatEventsViaFrontend"`
	RoomAtShard        track   `json:"roomEventsAtShard"`
	VersionMismatches  int     `json:"versionMismatches"`
	// The admissions' window (from the first to the settled end): CPU the
	// front ends and the benchmark's client processes used, and the load
	// average when the run started (the machine may be shared).
	AdmissionSeconds   float64 `json:"admissionWindowSeconds"`
	FrontendCPUSeconds float64 `json:"frontendCpuSecondsAdmitting"`
	ClientsCPUSeconds  float64 `json:"clientsCpuSecondsAdmitting"`
	LoadAverage        string  `json:"loadAverageAtStart"`
	CPUs               int     `json:"cpus"`
}

// track is one kind of delivery: admission -> event on a stream.
type track struct {
	Deliveries int64   `json:"deliveries"`
	Expected   int64   `json:"expected"`
	P50ms      float64 `json:"p50Ms"`
	P99ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	// AllP50ms and AllMaxMs: per admission, the time until the last stream
	// had it (every waiting page updated); median and worst admission.
	AllP50ms float64 `json:"everyStreamP50Ms"`
	AllMaxMs float64 `json:"everyStreamMaxMs"`
}

func runRoom(o roomOptions) error {
	// Each client is one socket in a client process and one in a front
	// end; the children inherit the limit.
	if err := raiseNoFileTo(uint64(max(o.perWorker, o.clients/o.frontends)) + 1024); err != nil {
		return err
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "boxoffice-room-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.dir = d
	}
	w, err := startRoomWorld(o)
	if err != nil {
		return err
	}
	defer w.stop()
	r := roomResult{Frontends: o.frontends, Clients: o.clients, Admissions: o.admissions, CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.LoadAverage = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	admitted, err := w.preJoin(o.admissions)
	if err != nil {
		return err
	}
	if err := w.measureJoins(o, &r); err != nil {
		return err
	}
	if err := w.measurePlaces(o, admitted, &r); err != nil {
		return err
	}
	reportRoom(&r)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		return os.WriteFile(o.jsonOut, b, 0o644)
	}
	return nil
}

// raiseNoFileTo raises the open-file limit to want, the hard limit too when
// allowed (root), else fails naming what is missing.
func raiseNoFileTo(want uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	hard := l.Max
	if l.Max < want {
		l.Max = want // only a process allowed to raise it may
	}
	l.Cur = max(l.Cur, want)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE to %d: %v (the hard limit is %d: use more -frontends and a smaller -per-worker, or raise it)", want, err, hard)
	}
	return nil
}

// ---- the processes ----

type roomWorld struct {
	shard     *proc
	fes       []*proc
	shardAddr string
	feAddrs   []string
	token     string
	hc        *http.Client
	// streamPath is what a waiting page opens: the front end's room-only
	// stream where it has one, else the page's event stream.
	streamPath string
}

func startRoomWorld(o roomOptions) (*roomWorld, error) {
	absBin, err := filepath.Abs(o.bin)
	if err != nil {
		return nil, err
	}
	// A 2,000-seat hall: 20 rows of 100.
	files := map[string]string{"seatmap.yaml": "sections:\n- name: hall\n  rows:\n  - {names: \"1-20\", seats: \"1-100\"}\n",
		"token": "room-bench-token\n", "session": "room-bench-session-key-0123456789\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(o.dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	w := &roomWorld{shardAddr: freeAddr(), token: "room-bench-token", streamPath: "/api/events?lastEventId=",
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	w.shard, err = startProc(o.dir, "shard", absBin, "shard", "--showtime", "bench/room",
		"--seat-map", filepath.Join(o.dir, "seatmap.yaml"), "--data-dir", filepath.Join(o.dir, "data"),
		"--listen", w.shardAddr, "--token-file", filepath.Join(o.dir, "token"), "--max-seats-per-holder", "8",
		"--waiting-room", "--opens-at", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
		"--waiting-room-max-active", strconv.Itoa(o.admissions), "--waiting-room-idle-timeout", "30m",
		"--waiting-room-pre-queue", "0s")
	if err != nil {
		return nil, err
	}
	if err := waitReady("http://"+w.shardAddr+"/readyz", 30*time.Second); err != nil {
		w.stop()
		return nil, fmt.Errorf("shard: %v (log in %s)", err, w.shard.logPath)
	}
	for i := range o.frontends {
		addr := freeAddr()
		fe, err := startProc(o.dir, fmt.Sprintf("frontend-%d", i), absBin, "frontend", "--showtime", "bench/room",
			"--shard-url", "http://"+w.shardAddr, "--shard-token-file", filepath.Join(o.dir, "token"),
			"--session-key-file", filepath.Join(o.dir, "session"), "--listen", addr, "--demo-payments",
			"--rate-limit", "0", "--max-streams", "0", "--new-session-rate", "0", "--max-client-streams", "0")
		if err != nil {
			w.stop()
			return nil, err
		}
		w.fes, w.feAddrs = append(w.fes, fe), append(w.feAddrs, addr)
		if err := waitReady("http://"+addr+"/readyz", 30*time.Second); err != nil {
			w.stop()
			return nil, fmt.Errorf("front end %d: %v (log in %s)", i, err, fe.logPath)
		}
	}
	log("shard pid %d on %s (room on, %d active), %d front ends on %v", w.shard.Pid(), w.shardAddr,
		o.admissions, len(w.fes), w.feAddrs)
	return w, nil
}

func (w *roomWorld) stop() {
	for _, fe := range w.fes {
		fe.stop()
	}
	if w.shard != nil {
		w.shard.stop()
	}
}

// shardAPI is the shard's contract client (shard/shardapi) and its URL.
func (w *roomWorld) shardAPI() (*shardapi.Client, string) {
	return &shardapi.Client{HTTP: w.hc, Token: w.token}, "http://" + w.shardAddr
}

func (w *roomWorld) joinAtShard() (*shardapi.Place, error) {
	var key [16]byte
	_, _ = rand.Read(key[:])
	api, base := w.shardAPI()
	return api.JoinRoom(context.Background(), base, hex.EncodeToString(key[:]))
}

// preJoin fills the active slots (the room admits the first n joiners at
// once): the buyers whose purchases make the measured admissions.
func (w *roomWorld) preJoin(n int) ([]uint64, error) {
	var out []uint64
	for range n {
		a, err := w.joinAtShard()
		if err != nil {
			return nil, err
		}
		if a.State != shardapi.PlaceAdmitted {
			return nil, fmt.Errorf("join %d of the active cap answered state %q, want admitted", len(out)+1, a.State)
		}
		out = append(out, a.Place)
	}
	return out, nil
}

// frontendJoins reports whether the front end serves the waiting room's
// POST /api/room (docs/api/buyer.openapi.yaml): a 404 or 405 says it does
// not; {"enabled":false} that it has not seen the shard's room yet (it
// learns it from the shard's event stream), so it asks again for up to 5 s.
// The answer that says yes is a join, a place at the back like the others.
func (w *roomWorld) frontendJoins() bool {
	for range 50 {
		var a struct {
			Enabled bool `json:"enabled"`
		}
		code, err := w.postRoom(w.feAddrs[0], &a)
		switch {
		case err == nil && code/100 == 2 && a.Enabled:
			return true
		case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// postRoom is a browser without cookies asking for a place: POST /api/room.
func (w *roomWorld) postRoom(fe string, out any) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+fe+"/api/room", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("POST /api/room: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.Unmarshal(b, out)
}

// joinAtFrontend joins through a front end without a cookie: a new place.
func (w *roomWorld) joinAtFrontend(fe string) error {
	_, err := w.postRoom(fe, nil)
	return err
}

func (w *roomWorld) measureJoins(o roomOptions, r *roomResult) error {
	viaFE := w.frontendJoins()
	r.JoinsVia = "shard"
	if viaFE {
		r.JoinsVia = "frontend"
		w.streamPath = "/api/room/events?lastEventId=" // the queue page's room-only stream
	}
	log("joins: %d from %d workers via the %s", o.joins, o.workers, r.JoinsVia)
	var next, ok, bad atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(o.joinLimit)
	shard0 := cpuNow(w.shard.Pid())
	fe0 := make([]cpuSample, len(w.fes))
	for i, fe := range w.fes {
		fe0[i] = cpuNow(fe.Pid())
	}
	t0 := time.Now()
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(o.joins) || time.Now().After(deadline) {
					return
				}
				var err error
				if viaFE {
					err = w.joinAtFrontend(w.feAddrs[int(i)%len(w.feAddrs)])
				} else {
					_, err = w.joinAtShard()
				}
				if err != nil {
					if bad.Add(1) == 1 {
						log("first join error: %v", err)
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	r.JoinSeconds = time.Since(t0).Seconds()
	r.ShardCPUSeconds, r.ShardCPUSource = cpuNow(w.shard.Pid()).since(shard0)
	r.Joins, r.JoinErrors = ok.Load(), bad.Load()
	if r.Joins == 0 {
		return fmt.Errorf("no join succeeded (%d errors; logs in %s)", r.JoinErrors, o.dir)
	}
	r.JoinsPerSecond = float64(r.Joins) / r.JoinSeconds
	r.ShardCPUPerJoinUs = 1e6 * r.ShardCPUSeconds / float64(r.Joins)
	if viaFE {
		r.JoinsPerSecondPod = r.JoinsPerSecond / float64(len(w.fes))
		var feCPU float64
		for i, fe := range w.fes {
			d, _ := cpuNow(fe.Pid()).since(fe0[i])
			feCPU += d
		}
		r.FrontendCPUPerJoin = 1e6 * feCPU / float64(r.Joins)
	}
	log("joins: %d in %.1fs (%.0f/s), %d errors; shard CPU %.2fs (%.1f µs per join, %s)", r.Joins, r.JoinSeconds,
		r.JoinsPerSecond, r.JoinErrors, r.ShardCPUSeconds, r.ShardCPUPerJoinUs, r.ShardCPUSource)
	return nil
}
