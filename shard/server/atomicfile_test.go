package server

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileDurablyReplacesAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for _, want := range []string{"first", "second"} {
		if err := writeFileDurably(p, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Fatalf("read %q, %v; want %q", b, err, want)
		}
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	// Renaming a file over a directory fails: the old content stays and the
	// temporary file goes.
	d := filepath.Join(dir, "taken")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileDurably(d, []byte("x"), 0o644); err == nil {
		t.Fatal("replaced a directory")
	}
	if _, err := os.Stat(d + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left after a failure: %v", err)
	}
}

func TestBearerOK(t *testing.T) {
	for _, c := range []struct {
		token, header string
		want          bool
	}{
		{"", "", true},
		{"s3cret", "", false},
		{"s3cret", "Bearer s3cret", true},
		{"s3cret", "bearer s3cret", true},
		{"s3cret", "Bearer s3cre", false},
		{"s3cret", "Basic s3cret", false},
		{"s3cret", "Bearer", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if got := bearerOK(r, c.token); got != c.want {
			t.Errorf("token %q, header %q: got %v", c.token, c.header, got)
		}
	}
}
