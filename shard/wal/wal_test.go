package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"boxoffice.dev/boxoffice/internal/testvol"
)

var testHash = [32]byte{1, 2, 3}

func open(t *testing.T, dir string, logBuf io.Writer) (*Log, *Recovered, [][]byte, error) {
	t.Helper()
	if logBuf == nil {
		logBuf = io.Discard
	}
	var got [][]byte
	l, rec, err := Open(Options{Dir: dir, MapHash: testHash, SegmentSize: 4096, Logger: slog.New(slog.NewTextHandler(logBuf, nil))},
		nil, func(i uint64, p []byte) error {
			if want := uint64(len(got)) + 1; i != want {
				return fmt.Errorf("index %d, want %d", i, want)
			}
			got = append(got, bytes.Clone(p))
			return nil
		})
	return l, rec, got, err
}

func payload(i int) []byte {
	return []byte(fmt.Sprintf("record-%05d-%s", i, strings.Repeat("x", i%37)))
}

func writeN(t *testing.T, l *Log, from, n, group int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		l.Append(payload(i))
		if (i+1)%group == 0 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestAppendReplayEpoch(t *testing.T) {
	dir := t.TempDir()
	l, rec, got, err := open(t, dir, nil)
	if err != nil || len(got) != 0 || rec.PrevEpoch != 0 || l.Epoch() != 1 {
		t.Fatalf("fresh: %v %v %d", err, rec, l.Epoch())
	}
	writeN(t, l, 0, 500, 7)
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(segs) < 3 {
		t.Fatalf("expected several segments, got %d", len(segs))
	}
	for epoch := uint64(2); epoch < 5; epoch++ {
		l, _, got, err = open(t, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l.Epoch() != epoch {
			t.Fatalf("epoch %d, want %d", l.Epoch(), epoch)
		}
		if len(got) != 500 {
			t.Fatalf("replayed %d records", len(got))
		}
		for i, p := range got {
			if !bytes.Equal(p, payload(i)) {
				t.Fatalf("record %d = %q", i, p)
			}
		}
		l.Close()
	}
}

func TestSnapshotBoundsReplay(t *testing.T) {
	dir := t.TempDir()
	l, _, _, _ := open(t, dir, nil)
	writeN(t, l, 0, 300, 10)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	idx := l.NextIndex() - 1
	if err := l.WriteSnapshot([]byte("state@300"), idx); err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 300, 20, 10)
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(segs) != 1 {
		t.Fatalf("old segments not removed: %v", segs)
	}
	var snap []byte
	l, rec, err := Open(Options{Dir: dir, MapHash: testHash, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		func(r *Recovered) error { snap = r.Snapshot; return nil },
		func(i uint64, p []byte) error {
			if i <= idx || !bytes.Equal(p, payload(int(i-1))) {
				return fmt.Errorf("unexpected record %d %q", i, p)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if string(snap) != "state@300" || rec.SnapshotIndex != 300 || rec.Records != 20 {
		t.Fatalf("recovered %q %+v", snap, rec)
	}
	l.Close()
	// A snapshot for another seat map is refused.
	if _, _, err := Open(Options{Dir: dir, MapHash: [32]byte{9}}, nil, func(uint64, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "different seat map") {
		t.Fatalf("other map: %v", err)
	}
}

func lastSegment(t *testing.T, dir string) string {
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	return segs[len(segs)-1]
}

// TestTornTail builds the files a crash leaves behind: every prefix of the last
// group is accepted, the partial record truncated with a log line.
func TestTornTail(t *testing.T) {
	base := t.TempDir()
	l, _, _, _ := open(t, base, nil)
	writeN(t, l, 0, 10, 10)
	l.Append(payload(10))
	l.Append(payload(11))
	l.Sync()
	l.Close()
	seg := lastSegment(t, base)
	full, _ := os.ReadFile(seg)
	lastLen := recHeaderSize + len(payload(11))
	cuts := []int{1, 5, recHeaderSize, recHeaderSize + 3, lastLen - 1}
	for _, cut := range cuts {
		t.Run(fmt.Sprintf("cut%d", cut), func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			os.WriteFile(filepath.Join(dir, filepath.Base(seg)), full[:len(full)-cut], 0o644)
			var logs bytes.Buffer
			l, rec, got, err := open(t, dir, &logs)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if len(got) != 11 || rec.Truncated == 0 || !strings.Contains(logs.String(), "truncating torn tail") {
				t.Fatalf("got %d records, truncated %d, logs %q", len(got), rec.Truncated, logs.String())
			}
		})
	}
	t.Run("zeros", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		os.WriteFile(filepath.Join(dir, filepath.Base(seg)), append(bytes.Clone(full), make([]byte, 4096)...), 0o644)
		l, _, got, err := open(t, dir, nil)
		if err != nil || len(got) != 12 {
			t.Fatalf("%v %d", err, len(got))
		}
		l.Close()
	})
	t.Run("flipped last payload", func(t *testing.T) {
		// A bit flip in the last record is damage, not a torn write (its
		// sectors were written): it is dropped, but reported as possibly
		// acknowledged, not as "never acknowledged".
		dir := t.TempDir()
		copyDir(t, base, dir)
		b := bytes.Clone(full)
		b[len(b)-2] ^= 0xff
		os.WriteFile(filepath.Join(dir, filepath.Base(seg)), b, 0o644)
		var logs bytes.Buffer
		l, rec, got, err := open(t, dir, &logs)
		if err != nil || len(got) != 11 {
			t.Fatalf("%v %d", err, len(got))
		}
		l.Close()
		d := rec.Damaged
		if d == nil || d.File != filepath.Base(seg) || d.Offset != int64(len(full)-lastLen) || d.Index != 12 || d.Bytes != int64(lastLen) {
			t.Fatalf("damage not reported: %+v", d)
		}
		if strings.Contains(logs.String(), "never acknowledged") || !strings.Contains(logs.String(), "MAY HAVE BEEN ACKNOWLEDGED") {
			t.Fatalf("the log line does not tell the truth: %q", logs.String())
		}
	})
}

// TestCorruptMiddle: damage before the tail refuses to start, naming the file
// and the offset of the damaged record.
func TestCorruptMiddle(t *testing.T) {
	base := t.TempDir()
	l, _, _, _ := open(t, base, nil)
	writeN(t, l, 0, 20, 5)
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(base, "wal-*.log"))
	seg := segs[0]
	full, _ := os.ReadFile(seg)
	// Offset of the 4th record.
	off := segHeaderSize
	for i := 0; i < 3; i++ {
		off += recHeaderSize + len(payload(i))
	}
	for name, mutate := range map[string]func([]byte){
		"payload": func(b []byte) { b[off+recHeaderSize+2] ^= 1 },
		"length":  func(b []byte) { b[off] ^= 0x40 },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			b := bytes.Clone(full)
			mutate(b)
			os.WriteFile(filepath.Join(dir, filepath.Base(seg)), b, 0o644)
			_, _, _, err := open(t, dir, nil)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.File != filepath.Base(seg) || ce.Offset != int64(off) {
				t.Fatalf("want corruption at %s offset %d, got %v", filepath.Base(seg), off, err)
			}
			if !strings.Contains(err.Error(), filepath.Base(seg)) || !strings.Contains(err.Error(), fmt.Sprint(off)) {
				t.Fatalf("message does not name file and offset: %v", err)
			}
		})
	}
}

func TestNewerFormatRefused(t *testing.T) {
	dir := t.TempDir()
	l, _, _, _ := open(t, dir, nil)
	writeN(t, l, 0, 3, 3)
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	b, _ := os.ReadFile(segs[0])
	binary.LittleEndian.PutUint32(b[8:], FormatVersion+1)
	binary.LittleEndian.PutUint32(b[60:], crc(b[:60]))
	os.WriteFile(segs[0], b, 0o644)
	_, _, _, err := open(t, dir, nil)
	var ve *VersionError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "newer version") {
		t.Fatalf("want a version error, got %v", err)
	}
}

