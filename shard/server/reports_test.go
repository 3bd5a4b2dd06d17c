package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPaidAfterExpiry: a confirm with an order id for a hold that had expired
// (or was released) is answered 409 hold_expired, counted once per hold and
// order id, listed in /v1/status, and still there after a restart, with or
// without snapshots in between.
func TestPaidAfterExpiry(t *testing.T) {
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano())
	dir := t.TempDir()
	h := start(t, dir, func(c *Config) { c.Now = clk.now })
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"a","ttlSeconds":60}`), 201, "")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b"}`), 201, "")
	h.expect(h.do("DELETE", "/v1/holds/h2", ""), 200, "")
	clk.advance(2 * time.Minute)
	h.expect(h.do("POST", "/v1/holds/h1/confirm", `{"orderId":"o-1"}`), 409, "hold_expired")
	h.expect(h.do("POST", "/v1/holds/h1/confirm", `{"orderId":"o-1"}`), 409, "hold_expired")                          // the same payment again
	h.expect(h.do("POST", "/v1/holds/h2/confirm", `{"orderId":"o-2"}`, "Idempotency-Key", "k2"), 409, "hold_expired") // released
	h.expect(h.do("POST", "/v1/holds/h2/confirm", `{"orderId":"o-2"}`, "Idempotency-Key", "k2"), 409, "hold_expired") // replayed
	h.expect(h.do("POST", "/v1/holds/h2/confirm", `{"orderId":"o-3"}`), 409, "hold_expired")                          // another payment
	h.expect(h.do("POST", "/v1/holds/h2/extend", `{}`), 409, "hold_expired")                                          // not a payment
	check := func(when string) {
		t.Helper()
		st := h.expect(h.do("GET", "/v1/status", ""), 200, "")
		late := st["paidAfterExpiry"].([]any)
		if st["paidAfterExpiryTotal"] != 3.0 || len(late) != 3 || st["reportsId"] == "" {
			t.Fatalf("%s: %v %v", when, st["paidAfterExpiryTotal"], late)
		}
		want := [][2]string{{"h1", "o-1"}, {"h2", "o-2"}, {"h2", "o-3"}}
		for i, p := range late {
			p := p.(map[string]any)
			if p["hold"] != want[i][0] || p["orderId"] != want[i][1] || p["seq"] != float64(i+1) || !strings.HasPrefix(p["at"].(string), "2026-11-25T10:02:00") {
				t.Fatalf("%s: case %d = %v", when, i, p)
			}
		}
		if m := h.do("GET", "/metrics", "").body; !strings.Contains(m, "boxoffice_shard_paid_after_expiry_total 3") {
			t.Fatalf("%s: metric", when)
		}
	}
	check("live")
	for _, every := range []uint64{1, 1 << 30} {
		h.stop()
		h = start(t, dir, func(c *Config) { c.Now = clk.now; c.SnapshotEvery = every })
		check("after a restart")
	}
}

// TestDamagedLastRecordReported: a bit flip in the last acknowledged record
// is dropped at start-up but reported: /v1/status logWarnings, the metric, a
// log line that says it may have been acknowledged; the report outlives
// further restarts.
func TestDamagedLastRecordReported(t *testing.T) {
	live := t.TempDir()
	small := func(c *Config) { c.SegmentSize = 1 << 20 }
	h := start(t, live, small)
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"a"}`), 201, "")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b"}`), 201, "")
	// What a crash leaves: the files as they are now (both holds on disk).
	dir := t.TempDir()
	segs, _ := filepath.Glob(filepath.Join(live, "wal-*.log"))
	seg := filepath.Join(dir, filepath.Base(segs[len(segs)-1]))
	b, err := os.ReadFile(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	h.stop()
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	b[end-2] ^= 0x10 // inside the last record (the second hold)
	os.WriteFile(seg, b, 0o644)

	for round := 0; round < 2; round++ {
		h = start(t, dir, small)
		st := h.expect(h.do("GET", "/v1/status", ""), 200, "")
		w := st["logWarnings"].([]any)
		if st["logWarningsTotal"] != 1.0 || len(w) != 1 {
			t.Fatalf("round %d: %v", round, st)
		}
		x := w[0].(map[string]any)
		if x["kind"] != "damaged_last_record" || x["file"] != filepath.Base(seg) || !strings.Contains(x["message"].(string), "may have been acknowledged") {
			t.Fatalf("round %d: warning %v", round, x)
		}
		if m := h.do("GET", "/metrics", "").body; !strings.Contains(m, "boxoffice_shard_wal_damaged_records_total 1") {
			t.Fatalf("round %d: metric", round)
		}
		if st["counts"].(map[string]any)["held"] != 1.0 {
			t.Fatalf("round %d: the damaged hold was replayed? %v", round, st["counts"])
		}
		h.stop()
	}
}
