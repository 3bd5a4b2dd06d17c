package dev

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseImages(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "boxoffice")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := ParseImages([]string{"boxoffice:dev=" + bin, "boxoffice:next=" + bin})
	if err != nil || len(got) != 2 || got["boxoffice:dev"] != bin || got["boxoffice:next"] != bin {
		t.Errorf("ParseImages = %v, %v", got, err)
	}
	for flag, want := range map[string]string{
		"boxoffice:dev":                       "want IMAGE=BINARY",
		"=" + bin:                             "want IMAGE=BINARY",
		"boxoffice:dev=":                      "want IMAGE=BINARY",
		"boxoffice:dev=" + bin + ".not-there": "no such file",
	} {
		if _, err := ParseImages([]string{flag}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--image %q: %v; want an error saying %q", flag, err, want)
		}
	}
}

func TestHasFlag(t *testing.T) {
	help := `Usage of manager:
  -enable-webhooks
    	Serve the admission webhooks. (default true)
  -webhook-port int
    	Port of the webhook server.
  --break-glass-groups string
`
	for name, want := range map[string]bool{
		"-enable-webhooks": true, "-webhook-port": true, "-break-glass-groups": true,
		"-webhook-cert-dir": false, "-enable": false,
	} {
		if got := hasFlag(help, name); got != want {
			t.Errorf("hasFlag(%q) = %v, want %v", name, got, want)
		}
	}
}
