package shard

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// --pprof-listen serves Go's profiles on their own address; a bad address
// stops the start with the flag's name.
func TestPprofListen(t *testing.T) {
	o, err := ParseFlags([]string{"--showtime", "a/b", "--seat-map", "m", "--data-dir", "d", "--auth", "none",
		"--pprof-listen", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil || o.PprofListen != "127.0.0.1:0" {
		t.Fatalf("--pprof-listen: %+v %v", o, err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, stop, err := servePprof(o.PprofListen, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "profile") {
		t.Fatalf("GET /debug/pprof/: %d %.200s", resp.StatusCode, body)
	}
	if _, _, err := servePprof(addr, log); err == nil || !strings.Contains(err.Error(), "--pprof-listen") {
		t.Fatalf("an address in use: %v", err)
	}
}
