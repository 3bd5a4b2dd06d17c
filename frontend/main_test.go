package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/testproc"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// boxofficeBin is the binary built from this checkout; tests run its shard
// subcommand as a real process.
var boxofficeBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "boxoffice-frontend-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the module root:", err)
		return 1
	}
	boxofficeBin = filepath.Join(dir, "boxoffice")
	build := exec.Command("go", "build", "-o", boxofficeBin, "./cmd/boxoffice")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/boxoffice failed: %v\n%s", err, out)
		return 1
	}
	if out, _ := exec.Command(boxofficeBin, "shard", "-h").CombinedOutput(); bytes.Contains(out, []byte("unknown command")) {
		fmt.Fprintf(os.Stderr, "the boxoffice binary built from %s has no shard subcommand; the front-end tests need it\n", root)
		return 1
	}
	return m.Run()
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// realShard is a shard process started from the built binary.
type realShard struct {
	t       testing.TB
	dir     string
	addr    string
	token   string
	args    []string
	proc    *testproc.Proc // nil while not running
	logFile *os.File
}

func freeAddr(t testing.TB) string {
	addr, err := testproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func startRealShard(t testing.TB, seatMap string, extra ...string) *realShard {
	t.Helper()
	dir := t.TempDir()
	s := &realShard{t: t, dir: dir, addr: freeAddr(t), token: "shard-test-token-" + randomHex(4)}
	writeFile(t, dir, "seatmap.yaml", seatMap)
	writeFile(t, dir, "token", s.token+"\n")
	s.args = append([]string{"shard", "--showtime", testShowtime, "--seat-map", filepath.Join(dir, "seatmap.yaml"),
		"--data-dir", filepath.Join(dir, "data"), "--listen", s.addr, "--token-file", filepath.Join(dir, "token")}, extra...)
	lf, err := os.Create(filepath.Join(dir, "shard.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.logFile = lf
	s.start()
	t.Cleanup(func() {
		s.kill()
		lf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(lf.Name())
			t.Logf("shard log:\n%s", tail(b, 4000))
		}
	})
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (s *realShard) url() string { return "http://" + s.addr }

func (s *realShard) start() {
	s.t.Helper()
	s.launch()
	s.waitReady()
}

// launch starts the process without waiting for it to be ready (a cluster
// member is ready only once a majority runs).
func (s *realShard) launch() {
	s.t.Helper()
	cmd := exec.Command(boxofficeBin, s.args...)
	cmd.Stdout = s.logFile
	cmd.Stderr = s.logFile
	p, err := testproc.Start(cmd)
	if err != nil {
		s.t.Fatal(err)
	}
	s.proc = p
}

func (s *realShard) waitReady() {
	s.t.Helper()
	err := testproc.Poll{Exited: s.proc.Done()}.WaitHTTPFor(s.url()+"/readyz", http.StatusOK, 20*time.Second)
	if errors.Is(err, testproc.ErrExited) {
		s.t.Fatalf("shard exited before it was ready")
	}
	if err != nil {
		s.t.Fatalf("shard not ready within 20s at %s: %v", s.addr, err)
	}
}

// kill ends the shard with SIGKILL and waits for it.
func (s *realShard) kill() {
	if s.proc == nil {
		return
	}
	s.proc.Kill()
	s.proc = nil
}

// restart starts the shard again on the same address and data.
func (s *realShard) restart() { s.start() }

// counts is the shard's seat counts by state, from /v1/status.
func (s *realShard) counts() map[string]int {
	var st struct {
		Counts map[string]int `json:"counts"`
	}
	s.get("/v1/status", &st)
	return st.Counts
}

func (s *realShard) get(path string, v any) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url()+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.t.Fatal(err)
	}
}

// post writes directly at the shard (as another front-end pod would).
func (s *realShard) post(path string, body any) int {
	s.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.url()+path, bytes.NewReader(j))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

type shardSeats struct {
	Version uint64          `json:"version"`
	Seats   []shardapi.Seat `json:"seats"`
	Counts  map[string]int  `json:"counts"`
}
