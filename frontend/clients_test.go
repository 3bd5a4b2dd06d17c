package frontend

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// TestStreamsCappedPerClient: one address gets --max-client-streams event
// streams and 429 beyond (before, 500 streams from one address all
// succeeded); a closed stream gives its slot back.
func TestStreamsCappedPerClient(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.MaxClientStreams = 8 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var open []*http.Response
	refused := 0
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", fe.url+"/api/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			open = append(open, resp)
		case http.StatusTooManyRequests:
			refused++
			resp.Body.Close()
		default:
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
	}
	if len(open) != 8 || refused != 42 {
		t.Fatalf("50 streams from one address: %d open, %d refused; want 8 and 42", len(open), refused)
	}
	if n := testutilCounter(t, fe, "boxoffice_frontend_requests_refused_total"); n != 42 {
		t.Fatalf("requests_refused_total = %v, want 42", n)
	}
	for _, r := range open {
		r.Body.Close()
	}
	// A stream the hub writes to directly notices the close on its next
	// writes: make seat changes until the slots are free again.
	b := newBuyer(t, fe.url)
	waitUntil(t, 15*time.Second, "closed streams to give their slots back", func() bool {
		h := b.hold("stalls/D/9").hold(t)
		mustStatus(t, b.do("DELETE", "/api/holds/"+h.ID, nil, ""), 200, "release")
		time.Sleep(150 * time.Millisecond)
		return fe.s.streams.open("127.0.0.1") == 0
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", fe.url+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream after the others closed: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestSlowClientsDoNotPinGoroutines: 300 clients on loopback that send a
// request head and part of a body, then nothing, hold a goroutine each only
// until --read-timeout; 300 that never finish their request head, until the
// head timeout. Before, they held them for 30 s or more.
func TestSlowClientsDoNotPinGoroutines(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.ReadTimeout = time.Second; c.WriteTimeout = time.Second })
	srv := fe.s.HTTPServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := runtime.NumGoroutine()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 600; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		msg := "POST /api/holds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"seats\":["
		if i%2 == 1 {
			msg = "GET /api/seats HTTP/1.1\r\nHost: x\r\n"
		}
		if _, err := fmt.Fprint(c, msg); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, "the server to take the connections", func() bool { return runtime.NumGoroutine() >= base+500 })
	start := time.Now()
	waitUntil(t, 15*time.Second, "slow clients' goroutines to end", func() bool { return runtime.NumGoroutine() <= base+20 })
	t.Logf("600 slow clients: goroutines back to %d (base %d) %v after they were all taken", runtime.NumGoroutine(), base, time.Since(start).Round(100*time.Millisecond))
}
