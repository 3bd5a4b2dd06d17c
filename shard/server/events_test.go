package server

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// readComment reads lines up to the first SSE comment line (": ...") and
// returns it, or "" if the stream ends first.
func readComment(r *bufio.Reader) string {
	for i := 0; i < 1000; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return ""
		}
		if strings.HasPrefix(line, ": ") {
			return strings.TrimRight(line, "\n")
		}
	}
	return ""
}

// An idle stream sends keep-alive comments, and a resumed stream says so in a
// comment instead of sending a snapshot.
func TestEventsKeepAliveAndResumeComment(t *testing.T) {
	// Restored after the harness's own cleanup has stopped the server.
	old := heartbeatEvery
	t.Cleanup(func() { heartbeatEvery = old })
	heartbeatEvery = 20 * time.Millisecond
	h := start(t, t.TempDir(), nil)

	r, closeStream := h.stream("")
	stop := time.AfterFunc(10*time.Second, closeStream) // bounds the reads below
	if ev := readEvents(t, r, 1); ev[0].event != "snapshot" {
		t.Fatalf("first event %+v", ev[0])
	}
	if c := readComment(r); c != ": ping" {
		t.Fatalf("idle stream: got %q, want a keep-alive", c)
	}
	stop.Stop()
	closeStream()

	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"a"}`), 201, "")
	r, closeStream = h.stream("1")
	defer closeStream()
	time.AfterFunc(10*time.Second, closeStream)
	if c := readComment(r); c != ": resumed" {
		t.Fatalf("resumed stream: got %q first, want the resumed comment", c)
	}
}