func TestMissingRecordsRefused(t *testing.T) {
	dir := t.TempDir()
	l, _, _, _ := open(t, dir, nil)
	writeN(t, l, 0, 400, 10)
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	os.Remove(segs[1])
	_, _, _, err := open(t, dir, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("want missing records, got %v", err)
	}
}

func copyDir(t *testing.T, from, to string) {
	ents, _ := os.ReadDir(from)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
	}
}

func FuzzReplay(f *testing.F) {
	dir := f.TempDir()
	l, _, err := Open(Options{Dir: dir, MapHash: testHash, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, func(uint64, []byte) error { return nil })
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		l.Append(payload(i))
	}
	l.Sync()
	l.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	b, _ := os.ReadFile(segs[0])
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, segName(1)), data, 0o644)
		l, _, err := Open(Options{Dir: d, MapHash: testHash, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil, func(uint64, []byte) error { return nil })
		if err == nil {
			l.Close()
		}
	})
}

func TestOneOwner(t *testing.T) {
	dir := t.TempDir()
	l, _, _, err := open(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := open(t, dir, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second owner: %v", err)
	}
	l.Close()
	l, _, _, err = open(t, dir, nil)
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	l.Close()
}

// TestPreallocated: segments reserve their space; what a crash leaves in it
// reads back as the end of the records, torn writes inside it are still torn
// and damage before them still refuses to start.
func TestPreallocated(t *testing.T) {
	base := t.TempDir()
	l, _, _, _ := open(t, base, nil)
	writeN(t, l, 0, 3, 3)
	seg := lastSegment(t, base)
	if st, _ := os.Stat(seg); st.Size() != 4096 {
		t.Skipf("segments are not preallocated here (size %d)", st.Size())
	}
	// A crash: the segment is never cut back.
	crashed := t.TempDir()
	copyDir(t, base, crashed)
	l.Close()
	if st, _ := os.Stat(seg); st.Size() >= 4096 {
		t.Fatalf("Close left the reserved space: size %d", st.Size())
	}
	var logs bytes.Buffer
	l2, rec, got, err := open(t, crashed, &logs)
	if err != nil || len(got) != 3 || rec.Truncated != 0 || strings.Contains(logs.String(), "torn") {
		t.Fatalf("after a crash: %v, %d records, truncated %d, logs %q", err, len(got), rec.Truncated, logs.String())
	}
	l2.Close()

	closed, _ := os.ReadFile(seg)
	lastLen := recHeaderSize + len(payload(2))
	reserve := func(b []byte) []byte { return append(bytes.Clone(b), make([]byte, 4096-len(b))...) }
	for _, cut := range []int{1, 5, recHeaderSize + 3, lastLen - 1} {
		// Zeros inside a sector that holds written records: a crash writes
		// a sector whole or not at all, so this is damage to the last
		// record (reported), not a torn write.
		t.Run(fmt.Sprintf("zeros inside a written sector, cut %d", cut), func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			os.WriteFile(filepath.Join(dir, filepath.Base(seg)), reserve(closed[:len(closed)-cut]), 0o644)
			var logs bytes.Buffer
			l, rec, got, err := open(t, dir, &logs)
			if err != nil || len(got) != 2 || rec.Damaged == nil || rec.Damaged.Offset != int64(len(closed)-lastLen) {
				t.Fatalf("%v, %d records, damage %+v, logs %q", err, len(got), rec.Damaged, logs.String())
			}
			l.Close()
		})
	}
	t.Run("damage before the last record, reserved space after", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		b := reserve(closed)
		b[segHeaderSize+recHeaderSize+1] ^= 1 // first record's payload
		os.WriteFile(filepath.Join(dir, filepath.Base(seg)), b, 0o644)
		var ce *CorruptError
		if _, _, _, err := open(t, dir, nil); !errors.As(err, &ce) || ce.Offset != segHeaderSize {
			t.Fatalf("want corruption at %d, got %v", segHeaderSize, err)
		}
	})
	t.Run("a rolled segment whose reserved space was not cut back", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, base, dir)
		// Reopen (a new segment after seg), then give seg its reserved space
		// back as if the cut had been lost in a crash.
		l, _, _, err := open(t, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		writeN(t, l, 3, 2, 2)
		l.Close()
		os.WriteFile(filepath.Join(dir, filepath.Base(seg)), reserve(closed), 0o644)
		l, _, got, err := open(t, dir, nil)
		if err != nil || len(got) != 5 {
			t.Fatalf("%v, %d records", err, len(got))
		}
		l.Close()
	})
}

