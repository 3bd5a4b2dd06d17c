package shardapi

import (
	"bytes"
	"io"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// DecodeBatchRequestFast reads the body of POST /v2/batch when it is
// spelled as the contract spells it: the names exactly as BatchOp gives
// them, each at most once, strings for the string fields, an integer for
// ttlSeconds, nothing unknown, no null, valid UTF-8. The operations are
// appended to ops (pass a reused slice, length 0). ok is false for anything
// else, and the caller then decodes the body with encoding/json, which
// also reads other cases, unknown names and nulls; whenever this accepts a
// body, encoding/json reads it into the same operations
// (FuzzDecodeBatchRequestAgreesWithEncodingJSON).
//
// Why by hand: decoding a batch by reflection (the JSON v2 prototype's
// Unmarshal) was 12% of the batched shard's CPU under load, and a batch's
// decoding sits on the round trip every buyer of that batch waits for.
// Reading tokens with jsontext keeps its validation (syntax, UTF-8,
// escapes) and drops the reflection and most allocations: the op names are
// the package's constants, the ttlSeconds of a batch share one slab.
func DecodeBatchRequestFast(body []byte, ops []BatchOp) (_ []BatchOp, ok bool) {
	rd := getReqDecoder(body)
	defer putReqDecoder(rd)
	d := &rd.d
	if !readDelim(d, '{') {
		return ops, false
	}
	seen := false
	for d.PeekKind() == '"' {
		name, err := d.ReadValue()
		if err != nil || string(name) != `"ops"` || seen || !readDelim(d, '[') {
			return ops, false
		}
		seen = true
		var ttls []int64
		for d.PeekKind() == '{' {
			var op BatchOp
			if !decodeBatchOpFast(d, &op, &ttls) {
				return ops, false
			}
			ops = append(ops, op)
		}
		if !readDelim(d, ']') {
			return ops, false
		}
	}
	if !seen || !readDelim(d, '}') {
		return ops, false
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return ops, false
	}
	return ops, true
}

// Field bits of one operation, to refuse a name given twice (encoding/json
// keeps the last; the slow path decides those).
const (
	fieldOp = 1 << iota
	fieldHold
	fieldKey
	fieldSeats
	fieldHolder
	fieldTTL
	fieldOrder
)

// decodeBatchOpFast reads one operation object.
func decodeBatchOpFast(d *jsontext.Decoder, op *BatchOp, ttls *[]int64) bool {
	if !readDelim(d, '{') {
		return false
	}
	var have int
	for d.PeekKind() == '"' {
		name, err := d.ReadValue()
		if err != nil {
			return false
		}
		var bit int
		var dst *string
		switch string(name) {
		case `"op"`:
			bit = fieldOp
		case `"hold"`:
			bit, dst = fieldHold, &op.Hold
		case `"idempotencyKey"`:
			bit, dst = fieldKey, &op.IdempotencyKey
		case `"seats"`:
			bit = fieldSeats
		case `"holder"`:
			bit, dst = fieldHolder, &op.Holder
		case `"ttlSeconds"`:
			bit = fieldTTL
		case `"orderId"`:
			bit, dst = fieldOrder, &op.OrderID
		default:
			return false
		}
		if have&bit != 0 {
			return false
		}
		have |= bit
		switch bit {
		case fieldOp:
			v, ok := readString(d)
			if !ok {
				return false
			}
			op.Op = opName(v)
		case fieldSeats:
			if !readDelim(d, '[') {
				return false
			}
			op.Seats = []string{} // [] is an empty list to encoding/json, not nil
			for d.PeekKind() == '"' {
				v, ok := readString(d)
				if !ok {
					return false
				}
				op.Seats = append(op.Seats, string(v))
			}
			if !readDelim(d, ']') {
				return false
			}
		case fieldTTL:
			if d.PeekKind() != '0' {
				return false
			}
			v, err := d.ReadValue()
			if err != nil {
				return false
			}
			// As encoding/json reads a number into an int64: 1.0, 1e2
			// and out-of-range values are refused (and so go to it).
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return false
			}
			if len(*ttls) == cap(*ttls) {
				*ttls = make([]int64, 0, 64)
			}
			*ttls = append(*ttls, n)
			op.TTLSeconds = &(*ttls)[len(*ttls)-1]
		default:
			v, ok := readString(d)
			if !ok {
				return false
			}
			*dst = string(v)
		}
	}
	return readDelim(d, '}')
}

// readString reads a string value, unquoted; ok is false for any other
// kind. The bytes are only good until the next read.
func readString(d *jsontext.Decoder) (v []byte, ok bool) {
	if d.PeekKind() != '"' {
		return nil, false
	}
	raw, err := d.ReadValue()
	if err != nil {
		return nil, false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], true
	}
	v, err = jsontext.AppendUnquote(nil, raw)
	return v, err == nil
}

// opName is an operation's name, the package's constant when it is one
// (no allocation for the names every batch repeats).
func opName(v []byte) string {
	switch string(v) {
	case BatchHold:
		return BatchHold
	case BatchGet:
		return BatchGet
	case BatchExtend:
		return BatchExtend
	case BatchAwaitPayment:
		return BatchAwaitPayment
	case BatchConfirm:
		return BatchConfirm
	case BatchRelease:
		return BatchRelease
	}
	return string(v)
}

// reqDecoder is a pooled jsontext decoder with its reader.
type reqDecoder struct {
	d jsontext.Decoder
	r bytes.Reader
}

var reqDecoders = sync.Pool{New: func() any { return new(reqDecoder) }}

// Duplicate names are refused by the field bits above, cheaper than the
// decoder's own check.
func getReqDecoder(body []byte) *reqDecoder {
	rd := reqDecoders.Get().(*reqDecoder)
	rd.r.Reset(body)
	rd.d.Reset(&rd.r, jsontext.AllowDuplicateNames(true))
	return rd
}

func putReqDecoder(rd *reqDecoder) {
	rd.r.Reset(nil)
	rd.d.Reset(&rd.r)
	reqDecoders.Put(rd)
}
