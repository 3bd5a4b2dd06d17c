package shardapi_test

import (
	"testing"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Every answer code of the seat machine is a code of the contract, and
// every code has a status.
func TestSeatCodesAreContractCodes(t *testing.T) {
	for c := seats.ErrInvalid; c <= seats.LastCode; c++ {
		if shardapi.Code(c.String()).HTTPStatus() == 0 {
			t.Errorf("seats.%v answers %q, which the contract does not list", c, c.String())
		}
	}
	for _, c := range shardapi.Codes() {
		if s := c.HTTPStatus(); s < 400 || s > 599 {
			t.Errorf("%s: status %d", c, s)
		}
	}
	if shardapi.CodeNotLeader.HTTPStatus() != 421 {
		t.Fatal("not_leader must be 421")
	}
}

// Seat and hold state names are the machine's.
func TestStateNamesAreTheMachines(t *testing.T) {
	for st, want := range map[seats.SeatState]string{seats.Free: shardapi.SeatFree, seats.Held: shardapi.SeatHeld,
		seats.AwaitingPayment: shardapi.SeatAwaitingPayment, seats.Sold: shardapi.SeatSold} {
		if st.String() != want {
			t.Errorf("seat state %v, contract %q", st, want)
		}
	}
	for st, want := range map[seats.HoldState]string{seats.HoldHeld: shardapi.HoldHeld, seats.HoldAwaitingPayment: shardapi.HoldAwaitingPayment,
		seats.HoldSold: shardapi.HoldSold, seats.HoldReleased: shardapi.HoldReleased, seats.HoldExpired: shardapi.HoldExpired} {
		if st.String() != want {
			t.Errorf("hold state %v, contract %q", st, want)
		}
	}
}
