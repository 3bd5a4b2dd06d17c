//go:build !linux

package wal

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// preallocate is not available here: segments grow as they are written.
func preallocate(f *os.File, size int64) error { return errUnsupported }

func freeSpace(dir string) (int64, error) { return 0, errUnsupported }
