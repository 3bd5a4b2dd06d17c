//go:build linux

package main

// The waiting browsers of `fanout room`: event streams and what each saw.
// A process holds at most -per-worker of them (the open-file limit), so
// the benchmark runs them in `fanout room-clients` worker processes that
// it drives over stdin and stdout:
//
//	worker -> "ready" once its streams are open
//	bench  -> "adm K VERSION ADMITTED"     (admission K is about to happen)
//	worker -> "ok K"
//	bench  -> "ack K SENDNANOS ACKNANOS"   (the buy was sent, and answered)
//	bench  -> "end"
//	worker -> one JSON line: its part of each track, then exits.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// admissionLog is the measured admissions: targets published before each
// buy is sent, its send and answer times.
type admissionLog struct {
	n        atomic.Int64 // admissions published
	version  []uint64     // the buy's seat-map version
	admitted []int64      // the room's admitted count once it is applied
	sendAt   []int64
	ackAt    []atomic.Int64
	events   atomic.Int64 // events the epoll loops parsed (all kinds)
}

// roomStream is one event stream and the first time it showed each
// admission, by the room's admitted count and by the buy's seat version.
type roomStream struct {
	roomAt, seatsAt []int64
	nextRoom        int
	nextSeats       int
}

func (s *roomStream) observe(adm *admissionLog, event string, id uint64, data []byte, now int64) {
	n := int(adm.n.Load())
	switch event {
	case "room":
		a, ok := jsonInt(data, `"admitted":`)
		for ok && s.nextRoom < n && adm.admitted[s.nextRoom] <= a {
			s.roomAt[s.nextRoom] = now
			s.nextRoom++
		}
	case "seats", "":
		for id != 0 && s.nextSeats < n && adm.version[s.nextSeats] <= id {
			s.seatsAt[s.nextSeats] = now
			s.nextSeats++
		}
	}
}

// jsonInt reads the integer after key in a flat JSON object.
func jsonInt(data []byte, key string) (int64, bool) {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := data[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return v, err == nil
}

// follow reads one SSE stream until ctx ends, reconnecting with
// Last-Event-ID; onOpen is called once, on the first connection.
func (s *roomStream) follow(ctx context.Context, src net.IP, addr, path, token string, last uint64, adm *admissionLog, onOpen func()) {
	opened := false
	for ctx.Err() == nil {
		err := s.streamOnce(ctx, src, addr, path, token, &last, adm, func() {
			if !opened {
				opened = true
				onOpen()
			}
		})
		if ctx.Err() != nil || err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *roomStream) streamOnce(ctx context.Context, src net.IP, addr, path, token string, last *uint64, adm *admissionLog, onOpen func()) error {
	conn, _, resp, err := openEventStream(ctx, src, addr, path, *last, token)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer resp.Body.Close()
	onOpen()
	body := bufio.NewReaderSize(resp.Body, 8192)
	var event string
	var id uint64
	var data []byte
	for {
		line, err := body.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) { // a snapshot: not needed here
				_, err = body.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if event != "" || id != 0 {
				s.observe(adm, event, id, data, time.Now().UnixNano())
			}
			if id > *last {
				*last = id
			}
			event, id, data = "", 0, data[:0]
		case bytes.HasPrefix(line, []byte("event: ")):
			event = string(line[7:])
		case bytes.HasPrefix(line, []byte("id: ")):
			id, _ = strconv.ParseUint(string(line[4:]), 10, 64)
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, line[6:]...)
		}
	}
}

// trackPart is one process's share of a track: its delays as counts of the
// hist buckets, and per admission the slowest of its streams (-1 when one
// of them never showed it).
type trackPart struct {
	Buckets    map[int]int64 `json:"buckets"`
	Every      []int64       `json:"every"`
	Deliveries int64         `json:"deliveries"`
	Expected   int64         `json:"expected"`
}

// partOf measures one kind of delivery over streams: each stream's delay
// for each admission, timed from the buy's answer (from its sending when
// the event overtook the answer).
func partOf(adm *admissionLog, streams []*roomStream, at func(*roomStream) []int64) trackPart {
	n := int(adm.n.Load())
	p := trackPart{Buckets: map[int]int64{}, Every: make([]int64, n), Expected: int64(len(streams)) * int64(n)}
	for _, s := range streams {
		times := at(s)
		for k := range n {
			if times[k] == 0 {
				p.Every[k] = -1
				continue
			}
			base := adm.ackAt[k].Load()
			if times[k] < base || base == 0 {
				base = adm.sendAt[k]
			}
			d := max(times[k]-base, 0)
			p.Buckets[bucketOf(time.Duration(d))]++
			p.Deliveries++
			if p.Every[k] >= 0 {
				p.Every[k] = max(p.Every[k], d)
			}
		}
	}
	return p
}

// workerParts is what a worker prints at the end.
type workerParts struct {
	Room  trackPart `json:"room"`
	Seats trackPart `json:"seats"`
}

type clientsOptions struct {
	fes               []string
	versions          []uint64
	from, n           int
	admissions, addrs int
	path              string
}

