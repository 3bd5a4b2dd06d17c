// Package varcodec holds the pieces shared by the shard's binary encodings
// of commands and snapshots (seats, waitroom): a Reader that decodes
// little-endian varints without trusting any length, and the matching
// writer helpers. A Reader keeps the first error and returns zero values
// after it, so decoders read a whole record and check Err once.
package varcodec

import (
	"encoding/binary"
	"fmt"
)

// Reader decodes from a byte slice. Its zero value is not usable: build it
// with NewReader.
type Reader struct {
	b      []byte
	err    error
	short  error
	prefix string
}

// NewReader reads b. short is the error for a truncated encoding; errors
// from Fail start with prefix and ": ".
func NewReader(b []byte, short error, prefix string) Reader {
	return Reader{b: b, short: short, prefix: prefix + ": "}
}

// Err is the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes not yet read.
func (r *Reader) Len() int { return len(r.b) }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = r.short
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (r *Reader) Varint() int64 {
	// Zig-zag decoding, as binary.Varint does on top of binary.Uvarint.
	ux := r.Uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// Int32 reads a signed varint that must fit an int32.
func (r *Reader) Int32() int32 {
	v := r.Varint()
	if v < -1<<31 || v > 1<<31-1 {
		r.Fail("value %d out of range", v)
	}
	return int32(v)
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = r.short
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Bytes reads n bytes; the result aliases the input and has no spare capacity.
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = r.short
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Key reads 16 raw bytes.
func (r *Reader) Key() (k [16]byte) {
	if r.err != nil || len(r.b) < 16 {
		r.err = r.short
		return k
	}
	copy(k[:], r.b)
	r.b = r.b[16:]
	return k
}

// String reads a length-prefixed string of at most max bytes.
func (r *Reader) String(max int) string {
	n := r.Uvarint()
	if n > uint64(max) {
		r.Fail("string of %d bytes, at most %d", n, max)
		return ""
	}
	return string(r.Bytes(int(n)))
}

// Count reads a length and checks it against max and the bytes left (each
// element takes at least min bytes).
func (r *Reader) Count(max uint64, min int) int {
	n := r.Uvarint()
	if n > max || n*uint64(min) > uint64(len(r.b)) {
		r.Fail("count %d out of range", n)
		return 0
	}
	return int(n)
}

// Fail records a decoding error unless one is already recorded.
func (r *Reader) Fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(r.prefix+format, a...)
	}
}

// AppendString appends s with its length, as Reader.String reads it.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
