package server

import (
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
)

func FuzzDecodeHold(f *testing.F) {
	for _, s := range []string{
		`{"seats":["stalls/A/1","stalls/A/2"],"holder":"buyer-1","ttlSeconds":600}`,
		`{"seats":["stalls/A/1"],"holder":"b"}`, `{"seats":[],"holder":"b"}`, `{"seats":["stalls/A/1","stalls/A/1"],"holder":"b"}`,
		`{"seats":["x"],"holder":"b","ttlSeconds":-1}`, `{"seats":["stalls/A/1"],"holder":"b","ttlSeconds":1e99}`,
		`{"seats":null}`, `[]`, `{`, ``, `{"seats":["stalls/A/1"],"holder":"\u0000\ud800","extra":1}`,
	} {
		f.Add([]byte(s))
	}
	ix, _ := seats.NewIndex(seatIDs("AB", 5))
	f.Fuzz(func(t *testing.T, body []byte) {
		var c seats.Command
		e := DecodeHold(body, ix, 10*time.Minute, 2*time.Hour, 4, &c)
		if e != nil {
			if e.Status < 400 || e.Code == "" {
				t.Fatalf("bad error %+v", e)
			}
			return
		}
		if err := seats.ValidateHold(c.Holder, c.Seats, c.TTL); err != nil {
			t.Fatalf("accepted an invalid hold: %v", err)
		}
		if c.TTL > int64(2*time.Hour) || len(c.Seats) > 4 || len(c.Holder) > MaxHolderLen {
			t.Fatalf("limits not applied: %+v", c)
		}
		// What the handler accepts must survive the log.
		var d seats.Command
		if err := seats.DecodeCommand(c.AppendBinary(nil), &d); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeHoldOp(f *testing.F) {
	f.Add(uint8(seats.OpExtend), "h1", []byte(`{"ttlSeconds":60}`))
	f.Add(uint8(seats.OpAwaitPayment), "h12", []byte(``))
	f.Add(uint8(seats.OpConfirm), "h3", []byte(`{"orderId":"o-1"}`))
	f.Add(uint8(seats.OpConfirm), "h03", []byte(`{"orderId":""}`))
	f.Add(uint8(seats.OpRelease), "x", []byte(`null`))
	f.Fuzz(func(t *testing.T, op uint8, id string, body []byte) {
		o := seats.Op(op%uint8(seats.OpGet)) + 1
		var c seats.Command
		if e := DecodeHoldOp(o, id, body, 10*time.Minute, 2*time.Hour, &c); e != nil {
			return
		}
		if c.HoldID == 0 || (o == seats.OpConfirm && c.OrderID == "") || c.TTL > int64(2*time.Hour) || c.TTL < 0 {
			t.Fatalf("accepted %+v", c)
		}
		if got := string(appendHoldID(nil, c.HoldID)); got != id {
			t.Fatalf("hold id %q renders as %q", id, got)
		}
	})
}
