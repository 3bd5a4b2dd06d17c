//go:build linux

package main

// The client processes' streams are read by a few epoll loops, not a
// goroutine each: a waiting browser is one socket in a loop's epoll set
// (level-triggered), and a readable socket costs one read system call into
// the loop's buffer, not a goroutine wake-up, a read and a second read that
// finds nothing. Each stream's events are still parsed one by one and
// timed when the read that completed them returned, so what is measured is
// what the goroutine-per-stream reader measured, without the cost that in
// a real crowd is spread over fifty thousand machines. A stream that ends
// reconnects with Last-Event-ID, as a browser does.
//
// The clients share the cores with the front ends they measure, so they
// keep out of their way: a loop that found few sockets ready pauses for
// readPause before it polls again (so the front ends' writes do not wake it
// once per message), and the client processes run with the SCHED_BATCH
// policy (a woken client does not preempt a front end in the middle of its
// fan-out: batchScheduling).
// Both only make the clients read later, never earlier: a delay they add is
// part of what is measured.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// readPause is how long a loop that found fewer ready sockets than its
// batch waits before polling again.
const readPause = time.Millisecond

// maxLine is the longest line a stream keeps across reads; longer ones (a
// seat snapshot, which the waiting page does not need here) are skipped.
const maxLine = 8192

// sseParser is one stream's parsing state across reads.
type sseParser struct {
	partial []byte // an unfinished line
	skip    bool   // inside an overlong line: drop until its end
	event   string
	id      uint64
	data    []byte
	last    uint64 // the last event id, for Last-Event-ID
}

// feed parses b, received at now, calling observe for each complete event.
func (p *sseParser) feed(b []byte, now int64, observe func(event string, id uint64, data []byte, now int64)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !p.skip && len(p.partial)+len(b) <= maxLine {
				p.partial = append(p.partial, b...)
			} else {
				p.skip, p.partial = true, p.partial[:0]
			}
			return
		}
		line := b[:i]
		b = b[i+1:]
		if p.skip {
			p.skip = false
			continue
		}
		if len(p.partial) > 0 {
			p.partial = append(p.partial, line...)
			line = p.partial
		}
		if len(line) > maxLine {
			p.partial = p.partial[:0]
			continue
		}
		p.line(bytes.TrimRight(line, "\r"), now, observe)
		p.partial = p.partial[:0]
	}
}

func (p *sseParser) line(line []byte, now int64, observe func(string, uint64, []byte, int64)) {
	switch {
	case len(line) == 0:
		if p.event != "" || p.id != 0 {
			observe(p.event, p.id, p.data, now)
		}
		if p.id > p.last {
			p.last = p.id
		}
		p.event, p.id, p.data = "", 0, p.data[:0]
	case bytes.HasPrefix(line, []byte("event: ")):
		p.event = eventName(line[7:])
	case bytes.HasPrefix(line, []byte("id: ")):
		p.id, _ = strconv.ParseUint(string(line[4:]), 10, 64)
	case bytes.HasPrefix(line, []byte("data: ")):
		p.data = append(p.data, line[6:]...)
	}
}

// eventName avoids an allocation for the names the benchmark looks for.
func eventName(b []byte) string {
	switch string(b) {
	case "room":
		return "room"
	case "seats":
		return "seats"
	}
	return string(b)
}

// epollStream is one waiting browser read by an epoll loop.
type epollStream struct {
	s   *roomStream
	p   sseParser
	fd  int
	src net.IP
	fe  string
}

// epollLoop reads its streams' sockets.
type epollLoop struct {
	ep      int
	streams []*epollStream
	back    chan int // streams reconnected, to add back to the set
	buf     []byte
	seen    int64 // events parsed since the last count (the loop's own)
}

// epollClients is one worker's streams spread over a few epoll loops.
type epollClients struct {
	loops []*epollLoop
	adm   *admissionLog
	path  string
	wg    sync.WaitGroup
}

func newEpollClients(n int, adm *admissionLog, path string) (*epollClients, error) {
	c := &epollClients{adm: adm, path: path}
	for range n {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			c.closeLoops()
			return nil, err
		}
		c.loops = append(c.loops, &epollLoop{ep: ep, buf: make([]byte, 64<<10)})
	}
	return c, nil
}

func (c *epollClients) closeLoops() {
	for _, l := range c.loops {
		_ = unix.Close(l.ep)
	}
}

// open connects stream i of loop l and hands it to the loop, which adds it
// to its set (the loop is the only one to touch a stream in its set).
func (c *epollClients) open(ctx context.Context, l *epollLoop, i int) error {
	if err := c.handshake(ctx, l.streams[i]); err != nil {
		return err
	}
	c.handBack(ctx, l, i)
	return nil
}

