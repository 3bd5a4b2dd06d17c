package fakeshard

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Seats is a fake shard with seats: it speaks the seat side of contract v1
// closely enough for a client's own tests — holds, idempotency, the
// per-holder limit, confirm, await-payment, extend, release, the event
// stream with Last-Event-ID resume — on a Server that checks the token and
// answers /v1/status with the current version. It has no disk and no expiry
// of its own (Expire ends a hold when a test says so).
type Seats struct {
	*Server
	Token    string
	Showtime string
	MaxSeats int // per holder, over its held and awaiting-payment holds

	mu           sync.Mutex
	order        []string
	seats        map[string]string
	version      uint64
	holds        map[string]*shardapi.Hold
	idem         map[string]idemAnswer
	log          []shardapi.SeatsEvent // retained events, oldest first
	changed      chan struct{}
	nextID       int
	closeStreams chan struct{}
	ttls         []int    // ttlSeconds of every hold, extend and await-payment, in order
	paths        []string // every /v1 request as "METHOD PATH"

	eventsConns  atomic.Int64
	seatsCalls   atomic.Int64
	failWrites   atomic.Int64
	lastEventIDs chan string
}

// NewSeats starts a Seats for showtime with the seats ids, all free, at
// version 1, with token "fake-token" and a limit of 8 seats per holder.
func NewSeats(showtime string, ids []string) (*Seats, error) {
	srv, err := New()
	if err != nil {
		return nil, err
	}
	f := &Seats{Server: srv, Token: "fake-token", Showtime: showtime, MaxSeats: 8,
		seats: map[string]string{}, holds: map[string]*shardapi.Hold{}, idem: map[string]idemAnswer{},
		changed: make(chan struct{}), lastEventIDs: make(chan string, 100), closeStreams: make(chan struct{}), version: 1}
	for _, id := range ids {
		f.order = append(f.order, id)
		f.seats[id] = shardapi.SeatFree
	}
	srv.RequireToken(f.Token)
	srv.Intercept(f.intercept)
	f.publishStatusLocked()
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /v1/seats":                     f.getSeats,
		"POST /v1/holds":                    f.hold,
		"GET /v1/holds/{id}":                f.getHold,
		"POST /v1/holds/{id}/confirm":       f.confirm,
		"POST /v1/holds/{id}/await-payment": f.awaitPayment,
		"POST /v1/holds/{id}/extend":        f.extend,
		"DELETE /v1/holds/{id}":             f.release,
		"GET /v1/events":                    f.events,
	} {
		srv.Handle(pattern, h)
	}
	return f, nil
}

// Close ends the event streams and the server.
func (f *Seats) Close() error {
	f.DropStreams()
	return f.Server.Close()
}

func (f *Seats) String() string { return fmt.Sprintf("fakeshard.Seats(%s)", f.URL) }

// intercept records every /v1 call and answers the next FailWrites writes
// with 503 not_ready.
func (f *Seats) intercept(r *http.Request) *Error {
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	if r.Method != http.MethodGet && f.failWrites.Load() > 0 {
		f.failWrites.Add(-1)
		return &Error{Code: shardapi.CodeNotReady, Message: "starting"}
	}
	return nil
}

// FailWrites makes the next n /v1 writes answer 503 not_ready (0: none).
func (f *Seats) FailWrites(n int64) { f.failWrites.Store(n) }

// WritesToFail is how many writes are still to be failed.
func (f *Seats) WritesToFail() int64 { return f.failWrites.Load() }

// Paths lists every /v1 call so far as "METHOD PATH".
func (f *Seats) Paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// HoldIDs lists the ids of every hold made, sorted.
func (f *Seats) HoldIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.holds))
	for id := range f.holds {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// LastTTL is the ttlSeconds of the last hold, extend or await-payment (0
// when it had none, -1 before any).
func (f *Seats) LastTTL() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ttls) == 0 {
		return -1
	}
	return f.ttls[len(f.ttls)-1]
}

// EventsConns counts the GET /v1/events connections so far.
func (f *Seats) EventsConns() int64 { return f.eventsConns.Load() }

// SeatsCalls counts the GET /v1/seats calls so far.
func (f *Seats) SeatsCalls() int64 { return f.seatsCalls.Load() }

// LastEventIDs gets the Last-Event-ID of each event-stream connection ("" for
// none), up to 100 not yet read.
func (f *Seats) LastEventIDs() <-chan string { return f.lastEventIDs }

// DropStreams ends every open event stream, as a shard restart would.
func (f *Seats) DropStreams() {
	f.mu.Lock()
	close(f.closeStreams)
	f.closeStreams = make(chan struct{})
	f.mu.Unlock()
}

// Commit makes each batch of seat changes a version of its own, at once, as
// if other clients had made them.
func (f *Seats) Commit(batches ...[]shardapi.Seat) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range batches {
		f.commitLocked(b)
	}
}

// Expire ends a hold as the shard does when its time is up.
func (f *Seats) Expire(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setHoldLocked(f.holds[id], shardapi.HoldExpired, shardapi.SeatFree)
}

// publishStatusLocked makes GET /v1/status answer the current version.
func (f *Seats) publishStatusLocked() {
	f.Set(Loopback, Member{Status: &shardapi.Status{Showtime: f.Showtime, Version: f.version, Epoch: 1}})
}

func (f *Seats) snapshotLocked() []shardapi.Seat {
	out := make([]shardapi.Seat, len(f.order))
	for i, id := range f.order {
		out[i] = shardapi.Seat{ID: id, State: f.seats[id]}
	}
	return out
}

// commitLocked records a change and wakes streams.
func (f *Seats) commitLocked(changes []shardapi.Seat) uint64 {
	f.version++
	f.publishStatusLocked()
	for _, c := range changes {
		f.seats[c.ID] = c.State
	}
	f.log = append(f.log, shardapi.SeatsEvent{Version: f.version, Changes: changes})
	if len(f.log) > 1000 {
		f.log = f.log[1:]
	}
	close(f.changed)
	f.changed = make(chan struct{})
	return f.version
}
