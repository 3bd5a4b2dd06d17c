package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/testvol"
)

// stallableDisk is a fsync that blocks while stalled, as a disk that stops
// answering does (a write stuck in the kernel looks the same to the shard:
// the fsync does not return).
type stallableDisk struct {
	stalled atomic.Bool
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

// unstall lets blocked and later fsyncs through.
func (d *stallableDisk) unstall() {
	d.stalled.Store(false)
	d.once.Do(func() { close(d.release) })
}

func newStallableDisk() *stallableDisk {
	return &stallableDisk{release: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (d *stallableDisk) sync(f *os.File) error {
	if d.stalled.Load() {
		select {
		case d.entered <- struct{}{}:
		default:
		}
		<-d.release
	}
	return f.Sync()
}

// waitFor polls cond every 10 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *harness) readyz() (int, string) {
	h.t.Helper()
	resp, err := http.Get(h.http.URL + "/readyz")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStalledDisk: while a group's fsync does not return, /readyz is 503 and
// new writes are refused (reads are served); a commit slower than the HTTP
// write timeout is still answered, with its true result, once the disk
// answers; a client that gave up learns the result with its Idempotency-Key.
func TestStalledDisk(t *testing.T) {
	disk := newStallableDisk()
	h := start(t, t.TempDir(), func(c *Config) { c.SyncData = disk.sync; c.StallTimeout = 200 * time.Millisecond })
	// The production server's write timeout, scaled down: the commit below
	// takes longer than it.
	h.http.Close()
	ts := httptest.NewUnstartedServer(h.srv.Handler())
	ts.Config = NewHTTPServer(h.srv.Handler(), h.srv.log)
	ts.Config.WriteTimeout = 300 * time.Millisecond
	ts.Config.ReadTimeout = 300 * time.Millisecond
	ts.Start()
	h.http = ts
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"a"}`), 201, "")

	disk.stalled.Store(true)
	t.Cleanup(disk.unstall) // registered after the harness's: runs before it stops
	type result struct {
		a   answer
		err error
	}
	post := func(ctx context.Context, body, key string) result {
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/holds", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return result{answer{resp.StatusCode, string(b), resp.Header}, err}
	}
	// One client waits as long as it takes. (No Idempotency-Key: with one,
	// Go's transport would retry a dropped answer by itself and hide it.)
	waiting := make(chan result, 1)
	go func() { waiting <- post(context.Background(), `{"seats":["stalls/B/1"],"holder":"b"}`, "") }()
	// Another gives up before the disk answers.
	gaveUp := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		gaveUp <- post(ctx, `{"seats":["stalls/B/2"],"holder":"b2"}`, "k-gave-up")
	}()
	<-disk.entered
	if r := <-gaveUp; r.err == nil {
		t.Fatalf("the impatient client got an answer during the stall: %d %s", r.a.status, r.a.body)
	}
	waitFor(t, "/readyz to fall", func() bool { c, _ := h.readyz(); return c == 503 })
	if _, body := h.readyz(); !strings.Contains(body, "stalled") {
		t.Fatalf("/readyz does not say why: %q", body)
	}
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/C/1"],"holder":"c"}`), 503, "not_ready")
	st := h.expect(h.do("GET", "/v1/status", ""), 200, "")
	if st["ready"] != false || st["logWriteStalledSeconds"].(float64) <= 0 || !strings.Contains(st["notReadyReason"].(string), "stalled") {
		t.Fatalf("status during a stall: %v", st)
	}
	if m := h.do("GET", "/metrics", "").body; !strings.Contains(m, "boxoffice_shard_wal_write_stalled 1") || !strings.Contains(m, "boxoffice_shard_ready 0") {
		t.Fatal("metrics do not show the stall")
	}
	time.Sleep(2 * ts.Config.WriteTimeout) // the commit is now slower than the write timeout
	disk.unstall()

	r := <-waiting
	if r.err != nil {
		t.Fatalf("the answer of a slow commit was dropped: %v", r.err)
	}
	if hold := h.expect(r.a, 201, ""); hold["holder"] != "b" {
		t.Fatalf("late answer %v", hold)
	}
	waitFor(t, "/readyz to recover", func() bool { c, _ := h.readyz(); return c == 200 })
	// The client that gave up learns the truth with its key: its hold was made.
	again := h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/B/2"],"holder":"b2"}`, "Idempotency-Key", "k-gave-up"), 201, "")
	if again["holder"] != "b2" || again["state"] != "held" {
		t.Fatalf("retry with the key: %v", again)
	}
	seatsNow := h.expect(h.do("GET", "/v1/seats", ""), 200, "")
	if seatsNow["counts"].(map[string]any)["held"] != 3.0 {
		t.Fatalf("counts after the stall: %v", seatsNow["counts"])
	}
}

