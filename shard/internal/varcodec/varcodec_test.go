package varcodec

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

var errShort = errors.New("x: truncated encoding")

func TestReaderRoundTrip(t *testing.T) {
	b := binary.AppendUvarint(nil, 300)
	b = binary.AppendVarint(b, -7)
	b = binary.AppendVarint(b, 1<<31-1)
	b = append(b, 9)
	b = AppendString(b, "héllo")
	b = binary.AppendUvarint(b, 2)
	b = append(b, 1, 2)
	r := NewReader(b, errShort, "x")
	if v := r.Uvarint(); v != 300 {
		t.Fatalf("Uvarint = %d", v)
	}
	if v := r.Varint(); v != -7 {
		t.Fatalf("Varint = %d", v)
	}
	if v := r.Int32(); v != 1<<31-1 {
		t.Fatalf("Int32 = %d", v)
	}
	if v := r.Byte(); v != 9 {
		t.Fatalf("Byte = %d", v)
	}
	if v := r.String(16); v != "héllo" {
		t.Fatalf("String = %q", v)
	}
	if n := r.Count(10, 1); n != 2 || string(r.Bytes(n)) != "\x01\x02" {
		t.Fatalf("Count/Bytes = %d", n)
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("err %v, %d bytes left", r.Err(), r.Len())
	}
}

func TestReaderErrorsStick(t *testing.T) {
	r := NewReader([]byte{0x80}, errShort, "x")
	if r.Uvarint() != 0 || r.Err() != errShort {
		t.Fatalf("truncated varint: err %v", r.Err())
	}
	r.Fail("later")
	if r.Err() != errShort || r.Byte() != 0 {
		t.Fatalf("first error not kept: %v", r.Err())
	}

	r = NewReader(binary.AppendVarint(nil, 1<<31), errShort, "x")
	r.Int32()
	if r.Err() == nil || !strings.HasPrefix(r.Err().Error(), "x: value 2147483648 out of range") {
		t.Fatalf("Int32 overflow: %v", r.Err())
	}

	r = NewReader(binary.AppendUvarint(nil, 5), errShort, "x")
	if r.Count(100, 1) != 0 || r.Err() == nil { // 5 items, no bytes left
		t.Fatalf("Count trusted a length: %v", r.Err())
	}

	r = NewReader(AppendString(nil, "toolong"), errShort, "x")
	if r.String(3) != "" || r.Err() == nil {
		t.Fatalf("String over max: %v", r.Err())
	}
}

// Varint decodes as binary.Varint does, extremes and short input included.
func TestVarintMatchesBinary(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, math.MaxInt64, math.MinInt64} {
		b := binary.AppendVarint(nil, v)
		r := NewReader(b, errShort, "x")
		if got := r.Varint(); got != v || r.Err() != nil || r.Len() != 0 {
			t.Fatalf("Varint(%d) = %d, err %v, %d left", v, got, r.Err(), r.Len())
		}
		r = NewReader(b[:len(b)-1], errShort, "x")
		if got := r.Varint(); got != 0 || r.Err() == nil {
			t.Fatalf("Varint of %d cut short = %d, err %v; want 0 and an error", v, got, r.Err())
		}
	}
}
