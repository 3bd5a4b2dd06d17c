package wal

import (
	"os"
	"syscall"
)

// fdatasync flushes the file's data (and the size, when it changed) without
// forcing unrelated metadata such as timestamps.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