// TestVolumeFull: a data volume below MinFreeBytes refuses writes (503
// not_ready, /readyz 503) while reads are served, reports the free space,
// and takes writes again once space is freed.
func TestVolumeFull(t *testing.T) {
	mnt := testvol.Small(t, 32<<20)
	h := start(t, filepath.Join(mnt, "data"), func(c *Config) {
		c.SegmentSize = 4 << 20
		c.MinFreeBytes = 4 << 20
		c.SpaceCheckInterval = 20 * time.Millisecond
	})
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"a"}`), 201, "")
	if c, body := h.readyz(); c != 200 || strings.Contains(body, "low") {
		t.Fatalf("/readyz with space: %d %q", c, body)
	}
	filler := testvol.Fill(t, mnt, 6<<20) // below two segments: low
	waitFor(t, "low space", func() bool { _, body := h.readyz(); return strings.Contains(body, "low on space") })
	if c, _ := h.readyz(); c != 200 {
		t.Fatalf("low (not full) space made the shard unready: %d", c)
	}
	if m := h.do("GET", "/metrics", "").body; !strings.Contains(m, "boxoffice_shard_volume_low 1") {
		t.Fatal("volume_low not 1")
	}
	os.Remove(filler)
	filler = testvol.Fill(t, mnt, 1<<20) // below MinFreeBytes: full
	waitFor(t, "/readyz to fall", func() bool { c, _ := h.readyz(); return c == 503 })
	if _, body := h.readyz(); !strings.Contains(body, "full") {
		t.Fatalf("/readyz does not say why: %q", body)
	}
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b"}`), 503, "not_ready")
	h.expect(h.do("GET", "/v1/seats", ""), 200, "")
	st := h.expect(h.do("GET", "/v1/status", ""), 200, "")
	if free := st["volumeFreeBytes"].(float64); free <= 0 || free >= 4<<20 || st["volumeLow"] != true {
		t.Fatalf("status: %v", st)
	}
	if m := h.do("GET", "/metrics", "").body; !strings.Contains(m, "boxoffice_shard_volume_full 1") {
		t.Fatal("volume_full not 1")
	}
	os.Remove(filler)
	waitFor(t, "/readyz to recover", func() bool { c, _ := h.readyz(); return c == 200 })
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b"}`), 201, "")
}

// TestFinalSnapshotFailureReported: when the final snapshot cannot be written
// (the volume filled up), Close fails instead of reporting a clean stop, and
// the next start replays the log.
func TestFinalSnapshotFailureReported(t *testing.T) {
	mnt := testvol.Small(t, 32<<20)
	dir := filepath.Join(mnt, "data")
	h := start(t, dir, func(c *Config) { c.SegmentSize = 4 << 20 })
	for _, seat := range []string{"stalls/A/1", "stalls/A/2", "stalls/A/3"} {
		h.expect(h.do("POST", "/v1/holds", `{"seats":["`+seat+`"],"holder":"`+seat+`"}`), 201, "")
	}
	filler := testvol.Fill(t, mnt, 0)
	h.srv.BeginShutdown()
	h.http.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := h.srv.Close(ctx)
	h.http = nil
	if err == nil || !strings.Contains(err.Error(), "final snapshot") {
		t.Fatalf("Close with a full volume: %v", err)
	}
	os.Remove(filler)
	h = start(t, dir, nil)
	st := h.expect(h.do("GET", "/v1/status", ""), 200, "")
	if st["counts"].(map[string]any)["held"] != 3.0 {
		t.Fatalf("after the failed stop: %v", st["counts"])
	}
}
