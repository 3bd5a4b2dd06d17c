package server

import (
	"strconv"
	"time"
	"unicode/utf8"

	"boxoffice.dev/boxoffice/shard/seats"
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (invalid UTF-8 becomes U+FFFD).
// Hand-written because answers are built on the hot path without reflection.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// holdID renders a hold id.
func appendHoldID(b []byte, id uint64) []byte {
	b = append(b, 'h')
	return strconv.AppendUint(b, id, 10)
}

// parseHoldID parses "h<decimal>" as rendered by appendHoldID.
func parseHoldID(s string) (uint64, bool) {
	if len(s) < 2 || len(s) > 21 || s[0] != 'h' || s[1] == '0' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[1:], 10, 64)
	return v, err == nil
}

func appendTime(b []byte, unixNano int64) []byte {
	b = append(b, '"')
	b = time.Unix(0, unixNano).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendHold renders a hold per the contract.
func appendHold(b []byte, ix *seats.Index, h *seats.HoldView) []byte {
	b = append(b, `{"id":"`...)
	b = appendHoldID(b, h.ID)
	b = append(b, `","seats":[`...)
	for i, s := range h.Seats {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, ix.ID(s))
	}
	b = append(b, `],"holder":`...)
	b = appendJSONString(b, h.Holder)
	b = append(b, `,"state":"`...)
	b = append(b, h.State.String()...)
	b = append(b, `","expiresAt":`...)
	b = appendTime(b, h.ExpiresAt)
	b = append(b, `,"orderId":`...)
	b = appendJSONString(b, h.OrderID)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, h.Version, 10)
	return append(b, '}')
}

// appendError renders an error answer.
func appendError(b []byte, code, msg string, seatIDs []string) []byte {
	b = append(b, `{"error":"`...)
	b = append(b, code...)
	b = append(b, `","message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"seats":[`...)
	for i, s := range seatIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, "]}"...)
}

func appendCounts(b []byte, c [4]int) []byte {
	b = append(b, `{"free":`...)
	b = strconv.AppendInt(b, int64(c[seats.Free]), 10)
	b = append(b, `,"held":`...)
	b = strconv.AppendInt(b, int64(c[seats.Held]), 10)
	b = append(b, `,"awaiting_payment":`...)
	b = strconv.AppendInt(b, int64(c[seats.AwaitingPayment]), 10)
	b = append(b, `,"sold":`...)
	b = strconv.AppendInt(b, int64(c[seats.Sold]), 10)
	return append(b, '}')
}
