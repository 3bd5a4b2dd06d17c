//go:build !linux

package testvol

import "testing"

// Small skips: loop-mounted test volumes are Linux only.
func Small(t testing.TB, size int64) string {
	t.Skip("a full-disk test mounts an ext4 volume: Linux only")
	return ""
}

// Free is not reached (Small skipped).
func Free(t testing.TB, path string) int64 { t.Skip("Linux only"); return 0 }

// Fill is not reached (Small skipped).
func Fill(t testing.TB, dir string, keep int64) string { t.Skip("Linux only"); return "" }
