package frontend

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// directConn is a browser stream whose connection the hub writes to itself.
// Frames go straight to the socket with a non-blocking write from the
// fan-out workers, so a frame costs one write system call per browser and no
// goroutine wake-up. What the socket does not take is queued; a short-lived
// goroutine drains the queue with ordinary blocking writes. A browser whose
// queue grows past the budget is disconnected and resumes with
// Last-Event-ID.
type directConn struct {
	conn net.Conn
	// fd is conn's socket, written with non-blocking system calls while mu
	// is held: conn is closed only under mu (closeLocked), so the number
	// cannot be reused under a write, and the queue's goroutine writes only
	// while the queue is not empty, when send queues instead of writing.
	fd  uintptr
	max int // queued frames before the browser is dropped
	// roomOnly: a queue page's stream, sent room frames only.
	roomOnly bool
	// after is the seat version its first frames brought it to (set before
	// the hub lists it, read by the fan-out workers).
	after uint64

	mu       sync.Mutex
	backlog  [][]byte
	off      int // bytes of backlog[0] already written
	flushing bool
	closed   bool
	dropped  bool // closed for being slow
	onClose  func(*directConn)
	release  func() // gives back the client's stream slot; called once, on close

	// lastSent is when the hub last sent it a frame (UnixNano): a stream
	// sent something recently needs no heartbeat.
	lastSent atomic.Int64
}

func newDirectConn(conn net.Conn, max int) (*directConn, bool) {
	if !directWrites {
		return nil, false
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	d := &directConn{conn: conn, max: max}
	if raw.Control(func(fd uintptr) { d.fd = fd }) != nil {
		return nil, false
	}
	return d, true
}

// send queues frames and writes what the socket takes now. It reports false
// when the connection is closed, either before or because of this call.
func (d *directConn) send(frames ...[]byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	if len(d.backlog) == 0 {
		for i, f := range frames {
			n, err := d.tryWrite(f)
			if err != nil {
				d.closeLocked()
				return false
			}
			if n < len(f) {
				d.backlog = append(d.backlog, frames[i:]...)
				d.off = n
				break
			}
		}
	} else {
		d.backlog = append(d.backlog, frames...)
	}
	if len(d.backlog) > d.max {
		d.dropped = true
		d.closeLocked()
		return false
	}
	if len(d.backlog) > 0 && !d.flushing {
		d.flushing = true
		go d.flush()
	}
	return true
}

// tryWrite writes as much of b as the socket accepts without waiting (d.mu
// held). One system call on the socket itself, with no poller round trip
// or allocation: a fan-out to tens of thousands of pages makes one per page.
func (d *directConn) tryWrite(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		m, again, err := writeNonblock(d.fd, b)
		if again {
			break
		}
		if err != nil {
			return n, err
		}
		n += m
		b = b[m:]
	}
	return n, nil
}

// flush drains the queue with blocking writes bounded by a deadline.
func (d *directConn) flush() {
	for {
		d.mu.Lock()
		if d.closed || len(d.backlog) == 0 {
			d.flushing = false
			closed := d.closed
			d.mu.Unlock()
			if closed && d.onClose != nil {
				d.onClose(d)
			}
			return
		}
		buf := d.backlog[0][d.off:]
		d.mu.Unlock()
		_ = d.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := d.conn.Write(buf)
		d.mu.Lock()
		if err != nil {
			d.closeLocked()
		} else {
			d.backlog[0] = nil
			d.backlog = d.backlog[1:]
			d.off = 0
		}
		d.mu.Unlock()
	}
}

func (d *directConn) closeLocked() {
	if !d.closed {
		d.closed = true
		d.backlog = nil
		_ = d.conn.Close()
		if d.release != nil {
			d.release()
		}
	}
}

func (d *directConn) close() {
	d.mu.Lock()
	d.closeLocked()
	d.mu.Unlock()
}

// subscribeDirect registers a hijacked connection. head is written first
// (the HTTP response head), then the frames the browser is missing.
func (h *hub) subscribeDirect(d *directConn, lastID uint64, haveLast bool, head []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	first := h.roomFirstLocked()
	if !d.roomOnly {
		first, d.after = h.firstFramesLocked(lastID, haveLast)
	}
	if !d.send(append([][]byte{head}, first...)...) {
		return false
	}
	d.onClose = h.removeDirect
	d.lastSent.Store(time.Now().UnixNano())
	h.direct[d] = struct{}{}
	h.nsubs.Add(1)
	return true
}

func (h *hub) removeDirect(d *directConn) {
	h.mu.Lock()
	if _, ok := h.direct[d]; ok {
		delete(h.direct, d)
		h.nsubs.Add(-1)
	}
	h.mu.Unlock()
}

// sendDirect offers a frame to every direct connection, on as many workers
// as there are processors, then forgets the connections that closed. Each
// connection costs one non-blocking write of the shared frame; a socket
// that takes only part of it gets the rest from its own queue, so a page
// that stops reading holds back nobody else. A heartbeat skips the
// connections sent a frame in the last half heartbeat interval.
func (h *hub) sendDirect(conns []*directConn, f *frame) {
	if len(conns) == 0 {
		return
	}
	start := time.Now()
	quiet := start.Add(-heartbeatEvery / 2).UnixNano()
	workers := min(runtime.GOMAXPROCS(0), (len(conns)+255)/256)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var gone []*directConn
	chunk := (len(conns) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		part := conns[min(w*chunk, len(conns)):min((w+1)*chunk, len(conns))]
		wg.Go(func() {
			if mine := h.sendPart(part, f, start, quiet); len(mine) > 0 {
				mu.Lock()
				gone = append(gone, mine...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(gone) > 0 {
		h.forgetDirect(gone)
	}
}

// sendPart is one fan-out worker's share: it returns the connections that
// closed.
func (h *hub) sendPart(part []*directConn, f *frame, start time.Time, quiet int64) (gone []*directConn) {
	for _, d := range part {
		if !f.wants(d.roomOnly, d.after) || (f.heartbeat && d.lastSent.Load() > quiet) {
			continue
		}
		if !d.send(f.data) {
			gone = append(gone, d)
			continue
		}
		d.lastSent.Store(start.UnixNano())
		if !f.heartbeat {
			h.m.fanoutDelay.Observe(time.Since(f.at).Seconds())
		}
	}
	return gone
}

// forgetDirect removes closed connections from the hub.
func (h *hub) forgetDirect(gone []*directConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range gone {
		if _, ok := h.direct[d]; ok {
			delete(h.direct, d)
			h.nsubs.Add(-1)
			d.mu.Lock()
			if d.dropped {
				h.m.streamsDropped.Inc()
			}
			d.mu.Unlock()
		}
	}
}