// runClientsCmd is `fanout room-clients`: one worker's share of the
// browsers, driven over stdin and stdout.
func runClientsCmd(args []string) error {
	var o clientsOptions
	var fes, vers string
	fs := flag.NewFlagSet("room-clients", flag.ExitOnError)
	fs.StringVar(&fes, "fes", "", "front-end addresses, comma-separated")
	fs.StringVar(&vers, "versions", "", "each front end's seat-map version, comma-separated")
	fs.IntVar(&o.from, "from", 0, "index of this worker's first client (spreads clients over front ends and sources)")
	fs.IntVar(&o.n, "n", 0, "clients in this worker")
	fs.IntVar(&o.admissions, "admissions", 0, "admissions to expect")
	fs.IntVar(&o.addrs, "source-addrs", 8, "loopback source addresses 127.0.0.2..")
	fs.StringVar(&o.path, "path", "/api/events?lastEventId=", "the stream a waiting page opens (the version is appended)")
	_ = fs.Parse(args)
	o.fes = strings.Split(fes, ",")
	for _, v := range strings.Split(vers, ",") {
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("-versions: %v", err)
		}
		o.versions = append(o.versions, x)
	}
	if len(o.versions) != len(o.fes) || o.n < 1 || o.admissions < 1 {
		return fmt.Errorf("room-clients: bad arguments")
	}
	if err := raiseNoFileTo(uint64(o.n) + 256); err != nil {
		return err
	}
	if err := batchScheduling(); err != nil {
		return fmt.Errorf("SCHED_BATCH: %v", err)
	}
	adm := newAdmissionLog(o.admissions)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams, stop, err := openStreams(ctx, o, adm)
	if err != nil {
		cancel()
		if stop != nil {
			stop()
		}
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	if err := followCommands(bufio.NewScanner(os.Stdin), out, adm); err != nil {
		return err
	}
	cancel()
	stop()
	parts := workerParts{Room: partOf(adm, streams, func(s *roomStream) []int64 { return s.roomAt }),
		Seats: partOf(adm, streams, func(s *roomStream) []int64 { return s.seatsAt })}
	b, _ := json.Marshal(parts)
	fmt.Fprintln(out, string(b))
	return out.Flush()
}

// followCommands applies the bench's lines until "end".
func followCommands(in *bufio.Scanner, out *bufio.Writer, adm *admissionLog) error {
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 1 && f[0] == "end":
			return nil
		case len(f) == 4 && f[0] == "adm":
			k, _ := strconv.Atoi(f[1])
			if k != int(adm.n.Load()) || k >= len(adm.version) {
				return fmt.Errorf("admission %d out of order", k)
			}
			adm.version[k], _ = strconv.ParseUint(f[2], 10, 64)
			adm.admitted[k], _ = strconv.ParseInt(f[3], 10, 64)
			adm.n.Store(int64(k + 1))
			fmt.Fprintf(out, "ok %d\n", k)
			out.Flush()
		case len(f) == 4 && f[0] == "ack":
			k, _ := strconv.Atoi(f[1])
			if k < 0 || k >= int(adm.n.Load()) {
				return fmt.Errorf("ack of admission %d before it was announced", k)
			}
			adm.sendAt[k], _ = strconv.ParseInt(f[2], 10, 64)
			t, _ := strconv.ParseInt(f[3], 10, 64)
			adm.ackAt[k].Store(t)
		default:
			return fmt.Errorf("unknown command %q", in.Text())
		}
	}
	return fmt.Errorf("stdin closed before end: %v", in.Err())
}

// openStreams opens this worker's streams, read by one epoll loop per
// processor (room_epoll.go), and returns once all are open (at most 180 s).
// stop, after ctx ended, waits for the loops and closes the sockets.
func openStreams(ctx context.Context, o clientsOptions, adm *admissionLog) (streams []*roomStream, stop func(), err error) {
	c, err := newEpollClients(runtime.GOMAXPROCS(0), adm, o.path)
	if err != nil {
		return nil, nil, err
	}
	streams = make([]*roomStream, o.n)
	for i := range streams {
		g := o.from + i
		fe := g % len(o.fes)
		streams[i] = newRoomStream(o.admissions)
		l := c.loops[i%len(c.loops)]
		l.streams = append(l.streams, &epollStream{s: streams[i], fd: -1, src: net.IPv4(127, 0, 0, byte(2+g%o.addrs)),
			fe: o.fes[fe], p: sseParser{last: o.versions[fe]}})
	}
	var loops sync.WaitGroup
	for _, l := range c.loops {
		l.back = make(chan int, len(l.streams))
		loops.Go(func() { c.run(ctx, l) })
	}
	stop = func() { loops.Wait(); c.stop() }
	ready := make(chan struct{}, o.n)
	go func() {
		sem := make(chan struct{}, 256) // connects in flight
		for i := range o.n {
			l, k := c.loops[i%len(c.loops)], i/len(c.loops)
			sem <- struct{}{}
			c.wg.Go(func() {
				defer func() { <-sem }()
				for ctx.Err() == nil {
					if c.open(ctx, l, k) == nil {
						ready <- struct{}{}
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
	}()
	timeout := time.After(180 * time.Second)
	for got := 0; got < o.n; got++ {
		select {
		case <-ready:
		case <-timeout:
			return nil, stop, fmt.Errorf("only %d of %d streams opened within 180s", got, o.n)
		}
	}
	return streams, stop, nil
}

func newAdmissionLog(n int) *admissionLog {
	return &admissionLog{version: make([]uint64, n), admitted: make([]int64, n), sendAt: make([]int64, n),
		ackAt: make([]atomic.Int64, n)}
}

func newRoomStream(n int) *roomStream {
	return &roomStream{roomAt: make([]int64, n), seatsAt: make([]int64, n)}
}
