//go:build unix

package server

import (
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallBufListener shrinks the send buffer of accepted connections so that a
// client that stops reading blocks the server's writes quickly.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestSlowStreamClientDropped: a client that stops reading is disconnected
// once a write stays blocked longer than the stream write timeout, and its
// memory goes with it.
func TestSlowStreamClientDropped(t *testing.T) {
	var ids []string
	for i := 0; i < 5000; i++ {
		ids = append(ids, fmt.Sprintf("big/R%d/%d", i/500, i%500+1))
	}
	h := start(t, t.TempDir(), func(c *Config) { c.SeatIDs = ids; c.StreamWriteTimeout = 200 * time.Millisecond })
	slow := httptest.NewUnstartedServer(h.srv.Handler())
	slow.Listener = smallBufListener{slow.Listener}
	slow.Start()
	defer slow.Close()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", slow.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", testToken)
	// Never read: the snapshot alone (about 200 KB) fills the buffers.
	deadline := time.Now().Add(20 * time.Second)
	seen := false
	for {
		n := h.srv.hub.clientCount()
		seen = seen || n > 0
		if seen && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a client that does not read is still connected (seen %v)", seen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a := h.do("GET", "/metrics", ""); !strings.Contains(a.body, "boxoffice_shard_stream_clients_dropped_total 1") {
		t.Fatalf("drop not counted")
	}
}
