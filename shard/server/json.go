package server

import (
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

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
		b = shardapi.AppendString(b, ix.ID(s))
	}
	b = append(b, `],"holder":`...)
	b = shardapi.AppendString(b, h.Holder)
	b = append(b, `,"state":"`...)
	b = append(b, h.State.String()...)
	b = append(b, `","expiresAt":`...)
	b = appendTime(b, h.ExpiresAt)
	b = append(b, `,"orderId":`...)
	b = shardapi.AppendString(b, h.OrderID)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, h.Version, 10)
	return append(b, '}')
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
