package server

import (
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/waitroom"
)

// TestRoomPacer: the first summary and one after a quiet second go out at
// once; one sooner is held back with the timer armed once; an unchanged or
// missing room sends nothing.
func TestRoomPacer(t *testing.T) {
	p := newRoomPacer()
	defer p.stop()
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	view := func(seq uint64) *roomView { return &roomView{st: waitroom.Status{Configured: true}, seq: seq} }
	if p.next(nil, t0) != nil || p.next(&roomView{seq: 1}, t0) != nil {
		t.Fatal("a summary without a configured room")
	}
	if v := p.next(view(1), t0); v == nil || v.seq != 1 {
		t.Fatalf("the first summary was held back: %v", v)
	}
	if p.next(view(1), t0.Add(2*time.Second)) != nil {
		t.Fatal("an unchanged summary was sent again")
	}
	if p.next(view(2), t0.Add(300*time.Millisecond)) != nil || !p.armed {
		t.Fatalf("a change 300 ms after the last summary went out at once (armed %v)", p.armed)
	}
	if p.next(view(3), t0.Add(600*time.Millisecond)) != nil || !p.armed {
		t.Fatal("a second change within the second went out")
	}
	p.armed = false // the timer fired
	if v := p.next(view(3), t0.Add(roomEventEvery)); v == nil || v.seq != 3 {
		t.Fatalf("the held-back summary did not go out when due: %v", v)
	}
	if v := p.next(view(4), t0.Add(roomEventEvery+5*time.Second)); v == nil || v.seq != 4 {
		t.Fatalf("a change after a quiet second was held back: %v", v)
	}
}

// TestRoomPacerMovesTheLineSooner: a summary with a new admission (or the
// line opening or closing) is not held back a second behind a recount that
// just went out: it goes out at once roomMoveEvery after the last summary,
// and a held-back recount's timer is brought forward for it.
func TestRoomPacerMovesTheLineSooner(t *testing.T) {
	p := newRoomPacer()
	defer p.stop()
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	view := func(seq, admitted uint64, soldOut bool) *roomView {
		return &roomView{st: waitroom.Status{Configured: true, Open: true, Admitted: admitted, SoldOut: soldOut}, seq: seq}
	}
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	if p.next(view(1, 5, false), t0) == nil {
		t.Fatal("the first summary was held back")
	}
	if p.next(view(2, 5, false), ms(100)) != nil || !p.due.Equal(t0.Add(roomEventEvery)) {
		t.Fatalf("a recount 100 ms later: timer due %v, want a second after the last", p.due)
	}
	if p.next(view(3, 6, false), ms(200)) != nil || !p.due.Equal(t0.Add(roomMoveEvery)) {
		t.Fatalf("an admission 200 ms later: timer due %v, want roomMoveEvery after the last", p.due)
	}
	p.armed = false // the timer fired
	if v := p.next(view(3, 6, false), t0.Add(roomMoveEvery)); v == nil || v.seq != 3 {
		t.Fatalf("the admission did not go out when due: %v", v)
	}
	if p.next(view(4, 6, false), t0.Add(roomMoveEvery+400*time.Millisecond)) != nil {
		t.Fatal("a recount went out less than a second after the last summary")
	}
	if v := p.next(view(5, 6, true), t0.Add(roomMoveEvery+400*time.Millisecond)); v == nil || v.seq != 5 {
		t.Fatalf("sold out was held back behind the recount pacing: %v", v)
	}
	if v := p.next(view(6, 7, true), t0.Add(2*roomMoveEvery+500*time.Millisecond)); v == nil || v.seq != 6 {
		t.Fatalf("an admission roomMoveEvery after the last summary was held back: %v", v)
	}
}