func (c *epollClients) handBack(ctx context.Context, l *epollLoop, i int) {
	select {
	case l.back <- i:
	case <-ctx.Done():
		_ = unix.Close(l.streams[i].fd)
		l.streams[i].fd = -1
	}
}

// handshake opens the stream's connection with Go's dialer and HTTP parser,
// keeps a non-blocking duplicate of its socket for the loop, and parses the
// bytes read past the response head.
func (c *epollClients) handshake(ctx context.Context, es *epollStream) error {
	conn, br, _, err := openEventStream(ctx, es.src, es.fe, c.path, es.p.last, "")
	if err != nil {
		return err
	}
	defer conn.Close() // the duplicate stays open
	rest, _ := br.Peek(br.Buffered())
	es.p = sseParser{last: es.p.last}
	es.p.feed(rest, time.Now().UnixNano(), func(event string, id uint64, data []byte, now int64) {
		c.adm.events.Add(1)
		es.s.observe(c.adm, event, id, data, now)
	})
	var fd int
	var derr error
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	if err := rc.Control(func(f uintptr) { fd, derr = unix.Dup(int(f)) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return err
	}
	es.fd = fd
	return nil
}

// run reads l's streams until ctx ends. It polls without blocking while
// sockets keep becoming ready, sleeping readPause after a batch that was
// not full, and blocks in epoll_wait only when a poll found none (idle).
func (c *epollClients) run(ctx context.Context, l *epollLoop) {
	events := make([]unix.EpollEvent, 256)
	observers := make([]func(string, uint64, []byte, int64), len(l.streams))
	for i, es := range l.streams {
		observers[i] = func(event string, id uint64, data []byte, now int64) {
			l.seen++
			es.s.observe(c.adm, event, id, data, now)
		}
	}
	for ctx.Err() == nil {
		c.addBack(ctx, l)
		n, err := unix.EpollWait(l.ep, events, 0)
		if err == nil && n == 0 {
			n, err = unix.EpollWait(l.ep, events, 50)
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			c.readOne(ctx, l, int(ev.Fd), observers[ev.Fd])
		}
		if l.seen > 0 {
			c.adm.events.Add(l.seen)
			l.seen = 0
		}
		if n > 0 && n < len(events) {
			time.Sleep(readPause)
		}
	}
}

// addBack adds the streams handed back to l's set.
func (c *epollClients) addBack(ctx context.Context, l *epollLoop) {
	for {
		select {
		case i := <-l.back:
			if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, l.streams[i].fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}); err != nil {
				_ = unix.Close(l.streams[i].fd)
				l.streams[i].fd = -1
				c.reconnect(ctx, l, i)
			}
		default:
			return
		}
	}
}

// readOne reads what stream i's socket holds (one read: a socket with
// more stays ready) and parses it, timed when the read returned.
func (c *epollClients) readOne(ctx context.Context, l *epollLoop, i int, observe func(string, uint64, []byte, int64)) {
	es := l.streams[i]
	m, err := unix.Read(es.fd, l.buf)
	now := time.Now().UnixNano()
	if m > 0 {
		es.p.feed(l.buf[:m], now, observe)
		return
	}
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return
	}
	_ = unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, es.fd, nil)
	_ = unix.Close(es.fd)
	es.fd = -1
	c.reconnect(ctx, l, i)
}

// reconnect opens stream i again after 100 ms (with Last-Event-ID) and
// hands it back to its loop; it retries until ctx ends.
func (c *epollClients) reconnect(ctx context.Context, l *epollLoop, i int) {
	es := l.streams[i]
	c.wg.Go(func() {
		for ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			if c.handshake(ctx, es) == nil {
				c.handBack(ctx, l, i)
				return
			}
		}
	})
}

// stop waits for the reconnections and closes every socket (after the
// loops returned).
func (c *epollClients) stop() {
	c.wg.Wait()
	for _, l := range c.loops {
		for drained := false; !drained; {
			select {
			case <-l.back:
			default:
				drained = true
			}
		}
		for _, es := range l.streams {
			if es.fd >= 0 {
				_ = unix.Close(es.fd)
			}
		}
	}
	c.closeLoops()
}

// batchScheduling gives every thread of this process the SCHED_BATCH
// policy; threads started later inherit it from the thread that starts
// them. Twice, for a thread started while the first pass ran.
func batchScheduling() error {
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH}
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetAttr(tid, attr, 0); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	}
	return nil
}
