package wal

import (
	"encoding/binary"
	"fmt"
)

// sectorSize is the unit a crash writes whole or not at all. A group is one
// write; a crash can leave any subset of its sectors on disk, and a sector
// that never reached the disk reads as zeros (reserved space, or a file
// extended past what was written).
const sectorSize = 512

type tailKind int

const (
	// tailReserved: zeros to the end, space reserved for records that never came.
	tailReserved tailKind = iota
	// tailTorn: a write the crash interrupted. Its group's fsync never
	// returned, so nothing in it or after it was acknowledged.
	tailTorn
	// tailDamaged: the last record lies in sectors that were written, so it
	// is damaged, not torn. Nothing that checks follows it, so it may be the
	// last acknowledged record: it is dropped and reported.
	tailDamaged
	// tailCorrupt: damage followed by a record that may have been
	// acknowledged. The start is refused.
	tailCorrupt
)

type tailVerdict struct {
	kind   tailKind
	reason string
}

// classifyTail says what the bytes of a segment from off are, off being the
// start of the first record that does not check. Pure: the tests feed it
// every kind of crash and damage.
func classifyTail(data []byte, off int64) tailVerdict {
	if v, ok := tornAt(data, off); ok {
		return v
	}
	end, known := recordEnd(data, off)
	z := firstZeroSector(data, end)
	if known {
		// What follows the damaged record must be nothing, or a torn write.
		if v, ok := tornAt(data, end); ok || end >= z {
			why := "nothing was written after it"
			if ok && v.kind == tailTorn {
				why = "only a torn write follows it"
			}
			return tailVerdict{tailDamaged, "the record lies in sectors that were written, so it is damaged, not torn; " + why}
		}
		return tailVerdict{tailCorrupt, "a record follows it that may have been acknowledged"}
	}
	// The header is damaged: the record's length is unknown. It is the last
	// one unless a record that checks starts after it, before the first
	// sector that was never written.
	if z-off > recHeaderSize+MaxRecord {
		return tailVerdict{tailCorrupt, "more data follows it than one record can hold"}
	}
	for p := off + 1; p+recHeaderSize <= z; p++ {
		if payload, bad := readRecord(data[:z], p); bad == "" && len(payload) > 0 {
			return tailVerdict{tailCorrupt, fmt.Sprintf("a record that checks follows it at offset %d", p)}
		}
	}
	return tailVerdict{tailDamaged, "its header lies in sectors that were written, so it is damaged, not torn; no record follows it"}
}

// tornAt reports whether the record at off provably never reached the disk
// whole: zeros to the end, the file ending inside it, or a sector of it that
// was never written.
func tornAt(data []byte, off int64) (tailVerdict, bool) {
	if off >= int64(len(data)) || allZero(data[off:]) {
		return tailVerdict{tailReserved, "zeros to the end of the file"}, true
	}
	end, _ := recordEnd(data, off)
	if end > int64(len(data)) {
		return tailVerdict{tailTorn, "the file ends inside the record (a partial record)"}, true
	}
	for a := off &^ (sectorSize - 1); a < end; a += sectorSize {
		if allZero(data[a:min(a+sectorSize, int64(len(data)))]) {
			return tailVerdict{tailTorn, fmt.Sprintf("the sector at offset %d, inside the record, was never written (zeros): its group was never fully written", a)}, true
		}
	}
	return tailVerdict{}, false
}

// recordEnd is where the record at off ends by its header, and whether the
// header could be trusted; if not, the end of the header.
func recordEnd(data []byte, off int64) (int64, bool) {
	rest := data[off:]
	if len(rest) < recHeaderSize {
		return off + recHeaderSize, false
	}
	n := binary.LittleEndian.Uint32(rest)
	if crc(rest[:8]) != binary.LittleEndian.Uint32(rest[8:]) || n > MaxRecord {
		return off + recHeaderSize, false
	}
	return off + recHeaderSize + int64(n), true
}

// firstZeroSector is the start of the first sector at or after the one
// holding from that reads as all zeros (never written), or the file's end.
func firstZeroSector(data []byte, from int64) int64 {
	for a := from &^ (sectorSize - 1); a < int64(len(data)); a += sectorSize {
		if allZero(data[a:min(a+sectorSize, int64(len(data)))]) {
			return max(a, from)
		}
	}
	return int64(len(data))
}

func allZero(b []byte) bool { return trailingZeros(b, 0) == 0 }
