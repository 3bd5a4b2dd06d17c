package volumes

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
