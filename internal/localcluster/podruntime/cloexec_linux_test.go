package podruntime

import (
	"path/filepath"
	"syscall"
	"testing"
)

func TestCloseInheritedOnExec(t *testing.T) {
	// An inherited descriptor: opened without O_CLOEXEC, as flock(1) does.
	fd, err := syscall.Open(filepath.Join(t.TempDir(), "lock"), syscall.O_CREAT|syscall.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	flags := func() int {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		if errno != 0 {
			t.Fatal(errno)
		}
		return int(r)
	}
	if flags()&syscall.FD_CLOEXEC != 0 {
		t.Fatal("test setup: descriptor already close-on-exec")
	}
	CloseInheritedOnExec()
	if flags()&syscall.FD_CLOEXEC == 0 {
		t.Error("an inherited descriptor would still reach the processes the local cluster starts")
	}
}
