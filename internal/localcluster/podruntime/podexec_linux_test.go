package podruntime

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReservedTarget(t *testing.T) {
	for target, want := range map[string]string{
		"/usr": "/usr", "/usr/local/data": "/usr", "/proc/self": "/proc", "/dev": "/dev",
		"/data": "", "/usrdata": "", "/etc/config": "", "/var/lib": "",
	} {
		if got := reservedTarget(target); got != want {
			t.Errorf("reservedTarget(%s) = %q, want %q", target, got, want)
		}
	}
}

func TestMkTargetMatchesTheSourceKind(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "src-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mkTarget(file, filepath.Join(dir, "root", "etc", "cfg")); err != nil {
		t.Fatal(err)
	}
	if err := mkTarget(dir, filepath.Join(dir, "root", "data")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "root", "etc", "cfg")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("a file source needs a file mount point: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "root", "data")); err != nil || !fi.IsDir() {
		t.Errorf("a directory source needs a directory mount point: %v %v", fi, err)
	}
}

func TestCopySymlink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "bin")
	if err := os.Symlink("usr/bin", src); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "root", "bin")
	for range 2 { // a second call (the link is there) is fine
		if err := copySymlink(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.Readlink(dst); err != nil || got != "usr/bin" {
		t.Errorf("link %q, %v; want usr/bin", got, err)
	}
}
