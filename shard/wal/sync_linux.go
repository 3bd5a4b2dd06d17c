package wal

import (
	"os"
	"syscall"
)

// fdatasync flushes the file's data (and the size, when it changed) without
// forcing unrelated metadata such as timestamps.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// preallocate reserves size bytes for f (its size becomes size; the new
// space reads as zeros), so that later writes inside it neither allocate
// blocks nor change the file's size.
func preallocate(f *os.File, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if err != syscall.EINTR {
			return err
		}
	}
}

// freeSpace is the space an unprivileged writer may still use on the file
// system holding dir.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}
