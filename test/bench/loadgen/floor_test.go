package main

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// TestMain lets startFloor start this test binary as a floor server, as it
// starts the loadgen binary in a benchmark.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "floor-serve" {
		if err := cmdFloorServe(os.Args[2:]); err != nil {
			os.Stderr.WriteString("floor-serve: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The floor answers the generator's batching client as a shard would (a
// hold id for each hold, confirm and release done) once the batch is in
// its log, and refuses what a shard refuses.
func TestFloorServerAnswersAfterLogging(t *testing.T) {
	dir := t.TempDir()
	fs, err := newFloorServer(dir, "tok", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	hs := httptest.NewServer(fs)
	defer hs.Close()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("tok\n"), 0o600)
	b, err := newShardBackend(hs.URL, tok, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.useBatch(8, 1)
	ctx := context.Background()
	id1, conflict, err := b.Hold(ctx, "buyer-1", []string{"stalls/A/1", `odd "seat"`})
	if err != nil || conflict || id1 == "" {
		t.Fatalf("hold: id %q conflict %v err %v", id1, conflict, err)
	}
	id2, _, err := b.Hold(ctx, "buyer-2", []string{"stalls/A/1"})
	if err != nil || id2 == id1 {
		t.Fatalf("second hold: id %q (first %q) err %v", id2, id1, err)
	}
	if err := b.Confirm(ctx, id1, nil, "order-1"); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if err := b.Release(ctx, id2, nil); err != nil {
		t.Fatalf("release: %v", err)
	}

	// The first batch's body is the log's first record.
	data, err := os.ReadFile(filepath.Join(dir, "floor.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 4096 {
		t.Fatalf("log is %d bytes, want the 4096 reserved", len(data))
	}
	n := binary.LittleEndian.Uint32(data)
	rec := string(data[4 : 4+n])
	if !strings.Contains(rec, `"holder":"buyer-1"`) || !strings.Contains(rec, `"op":"hold"`) {
		t.Fatalf("first record is not the first batch: %q", rec)
	}

	for _, c := range []struct {
		name, method, path, auth, body string
		status                         int
		code                           shardapi.Code
	}{
		{"no token", "POST", shardapi.PathBatch, "", `{"ops":[{"op":"release","hold":"f1"}]}`, 401, shardapi.CodeUnauthorized},
		{"wrong token", "POST", shardapi.PathBatch, "Bearer nope", `{"ops":[{"op":"release","hold":"f1"}]}`, 401, shardapi.CodeUnauthorized},
		{"other path", "GET", "/v1/seats", "Bearer tok", "", 404, shardapi.CodeNotFound},
		{"not JSON", "POST", shardapi.PathBatch, "Bearer tok", `{"ops":`, 400, shardapi.CodeInvalidRequest},
		{"no ops", "POST", shardapi.PathBatch, "Bearer tok", `{"ops":[]}`, 400, shardapi.CodeInvalidRequest},
		{"too large", "POST", shardapi.PathBatch, "Bearer tok", `{"ops":[{"op":"hold","holder":"` + strings.Repeat("x", shardapi.MaxBatchBytes) + `"}]}`, 413, shardapi.CodePayloadTooLarge},
	} {
		req, _ := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(c.body))
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		a := shardapi.Answer{Status: resp.StatusCode}
		a.Body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		var e *shardapi.Error
		if resp.StatusCode != c.status || !errors.As(a.Err(), &e) || e.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, a.Body, c.status, c.code)
		}
	}

	// An operation the floor does not take gets its own refusal; the others
	// in the batch are still answered.
	res, err := b.sendBatch(ctx, []shardapi.BatchOp{{Op: shardapi.BatchGet, Hold: "f1"}, {Op: shardapi.BatchRelease, Hold: "f1"}})
	if err != nil || len(res) != 2 || res[0].Status != 400 || res[1].Status != 200 {
		t.Fatalf("mixed batch: %+v, %v", res, err)
	}
}

// The log wraps around at its reserved end instead of growing.
func TestFloorServerLogWraps(t *testing.T) {
	fs, err := newFloorServer(t.TempDir(), "tok", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	body := []byte(strings.Repeat("b", 396)) // 400-byte records
	var offs []int64
	for i := range 4 {
		first, err := fs.write(body, 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(2*i + 1); first != want {
			t.Fatalf("write %d: first id %d, want %d", i, first, want)
		}
		offs = append(offs, fs.off)
	}
	if want := []int64{400, 800, 400, 800}; !slices.Equal(offs, want) {
		t.Fatalf("offsets after each write %v, want %v", offs, want)
	}
	if st, _ := fs.log.Stat(); st.Size() != 1000 {
		t.Fatalf("log grew to %d bytes", st.Size())
	}
}

// startFloor starts a floor server process the generator can drive, and
// SIGTERM ends it cleanly.
func TestStartFloorProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fp, url, tok, err := startFloor(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newShardBackend(url, tok, 1)
	if err != nil {
		fp.Kill()
		t.Fatal(err)
	}
	b.useBatch(4, 1)
	id, _, err := b.Hold(ctx, "buyer", []string{"stalls/A/1"})
	b.Close()
	_, clean := fp.Stop(10 * time.Second)
	if err != nil || id == "" {
		t.Fatalf("hold through the floor process: %q, %v", id, err)
	}
	if !clean || fp.Err() != nil {
		t.Fatalf("floor server did not exit cleanly on SIGTERM: %v", fp.Err())
	}
}