// TestTornHeaderRefused: segments are created whole (temporary file, rename),
// so a newest segment with a short or damaged header is damage: the start is
// refused with the file's name and how to recover, and nothing is deleted.
func TestTornHeaderRefused(t *testing.T) {
	base := t.TempDir()
	l, _, _, _ := open(t, base, nil)
	writeN(t, l, 0, 10, 5)
	l.Close()
	seg := lastSegment(t, base)
	full, _ := os.ReadFile(seg)
	for _, n := range []int{0, 1, 8, 40, 63, 64} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, base, dir)
			b := bytes.Clone(full[:n])
			if n == 64 {
				b[30] ^= 1 // a whole header with a bad checksum
			}
			path := filepath.Join(dir, filepath.Base(seg))
			os.WriteFile(path, b, 0o644)
			_, _, _, err := open(t, dir, nil)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.File != filepath.Base(seg) {
				t.Fatalf("want a refusal naming %s, got %v", filepath.Base(seg), err)
			}
			for _, want := range []string{path, "restore the data directory", "move " + path} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("the error does not say %q: %v", want, err)
				}
			}
			if st, err := os.Stat(path); err != nil || st.Size() != int64(n) {
				t.Fatalf("the damaged segment was touched: %v %v", st, err)
			}
		})
	}
}

