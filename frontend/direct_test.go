package frontend

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func TestDirectConnDropsAStalledBrowser(t *testing.T) {
	if !directWrites {
		t.Skip("direct writes are Unix-only")
	}
	h := newHub(testLogger(t), newMetrics(func() float64 { return 0 }), time.Hour, 3, nil)
	srv, cli := tcpPair(t)
	_ = srv.SetWriteBuffer(4096)
	_ = cli.SetReadBuffer(4096)
	d, ok := newDirectConn(srv, 3)
	if !ok {
		t.Fatal("TCP conn not usable for direct writes")
	}
	h.mu.Lock()
	h.direct[d] = struct{}{}
	h.nsubs.Add(1)
	d.onClose = h.removeDirect
	h.mu.Unlock()
	big := &frame{version: 1, data: bytes.Repeat([]byte("x"), 256<<10), at: time.Now()}
	// The browser reads nothing: after a few frames the queue passes its budget.
	for i := 0; i < 10 && h.subscribers() > 0; i++ {
		h.sendDirect([]*directConn{d}, big)
	}
	if h.subscribers() != 0 {
		t.Fatal("stalled browser still subscribed after 10 large frames")
	}
	d.mu.Lock()
	dropped, closed := d.dropped, d.closed
	d.mu.Unlock()
	if !dropped || !closed {
		t.Fatalf("dropped=%v closed=%v", dropped, closed)
	}
}

func TestDirectConnKeepsOrderThroughItsQueue(t *testing.T) {
	if !directWrites {
		t.Skip("direct writes are Unix-only")
	}
	srv, cli := tcpPair(t)
	_ = srv.SetWriteBuffer(8192)
	d, _ := newDirectConn(srv, 10000)
	var want bytes.Buffer
	done := make(chan []byte)
	go func() {
		var got bytes.Buffer
		buf := make([]byte, 3000)
		for {
			time.Sleep(100 * time.Microsecond) // a slowish reader
			n, err := cli.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				done <- got.Bytes()
				return
			}
		}
	}()
	for i := 0; i < 300; i++ {
		f := []byte(fmt.Sprintf("id: %d\n%s\n\n", i, bytes.Repeat([]byte{byte('a' + i%26)}, 5000)))
		want.Write(f)
		if !d.send(f) {
			t.Fatalf("send %d failed", i)
		}
	}
	// Wait for the queue to drain, then close.
	deadline := time.Now().Add(20 * time.Second)
	for {
		d.mu.Lock()
		empty := len(d.backlog) == 0 && !d.flushing
		d.mu.Unlock()
		if empty {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("queue did not drain")
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.close()
	got := <-done
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("received %d bytes, sent %d; streams differ", len(got), want.Len())
	}
}
