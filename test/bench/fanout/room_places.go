//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// targetPlaceP99ms is the waiting room's place-update target: p99 from an
// admission to every waiting page's new place.
const targetPlaceP99ms = 1000

// settleAfterAdmissions is how long the streams may take to show the last
// admission; later counts as not delivered.
const settleAfterAdmissions = 5 * time.Second

// clientWorker is one `fanout room-clients` process.
type clientWorker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func (c *clientWorker) send(format string, a ...any) error {
	_, err := fmt.Fprintf(c.in, format+"\n", a...)
	return err
}

func (c *clientWorker) expect(prefix string) (string, error) {
	if !c.out.Scan() {
		return "", fmt.Errorf("client worker pid %d ended: %v", c.cmd.Process.Pid, c.out.Err())
	}
	if line := c.out.Text(); strings.HasPrefix(line, prefix) {
		return line, nil
	} else {
		return "", fmt.Errorf("client worker pid %d said %q, want %s", c.cmd.Process.Pid, line, prefix)
	}
}

func (w *roomWorld) measurePlaces(o roomOptions, admitted []uint64, r *roomResult) error {
	st, err := w.settledRoomStatus()
	if err != nil {
		return err
	}
	r.Waiting = st.Waiting
	vers := make([]string, len(w.feAddrs))
	for i, fe := range w.feAddrs {
		v, err := currentVersion(fe)
		if err != nil {
			return err
		}
		vers[i] = strconv.FormatUint(v, 10)
	}
	adm := newAdmissionLog(o.admissions)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One stream straight from the shard, here.
	shardStream := newRoomStream(o.admissions)
	var wg sync.WaitGroup
	opened := make(chan struct{}, 1)
	last, _ := strconv.ParseUint(vers[0], 10, 64)
	wg.Go(func() {
		shardStream.follow(ctx, net.IPv4(127, 0, 0, 1), w.shardAddr, "/v1/events?from=", w.token, last, adm,
			func() { opened <- struct{}{} })
	})
	start := time.Now()
	workers, err := w.startClientWorkers(o, vers)
	defer stopWorkers(workers)
	if err != nil {
		return err
	}
	r.ConnectSeconds = time.Since(start).Seconds()
	select {
	case <-opened:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the shard's event stream did not open")
	}
	time.Sleep(time.Second)
	log("admissions: %d, one every %v, %d waiting", o.admissions, o.spacing, r.Waiting)
	pids := append(w.frontendPIDs(), workerPIDs(workers)...)
	cpu0 := make([]cpuSample, len(pids))
	for i, pid := range pids {
		cpu0[i] = cpuNow(pid)
	}
	t0 := time.Now()
	for k, place := range admitted {
		if err := w.admitNext(k, place, st.Admitted, o.spacing, adm, workers, r); err != nil {
			return err
		}
	}
	time.Sleep(settleAfterAdmissions)
	r.AdmissionSeconds = time.Since(t0).Seconds()
	for i, pid := range pids {
		d, _ := cpuNow(pid).since(cpu0[i])
		if i < len(w.fes) {
			r.FrontendCPUSeconds += d
		} else {
			r.ClientsCPUSeconds += d
		}
	}
	cancel()
	wg.Wait()
	room, seats := []trackPart{}, []trackPart{}
	for _, c := range workers {
		if err := c.send("end"); err != nil {
			return err
		}
		line, err := c.expect("{")
		if err != nil {
			return err
		}
		var p workerParts
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			return err
		}
		room, seats = append(room, p.Room), append(seats, p.Seats)
	}
	r.RoomViaFrontend, r.SeatsViaFrontend = mergeParts(room), mergeParts(seats)
	r.RoomAtShard = mergeParts([]trackPart{partOf(adm, []*roomStream{shardStream}, func(s *roomStream) []int64 { return s.roomAt })})
	return nil
}

// roomStatus is what a settled room summary is judged by.
type roomStatus struct{ Waiting, Admitted int64 }

// settledRoomStatus reads the room summary until two reads agree (the shard
// publishes it on its writer's tick; at most 3 s).
func (w *roomWorld) settledRoomStatus() (roomStatus, error) {
	var st, prev roomStatus
	for i := range 10 {
		api, base := w.shardAPI()
		sum, err := api.RoomStatus(context.Background(), base)
		if err != nil {
			return st, err
		}
		st = roomStatus{Waiting: sum.Waiting, Admitted: sum.Admitted}
		if i > 0 && st == prev {
			break
		}
		prev = st
		time.Sleep(300 * time.Millisecond)
	}
	return st, nil
}