// sectorLog builds a segment whose records cross the first sector boundary
// after the header, and returns the file, the offsets of the records and the
// index of the record that crosses offset 512.
func sectorLog(t *testing.T) (dir, seg string, data []byte, offs []int, crossing int) {
	t.Helper()
	dir = t.TempDir()
	l, _, _, _ := open(t, dir, nil)
	writeN(t, l, 0, 30, 6)
	l.Close()
	seg = lastSegment(t, dir)
	data, _ = os.ReadFile(seg)
	off := segHeaderSize
	crossing = -1
	for i := 0; i < 30; i++ {
		offs = append(offs, off)
		end := off + recHeaderSize + len(payload(i))
		if off < 512 && end > 512 {
			crossing = i
		}
		off = end
	}
	if crossing < 0 || len(data) < 1024 {
		t.Fatalf("no record crosses offset 512 (%d bytes)", len(data))
	}
	return dir, seg, data, offs, crossing
}

// TestTailClassification: what a crash can leave (whole sectors missing, the
// file ending inside a record) is a torn write, never acknowledged; damage in
// written sectors of the last record is reported as possibly acknowledged;
// damage with a record that checks after it refuses to start.
func TestTailClassification(t *testing.T) {
	_, seg, data, offs, x := sectorLog(t)
	zeroFrom := func(b []byte, from int) []byte {
		b = bytes.Clone(b)
		clear(b[from:])
		return b
	}
	cases := []struct {
		name    string
		file    []byte
		kind    tailKind
		records int // replayed
	}{
		{"sector after the boundary never written", zeroFrom(data, 512), tailTorn, x},
		{"a middle sector never written, later ones written", func() []byte {
			b := append(bytes.Clone(data), make([]byte, 1024)...)
			copy(b[1024:], data[512:])
			clear(b[512:1024])
			return b
		}(), tailTorn, x},
		{"file ends inside the record", data[:offs[x]+20], tailTorn, x},
		{"flip in the last record", func() []byte { b := bytes.Clone(data); b[len(b)-1] ^= 4; return b }(), tailDamaged, 29},
		{"flip in the last record's header", func() []byte { b := bytes.Clone(data); b[offs[29]+9] ^= 4; return b }(), tailDamaged, 29},
		{"flip in the last record, then a torn write", func() []byte {
			b := zeroFrom(data, 512) // record x never fully written
			b[offs[x-1]+recHeaderSize] ^= 4
			return b
		}(), tailDamaged, x - 1},
		{"flip with records after it", func() []byte { b := bytes.Clone(data); b[offs[x]+recHeaderSize] ^= 4; return b }(), tailCorrupt, 0},
		{"flipped header with records after it", func() []byte { b := bytes.Clone(data); b[offs[x]+1] ^= 4; return b }(), tailCorrupt, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, filepath.Base(seg)), c.file, 0o644)
			var logs bytes.Buffer
			l, rec, got, err := open(t, dir, &logs)
			switch c.kind {
			case tailCorrupt:
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Offset != int64(offs[x]) || !strings.Contains(err.Error(), "acknowledged") {
					t.Fatalf("want a refusal at %d, got %v", offs[x], err)
				}
				return
			case tailTorn:
				if err != nil || rec.Damaged != nil || !strings.Contains(logs.String(), "truncating torn tail") {
					t.Fatalf("want a torn tail: %v %+v %q", err, rec, logs.String())
				}
			case tailDamaged:
				if err != nil || rec.Damaged == nil || rec.Damaged.Index != uint64(c.records+1) {
					t.Fatalf("want a damaged last record: %v %+v %q", err, rec, logs.String())
				}
			}
			l.Close()
			if len(got) != c.records {
				t.Fatalf("replayed %d records, want %d", len(got), c.records)
			}
		})
	}
}

