//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSSEParserAcrossReads: events split anywhere across reads are parsed
// whole and timed by the read that completed them; an overlong line (a
// snapshot) is skipped without losing the events around it.
func TestSSEParserAcrossReads(t *testing.T) {
	text := "retry: 1000\n\nevent: room\ndata: {\"admitted\":3}\n\n" +
		"id: 7\nevent: snapshot\ndata: " + strings.Repeat("x", 3*maxLine) + "\n\n" +
		"id: 8\r\nevent: seats\r\ndata: {}\r\n\r\n"
	for _, step := range []int{1, 7, 100, len(text)} {
		var p sseParser
		type got struct {
			event string
			id    uint64
			data  string
			at    int64
		}
		var evs []got
		for off, at := 0, int64(1); off < len(text); off, at = off+step, at+1 {
			p.feed([]byte(text[off:min(off+step, len(text))]), at, func(e string, id uint64, d []byte, now int64) {
				evs = append(evs, got{e, id, string(d), now})
			})
		}
		if len(evs) != 3 || evs[0] != (got{"room", 0, `{"admitted":3}`, evs[0].at}) ||
			evs[1].event != "snapshot" || evs[1].id != 7 || evs[1].data != "" || evs[2].event != "seats" || evs[2].id != 8 {
			t.Fatalf("step %d: %d events, first %+v", step, len(evs), evs[0])
		}
		if end := int64((strings.Index(text, "{\"admitted\":3}\n\n")+15)/step + 1); evs[0].at != end {
			t.Errorf("step %d: room event timed at read %d, want %d (the read that completed it)", step, evs[0].at, end)
		}
		if p.last != 8 {
			t.Errorf("step %d: last id %d, want 8", step, p.last)
		}
	}
}

// TestEpollClientsReadEveryStreamAndResume: streams on an SSE server each
// see every room event, and a stream the server closes comes back with its
// Last-Event-ID and sees the events after it.
func TestEpollClientsReadEveryStreamAndResume(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var lastIDs []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: 5\nevent: seats\ndata: {}\n\n")
		_ = rw.Flush()
		mu.Lock()
		conns, lastIDs = append(conns, c), append(lastIDs, r.Header.Get("Last-Event-ID"))
		mu.Unlock()
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	const n = 6
	adm := newAdmissionLog(2)
	adm.admitted[0], adm.admitted[1] = 10, 11
	adm.n.Store(2)
	ctx, cancel := context.WithCancel(context.Background())
	streams, stop, err := openStreams(ctx, clientsOptions{fes: []string{l.Addr().String()}, versions: []uint64{4},
		n: n, admissions: 2, addrs: 2, path: "/api/room/events?lastEventId="}, adm)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); stop() }()
	// Wait (bounded) until each accepted connection was registered.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("connections", func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) == n })
	mu.Lock()
	for _, c := range conns[:n-1] {
		_, _ = c.Write([]byte("event: room\ndata: {\"admitted\":10}\n\n"))
	}
	_ = conns[n-1].Close() // this one drops; it resumes after id 5
	mu.Unlock()
	waitFor("the dropped stream to resume", func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) == n+1 })
	mu.Lock()
	if lastIDs[n] != "5" {
		t.Errorf("resumed with Last-Event-ID %q, want 5", lastIDs[n])
	}
	_, _ = conns[n].Write([]byte("event: room\ndata: {\"admitted\":10}\n\n"))
	for _, c := range conns[:n-1] {
		w := bufio.NewWriter(c)
		_, _ = w.WriteString("event: ro")
		_ = w.Flush()
		_, _ = c.Write([]byte("om\ndata: {\"admitted\":11}\n\n"))
	}
	_, _ = conns[n].Write([]byte("event: room\ndata: {\"admitted\":11}\n\n"))
	mu.Unlock()
	// Each stream: the first seats event and two room events; the resumed
	// one its seats event again.
	waitFor("every event", func() bool { return adm.events.Load() >= 3*n+1 })
	cancel()
	stop()
	for i, s := range streams {
		if s.roomAt[0] == 0 || s.roomAt[1] == 0 || s.roomAt[1] < s.roomAt[0] {
			t.Errorf("stream %d: room events at %v, want both admissions in order", i, s.roomAt)
		}
	}
}
