package frontend

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// TestHubFansRoomSummaryOutOnArrival: a room summary goes to the waiting
// pages when it arrives, not at the pod's next coalescing tick (here an
// hour away).
func TestHubFansRoomSummaryOutOnArrival(t *testing.T) {
	h := newHub(testLogger(t), newMetrics(func() float64 { return 0 }), time.Hour, 16, nil)
	stop := make(chan struct{})
	defer close(stop)
	go h.run(stop)
	sub, _ := h.subscribe(0, false, true)
	for _, head := range []string{"1", "2"} {
		if err := h.applyRoom([]byte(`{"configured":true,"open":true,"head":`+head+`}`), time.Now()); err != nil {
			t.Fatal(err)
		}
		select {
		case f := <-sub.ch:
			if !f.room || !bytes.Contains(f.data, []byte(`"head":`+head)) {
				t.Fatalf("room stream got %q", f.data)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("summary %s not fanned out (the coalescing tick is an hour)", head)
		}
	}
}

// directPair is a direct connection registered with h and the browser's
// end of it.
func directPair(t *testing.T, h *hub, roomOnly bool, max int) (*directConn, *net.TCPConn) {
	t.Helper()
	srv, cli := tcpPair(t)
	d, ok := newDirectConn(srv, max)
	if !ok {
		t.Fatal("TCP conn not usable for direct writes")
	}
	d.roomOnly = roomOnly
	if !h.subscribeDirect(d, 0, false, []byte("HEAD\n\n")) {
		t.Fatal("subscribeDirect refused the connection")
	}
	return d, cli
}

// readFrames reads n SSE frames (blank-line terminated) from r.
func readFrames(t *testing.T, c net.Conn, r *bufio.Reader, n int) []string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []string
	var cur strings.Builder
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		cur.WriteString(line)
		if line == "\n" {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	return out
}

// TestHeartbeatGoesToIdleStreamsOnly: a heartbeat reaches the streams that
// were sent nothing lately and skips those that just got a frame, on both
// kinds of stream (direct connections and goroutine-pumped ones).
func TestHeartbeatGoesToIdleStreamsOnly(t *testing.T) {
	if !directWrites {
		t.Skip("direct writes are Unix-only")
	}
	h := newHub(testLogger(t), newMetrics(func() float64 { return 0 }), time.Hour, 16, nil)
	now := time.Now()
	busy, busyCli := directPair(t, h, true, 100)
	idle, idleCli := directPair(t, h, true, 100)
	busy.lastSent.Store(now.Add(-time.Second).UnixNano())
	idle.lastSent.Store(now.Add(-heartbeatEvery).UnixNano())
	busySub, _ := h.subscribe(0, false, true)
	idleSub, _ := h.subscribe(0, false, true)
	busySub.lastSent, idleSub.lastSent = now.Add(-time.Second), now.Add(-heartbeatEvery)

	h.heartbeat(now)
	if err := h.applyRoom([]byte(`{"configured":true}`), now); err != nil {
		t.Fatal(err)
	}
	h.flushRoom()

	if len(busySub.ch) != 1 || len(idleSub.ch) != 2 {
		t.Fatalf("pumped streams: busy got %d frames, idle %d; want 1 (the summary) and 2", len(busySub.ch), len(idleSub.ch))
	}
	if f := <-idleSub.ch; !f.heartbeat {
		t.Fatalf("idle pumped stream's first frame %q, want the heartbeat", f.data)
	}
	for _, c := range []struct {
		name string
		cli  *net.TCPConn
		want []string
	}{
		{"busy", busyCli, []string{"HEAD\n\n", "event: room\ndata: {\"configured\":true}\n\n"}},
		{"idle", idleCli, []string{"HEAD\n\n", ": keep-alive\n\n", "event: room\ndata: {\"configured\":true}\n\n"}},
	} {
		got := readFrames(t, c.cli, bufio.NewReader(c.cli), len(c.want))
		for i := range c.want {
			if got[i] != c.want[i] {
				t.Errorf("%s direct stream: frames %q, want %q", c.name, got, c.want)
				break
			}
		}
	}
}

// TestSendDirectStalledStreamHoldsNobodyBack: one page stops reading with a
// full socket; a fan-out still returns at once and every other connection
// receives the frame, while the stalled one keeps it queued.
func TestSendDirectStalledStreamHoldsNobodyBack(t *testing.T) {
	if !directWrites {
		t.Skip("direct writes are Unix-only")
	}
	h := newHub(testLogger(t), newMetrics(func() float64 { return 0 }), time.Hour, 16, nil)
	stalled, stalledCli := directPair(t, h, true, 1000)
	_ = stalledCli.SetReadBuffer(4096)
	filler := bytes.Repeat([]byte("x"), 64<<10)
	for i := 0; i < 100; i++ { // fill the socket until the rest is queued
		stalled.send(filler)
		stalled.mu.Lock()
		queued := len(stalled.backlog) > 0
		stalled.mu.Unlock()
		if queued {
			break
		}
	}
	type page struct {
		c *net.TCPConn
		r *bufio.Reader
	}
	var pages []page
	for range 40 {
		_, cli := directPair(t, h, true, 100)
		p := page{cli, bufio.NewReader(cli)}
		readFrames(t, p.c, p.r, 1) // the head
		pages = append(pages, p)
	}
	if err := h.applyRoom([]byte(`{"configured":true,"admitted":7}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { h.flushRoom(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the fan-out waited for the stalled page")
	}
	for i, p := range pages {
		if got := readFrames(t, p.c, p.r, 1)[0]; got != "event: room\ndata: {\"configured\":true,\"admitted\":7}\n\n" {
			t.Fatalf("page %d got %q", i, got)
		}
	}
	stalled.mu.Lock()
	last := stalled.backlog[len(stalled.backlog)-1]
	closed := stalled.closed
	stalled.mu.Unlock()
	if closed || !bytes.Contains(last, []byte(`"admitted":7`)) {
		t.Fatalf("stalled page: closed=%v, last queued %q; want it open with the summary queued", closed, last[:min(len(last), 40)])
	}
}