// TestLowSpace: a segment reserves its space only when the volume has two
// segments' worth free; otherwise it grows as written, and the volume is
// never filled by a reservation (ext4 keeps what a failed fallocate got).
func TestLowSpace(t *testing.T) {
	mnt := testvol.Small(t, 24<<20)
	free := testvol.Free(t, mnt)
	for _, segSize := range []int64{free * 3 / 4, free * 2} {
		dir := filepath.Join(mnt, fmt.Sprintf("data-%d", segSize))
		l, _, err := Open(Options{Dir: dir, MapHash: testHash, SegmentSize: segSize, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
			nil, func(uint64, []byte) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		writeN(t, l, 0, 10, 5)
		if got := testvol.Free(t, mnt); got < free-free/10 {
			t.Fatalf("segment size %d: free space went from %d to %d: the reservation took the volume", segSize, free, got)
		}
		if st, _ := os.Stat(lastSegment(t, dir)); st.Size() >= segSize/2 {
			t.Fatalf("segment size %d: the segment reserved %d bytes on a volume with %d free", segSize, st.Size(), free)
		}
		if f, low, err := l.FreeBytes(); err != nil || !low || f <= 0 {
			t.Fatalf("low space not reported: %d %v %v", f, low, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDamagedSnapshotRefused: a damaged snapshot refuses to start and the
// advice is a restore (its covered segments are gone, so it cannot be moved away).
func TestDamagedSnapshotRefused(t *testing.T) {
	dir := t.TempDir()
	l, _, _, _ := open(t, dir, nil)
	writeN(t, l, 0, 20, 5)
	l.Roll()
	if err := l.WriteSnapshot([]byte("state@20"), l.NextIndex()-1); err != nil {
		t.Fatal(err)
	}
	l.Close()
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
	b, _ := os.ReadFile(snaps[0])
	b[len(b)-6] ^= 1
	os.WriteFile(snaps[0], b, 0o644)
	_, _, _, err := open(t, dir, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "restore the data directory") || strings.Contains(err.Error(), "move ") {
		t.Fatalf("want a refusal advising a restore, got %v", err)
	}
}
