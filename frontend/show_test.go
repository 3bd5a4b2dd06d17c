package frontend

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestShowFileIsReadAgain: the show comes from --show-file, wins over the
// flags, follows a change of the file without a restart, and keeps the last
// good show when the file goes bad.
func TestShowFileIsReadAgain(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "show.json", `{"title":"Night 1","startsAt":"2026-12-05T13:00:00Z","venue":"Riverside Hall","timeZone":"Asia/Bangkok"}`)
	cfg := Config{ShowFile: path, Showtime: "venues/a", Show: ShowInfo{Title: "from a flag"}}
	src, err := newShowSource(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := src.get(); got != (ShowInfo{Title: "Night 1", StartsAt: "2026-12-05T13:00:00Z", Venue: "Riverside Hall", TimeZone: "Asia/Bangkok"}) {
		t.Fatalf("show %+v", got)
	}
	rewrite := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Duration(len(content)) * time.Second) // a new modification time
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
		src.mu.Lock()
		src.checked = time.Time{} // as if showRecheck had passed
		src.mu.Unlock()
	}
	rewrite(`{"title":"Night 1 (moved to Friday)"}`)
	if got := src.get(); got.Title != "Night 1 (moved to Friday)" || got.Venue != "" {
		t.Fatalf("after the file changed: %+v", got)
	}
	rewrite(`{"title":`)
	if got := src.get(); got.Title != "Night 1 (moved to Friday)" {
		t.Fatalf("a bad file replaced the show: %+v", got)
	}
	rewrite(`{"startsAt":"Friday"}`)
	if got := src.get(); got.Title != "Night 1 (moved to Friday)" {
		t.Fatalf("an invalid show replaced the show: %+v", got)
	}
	rewrite(`{}`)
	if got := src.get(); got.Title != "venues/a" {
		t.Fatalf("a show without a title is titled %q, want the showtime", got.Title)
	}

	if _, err := newShowSource(Config{ShowFile: dir + "/missing.json"}, testLogger(t)); err == nil || !strings.Contains(err.Error(), "--show-file") {
		t.Fatalf("a missing show file at start: %v", err)
	}
}

// TestSeatsCarryTheShow: /api/seats tells the page about the show.
func TestSeatsCarryTheShow(t *testing.T) {
	fs := newFakeShard(testShowtime, testSeatIDs(t))
	defer fs.Close()
	path := writeFile(t, t.TempDir(), "show.json", `{"title":"Night 1","venue":"Riverside Hall"}`)
	fe := startFrontend(t, fs.URL, fs.Token, func(c *Config) { c.ShowFile = path })
	r := newBuyer(t, fe.url).do("GET", "/api/seats", nil, "")
	var v struct {
		Show ShowInfo `json:"show"`
	}
	if err := json.Unmarshal(r.Body, &v); err != nil || r.Status != http.StatusOK || v.Show != (ShowInfo{Title: "Night 1", Venue: "Riverside Hall"}) {
		t.Fatalf("/api/seats: %d %s", r.Status, r.Body)
	}
}
