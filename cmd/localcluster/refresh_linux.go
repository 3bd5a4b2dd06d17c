package main

import (
	"bytes"
	"os"
	"path/filepath"
)

// refreshFiles brings the files of a configMap or secret volume up to date
// with their object, as the kubelet does while a pod runs: each changed file
// is written beside its old self and renamed over it, so a reader sees the
// old content or the new, never half of it. Files of keys that disappeared
// are removed. It returns how many files changed.
func refreshFiles(dir string, files []volumeFile, fsGroup *int64) (int, error) {
	changed := 0
	want := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dir, filepath.Clean("/"+f.path))
		want[p] = true
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return changed, err
		}
		tmp := filepath.Join(filepath.Dir(p), ".."+filepath.Base(p)+".tmp")
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return changed, err
		}
		if err := os.Chmod(tmp, f.mode); err != nil {
			return changed, err
		}
		if fsGroup != nil {
			if err := os.Chown(tmp, 0, int(*fsGroup)); err != nil {
				return changed, err
			}
		}
		if err := os.Rename(tmp, p); err != nil {
			return changed, err
		}
		changed++
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return changed, err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !e.IsDir() && !want[p] {
			if err := os.Remove(p); err != nil {
				return changed, err
			}
			changed++
		}
	}
	return changed, nil
}
