package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRefreshFiles(t *testing.T) {
	dir := t.TempDir()
	if err := writeFiles(dir, []volumeFile{{path: "tls.crt", data: nil, mode: 0o644}, {path: "old", data: []byte("x"), mode: 0o644}}, nil); err != nil {
		t.Fatal(err)
	}
	files := []volumeFile{{path: "tls.crt", data: []byte("CERT"), mode: 0o640}, {path: "tls.key", data: []byte("KEY"), mode: 0o600}}
	n, err := refreshFiles(dir, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	// tls.crt changed, tls.key is new, old is gone.
	if n != 3 {
		t.Errorf("changed %d files, want 3", n)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.path))
		if err != nil || string(b) != string(f.data) {
			t.Errorf("%s = %q, %v; want %q", f.path, b, err, f.data)
		}
		if fi, err := os.Stat(filepath.Join(dir, f.path)); err != nil || fi.Mode().Perm() != f.mode {
			t.Errorf("%s mode %v, want %v", f.path, fi.Mode().Perm(), f.mode)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "old")); !os.IsNotExist(err) {
		t.Errorf("file of a removed key still there: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d entries left in the volume, want 2 (no temporary files)", len(entries))
	}
	if n, err := refreshFiles(dir, files, nil); err != nil || n != 0 {
		t.Errorf("second refresh with the same data changed %d files (%v), want 0", n, err)
	}
}

func TestAPIServerEnv(t *testing.T) {
	got := apiServerEnv("10.244.7.1", 36443)
	want := map[string]bool{"KUBERNETES_SERVICE_HOST=10.244.7.1": true, "KUBERNETES_SERVICE_PORT=36443": true,
		"KUBERNETES_SERVICE_PORT_HTTPS=36443": true, "KUBERNETES_PORT=tcp://10.244.7.1:36443": true}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for _, kv := range got {
		if !want[kv] {
			t.Errorf("unexpected %s", kv)
		}
	}
	if apiServerEnv("", 0) != nil {
		t.Errorf("no API server address: want no variables")
	}
}
