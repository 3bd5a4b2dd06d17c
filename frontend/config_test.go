package frontend

import (
	"io"
	"strconv"
	"strings"
	"testing"

	"boxoffice.dev/boxoffice/shard/seats"
)

// The operator generates 32 random bytes (43 characters of base64); --help
// and the README say "at least 32 bytes", and that is what is enforced.
func TestSessionKeyAtLeast32Bytes(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.ShardURL = "http://127.0.0.1:1"
	cfg.Showtime = testShowtime
	cfg.DemoPayments = true
	cfg.SessionKeyFile = writeFile(t, dir, "short", " 0123456789abcdef0123456789abcde\n") // 31 bytes
	if _, err := New(cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "at least 32 needed") {
		t.Fatalf("31-byte session key: err %v, want it refused", err)
	}
	cfg.SessionKeyFile = writeFile(t, dir, "ok", "0123456789abcdef0123456789abcdef\n")
	if _, err := New(cfg, testLogger(t)); err != nil {
		t.Fatalf("32-byte session key: %v", err)
	}
}

func TestShowFlags(t *testing.T) {
	base := []string{"--shard-url=http://shard:7070", "--session-key-file=/k", "--showtime=venues/a", "--demo-payments"}
	cfg, err := ParseFlags(append(base, "--title=Stand-up 10, night 1", "--starts-at=2026-12-05T13:00:00Z",
		"--venue=Riverside Hall, Bangkok", "--time-zone=Asia/Bangkok"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := ShowInfo{Title: "Stand-up 10, night 1", StartsAt: "2026-12-05T13:00:00Z", Venue: "Riverside Hall, Bangkok", TimeZone: "Asia/Bangkok"}
	if cfg.Show != want {
		t.Fatalf("show %+v, want %+v", cfg.Show, want)
	}
	for flag, msg := range map[string]string{
		"--starts-at=5 December": "--starts-at \"5 December\" must be an RFC 3339 time",
		"--time-zone=+07:00":     "--time-zone \"+07:00\" must be an IANA time zone name",
	} {
		if _, err := ParseFlags(append(base, flag), io.Discard); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", flag, err, msg)
		}
	}
	thai := strings.Repeat("ก", 200) // 200 characters, 600 bytes: what the CRD allows
	if _, err := ParseFlags(append(base, "--title="+thai, "--venue="+thai), io.Discard); err != nil {
		t.Fatalf("a 200-character title: %v", err)
	}
	if _, err := ParseFlags(append(base, "--title="+thai+"ก"), io.Discard); err == nil || !strings.Contains(err.Error(), "at most 200 characters") {
		t.Fatalf("a 201-character title: %v", err)
	}
	if got := (ShowInfo{}).withDefaults("venues/a"); got.Title != "venues/a" {
		t.Fatalf("without --title the page is titled %q", got.Title)
	}
}

// The most seats a hold may name is the seat rules' documented limit
// (seats.MaxSeatsPerHold), not a number of the front end's own.
func TestMaxSeatsPerHolderIsTheSeatRulesLimit(t *testing.T) {
	base := []string{"--shard-url=http://shard:7070", "--session-key-file=/k", "--showtime=venues/a", "--demo-payments", "--client-seats=0"}
	if _, err := ParseFlags(append(base, "--max-seats-per-holder="+strconv.Itoa(seats.MaxSeatsPerHold)), io.Discard); err != nil {
		t.Fatalf("--max-seats-per-holder=%d: %v", seats.MaxSeatsPerHold, err)
	}
	_, err := ParseFlags(append(base, "--max-seats-per-holder="+strconv.Itoa(seats.MaxSeatsPerHold+1)), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "between 1 and "+strconv.Itoa(seats.MaxSeatsPerHold)) {
		t.Fatalf("--max-seats-per-holder=%d: %v", seats.MaxSeatsPerHold+1, err)
	}
}
