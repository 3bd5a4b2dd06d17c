package podruntime

import (
	"os"
	"strconv"
	"syscall"
)

// CloseInheritedOnExec marks every descriptor above stderr close-on-exec, so
// none reaches the control plane or a pod. Descriptors the local cluster was
// started with (a caller's `flock LOCKFILE make test-e2e` lock, for one) would
// otherwise be held by every process it starts, and by any left behind after
// a crash, long after the caller is gone.
func CloseInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