// startClientWorkers starts the worker processes, -per-worker clients
// each, and returns once every stream is open.
func (w *roomWorld) startClientWorkers(o roomOptions, vers []string) ([]*clientWorker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	log("clients: connecting %d over %d front ends from %d loopback addresses, %d per process",
		o.clients, len(w.feAddrs), o.addrs, o.perWorker)
	start := time.Now()
	var workers []*clientWorker
	for from := 0; from < o.clients; from += o.perWorker {
		n := min(o.perWorker, o.clients-from)
		cmd := exec.Command(self, "room-clients", "-fes", strings.Join(w.feAddrs, ","), "-versions", strings.Join(vers, ","),
			"-from", strconv.Itoa(from), "-n", strconv.Itoa(n), "-admissions", strconv.Itoa(o.admissions),
			"-source-addrs", strconv.Itoa(o.addrs), "-path", w.streamPath)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return workers, err
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		workers = append(workers, &clientWorker{cmd: cmd, in: in, out: sc})
	}
	for _, c := range workers {
		if _, err := c.expect("ready"); err != nil {
			return workers, err
		}
	}
	log("clients: %d streams open in %.1fs", o.clients, time.Since(start).Seconds())
	return workers, nil
}

func workerPIDs(workers []*clientWorker) []int {
	var out []int
	for _, c := range workers {
		out = append(out, c.cmd.Process.Pid)
	}
	return out
}

func (w *roomWorld) frontendPIDs() []int {
	var out []int
	for _, fe := range w.fes {
		out = append(out, fe.Pid())
	}
	return out
}

func stopWorkers(workers []*clientWorker) {
	for _, c := range workers {
		_ = c.in.Close()
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	}
}

// admitNext makes admission k: the admitted buyer holds one seat (holder
// w:<place>, the room's convention) and buys it, which ends the place and
// admits the next in line in the same log record. The workers learn what
// to look for before the buy is sent.
func (w *roomWorld) admitNext(k int, place uint64, admitted0 int64, spacing time.Duration, adm *admissionLog, workers []*clientWorker, r *roomResult) error {
	api, base := w.shardAPI()
	seat := fmt.Sprintf("hall/%d/%d", k/100+1, k%100+1)
	h, err := api.Hold(context.Background(), base, &shardapi.HoldRequest{Seats: []string{seat}, Holder: fmt.Sprintf("w:%d", place)}, "")
	if err != nil {
		return err
	}
	time.Sleep(spacing / 2)
	adm.version[k] = h.Version + 1 // nothing else writes seats here
	adm.admitted[k] = admitted0 + int64(k) + 1
	for _, c := range workers {
		if err := c.send("adm %d %d %d", k, adm.version[k], adm.admitted[k]); err != nil {
			return err
		}
	}
	for _, c := range workers {
		if _, err := c.expect(fmt.Sprintf("ok %d", k)); err != nil {
			return err
		}
	}
	adm.sendAt[k] = time.Now().UnixNano()
	adm.n.Store(int64(k + 1))
	c, err := api.Confirm(context.Background(), base, h.ID, fmt.Sprintf("room-bench-%d", k), "")
	if err != nil {
		return err
	}
	ack := time.Now().UnixNano()
	adm.ackAt[k].Store(ack)
	for _, w := range workers {
		if err := w.send("ack %d %d %d", k, adm.sendAt[k], ack); err != nil {
			return err
		}
	}
	if c.Version != adm.version[k] {
		r.VersionMismatches++
	}
	time.Sleep(spacing - spacing/2)
	return nil
}

// mergeParts sums the processes' parts into one track: quantiles over every
// delivery, and per admission the slowest stream of all.
func mergeParts(parts []trackPart) track {
	h := &hist{}
	var t track
	var every []int64
	for _, p := range parts {
		t.Deliveries += p.Deliveries
		t.Expected += p.Expected
		for b, n := range p.Buckets {
			if b >= 0 && b < len(h.b) {
				h.b[b].Add(n)
			}
		}
		if every == nil {
			every = slices.Clone(p.Every)
			continue
		}
		for k := range min(len(every), len(p.Every)) {
			if every[k] < 0 || p.Every[k] < 0 {
				every[k] = -1
			} else {
				every[k] = max(every[k], p.Every[k])
			}
		}
	}
	if t.Deliveries == 0 || len(every) == 0 {
		return t
	}
	t.P50ms, t.P99ms, t.MaxMs = h.quantile(0.5), h.quantile(0.99), h.maxMs()
	// Missing (-1) sorts last, as the slowest.
	slices.SortFunc(every, func(a, b int64) int {
		switch {
		case a == b:
			return 0
		case a < 0:
			return 1
		case b < 0:
			return -1
		case a < b:
			return -1
		}
		return 1
	})
	ms := func(d int64) float64 {
		if d < 0 {
			return -1
		}
		return float64(d) / 1e6
	}
	t.AllP50ms, t.AllMaxMs = ms(every[len(every)/2]), ms(every[len(every)-1])
	return t
}
