package frontend

import (
	"strings"
	"testing"
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
