package server

import (
	"os"
	"path/filepath"
)

// writeFileDurably replaces path with b so that a crash leaves either the old
// file or the new one, never a part: it writes path+".tmp", syncs it, renames
// it over path and syncs the directory. On failure the temporary file is
// removed.
func writeFileDurably(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDirPath(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDirPath syncs a directory, making renames and creations in it durable.
func syncDirPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
