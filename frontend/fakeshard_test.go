package frontend

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// fakeShard speaks the shard contract (docs/api/shard-v1.openapi.yaml, the
// types of shard/shardapi) closely enough for the
// front end's own tests: holds, idempotency, per-holder limit, confirm,
// await-payment, release, the event stream with Last-Event-ID resume. It has
// no disk and no expiry. Tests that need the real thing use the real binary.
type fakeShard struct {
	srv      *httptest.Server
	token    string
	showtime string
	maxSeats int

	mu        sync.Mutex
	order     []string
	seats     map[string]string
	version   uint64
	holds     map[string]*shardapi.Hold
	idem      map[string]fakeIdem
	log       []shardapi.SeatsEvent // retained events, oldest first
	changed   chan struct{}
	nextID    int
	streamsWG sync.WaitGroup

	eventsConns  atomic.Int64
	seatsCalls   atomic.Int64
	fail503      atomic.Int64 // answer this many /v1 writes with 503 first
	lastEventIDs chan string
	closeStreams chan struct{}
	ttls         []int    // ttlSeconds of every hold, extend and await-payment, in order (under mu)
	paths        []string // every /v1 request as "METHOD PATH" (under mu)
}

type fakeIdem struct {
	sum    [32]byte
	status int
	body   []byte
}

func newFakeShard(showtime string, ids []string) *fakeShard {
	f := &fakeShard{token: "fake-token", showtime: showtime, maxSeats: 8,
		seats: map[string]string{}, holds: map[string]*shardapi.Hold{}, idem: map[string]fakeIdem{},
		changed: make(chan struct{}), lastEventIDs: make(chan string, 100), closeStreams: make(chan struct{}), version: 1}
	for _, id := range ids {
		f.order = append(f.order, id)
		f.seats[id] = shardapi.SeatFree
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/seats", f.getSeats)
	mux.HandleFunc("GET /v1/status", f.status)
	mux.HandleFunc("POST /v1/holds", f.hold)
	mux.HandleFunc("GET /v1/holds/{id}", f.getHold)
	mux.HandleFunc("POST /v1/holds/{id}/confirm", f.confirm)
	mux.HandleFunc("POST /v1/holds/{id}/await-payment", f.awaitPayment)
	mux.HandleFunc("POST /v1/holds/{id}/extend", f.extend)
	mux.HandleFunc("DELETE /v1/holds/{id}", f.release)
	mux.HandleFunc("GET /v1/events", f.events)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			writeErr(w, 401, "unauthorized", "bad token")
			return
		}
		f.mu.Lock()
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		if r.Method != http.MethodGet && f.fail503.Load() > 0 {
			f.fail503.Add(-1)
			writeErr(w, 503, "not_ready", "starting")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return f
}

func (f *fakeShard) Close() {
	f.dropStreams()
	f.srv.Close()
}

// dropStreams ends every open event stream, as a shard restart would.
func (f *fakeShard) dropStreams() {
	f.mu.Lock()
	close(f.closeStreams)
	f.closeStreams = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeShard) status(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"showtime": f.showtime, "version": f.version, "epoch": 1})
}

func (f *fakeShard) getSeats(w http.ResponseWriter, r *http.Request) {
	f.seatsCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"showtime": f.showtime, "version": f.version, "seats": f.snapshotLocked()})
}

func (f *fakeShard) snapshotLocked() []shardapi.Seat {
	out := make([]shardapi.Seat, len(f.order))
	for i, id := range f.order {
		out[i] = shardapi.Seat{ID: id, State: f.seats[id]}
	}
	return out
}

// commitLocked records a change and wakes streams.
func (f *fakeShard) commitLocked(changes []shardapi.Seat) uint64 {
	f.version++
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

// idempotent replays a stored answer, or records the one fn gives.
func (f *fakeShard) idempotent(w http.ResponseWriter, r *http.Request, body []byte, fn func() (int, any)) {
	key := r.Header.Get("Idempotency-Key")
	sum := sha256.Sum256(append([]byte(r.URL.Path+"\x00"), body...))
	if key != "" {
		if e, ok := f.idem[key]; ok {
			if e.sum != sum {
				writeErr(w, 422, "idempotency_mismatch", "key reused with another body")
				return
			}
			writeRaw(w, e.status, e.body)
			return
		}
	}
	status, v := fn()
	b, _ := json.Marshal(v)
	if key != "" {
		f.idem[key] = fakeIdem{sum: sum, status: status, body: b}
	}
	writeRaw(w, status, b)
}

func (f *fakeShard) hold(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req shardapi.HoldRequest
	if json.Unmarshal(body, &req) != nil || len(req.Seats) == 0 || req.Holder == "" {
		writeErr(w, 400, "invalid_request", "bad hold")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ttls = append(f.ttls, ttlOf(req.TTLSeconds))
	f.idempotent(w, r, body, func() (int, any) {
		var busy []string
		for _, id := range req.Seats {
			st, ok := f.seats[id]
			if !ok {
				return 400, apiError{Error: "unknown_seat", Message: id, Seats: []string{id}}
			}
			if st != shardapi.SeatFree {
				busy = append(busy, id)
			}
		}
		if len(busy) > 0 {
			return 409, apiError{Error: "seats_unavailable", Message: "taken", Seats: busy}
		}
		n := len(req.Seats)
		for _, h := range f.holds {
			if h.Holder == req.Holder && (h.State == shardapi.SeatHeld || h.State == shardapi.SeatAwaitingPayment) {
				n += len(h.Seats)
			}
		}
		if n > f.maxSeats {
			return 422, apiError{Error: "too_many_seats", Message: "limit"}
		}
		f.nextID++
		ch := make([]shardapi.Seat, len(req.Seats))
		for i, id := range req.Seats {
			ch[i] = shardapi.Seat{ID: id, State: shardapi.SeatHeld}
		}
		ttl := 10 * time.Minute
		if sec := ttlOf(req.TTLSeconds); sec > 0 {
			ttl = time.Duration(sec) * time.Second
		}
		h := &shardapi.Hold{ID: "h" + strconv.Itoa(f.nextID), Seats: req.Seats, Holder: req.Holder, State: shardapi.SeatHeld,
			ExpiresAt: time.Now().Add(ttl).UTC()}
		h.Version = f.commitLocked(ch)
		f.holds[h.ID] = h
		return 201, h
	})
}

func (f *fakeShard) getHold(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[r.PathValue("id")]
	if !ok {
		writeErr(w, 404, "hold_not_found", "no hold")
		return
	}
	writeJSON(w, 200, h)
}

func (f *fakeShard) setHoldLocked(h *shardapi.Hold, holdState, seatState string) {
	h.State = holdState
	ch := make([]shardapi.Seat, len(h.Seats))
	for i, id := range h.Seats {
		ch[i] = shardapi.Seat{ID: id, State: seatState}
	}
	h.Version = f.commitLocked(ch)
}

func (f *fakeShard) confirm(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req shardapi.ConfirmRequest
	_ = json.Unmarshal(body, &req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idempotent(w, r, body, func() (int, any) {
		h, ok := f.holds[r.PathValue("id")]
		if !ok {
			return 404, apiError{Error: "hold_not_found"}
		}
		switch h.State {
		case shardapi.SeatSold:
			if h.OrderID == req.OrderID {
				return 200, h
			}
			return 409, apiError{Error: "hold_sold"}
		case shardapi.SeatHeld, shardapi.SeatAwaitingPayment:
			h.OrderID = req.OrderID
			f.setHoldLocked(h, shardapi.SeatSold, shardapi.SeatSold)
			return 200, h
		}
		return 409, apiError{Error: "hold_expired"}
	})
}

// readTTL records a request's ttlSeconds (0 when absent).
func (f *fakeShard) readTTL(r *http.Request) {
	var req shardapi.TTLRequest
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &req)
	f.ttls = append(f.ttls, ttlOf(req.TTLSeconds))
}

// ttlOf is an optional ttlSeconds, 0 when absent.
func ttlOf(sec *int64) int {
	if sec == nil {
		return 0
	}
	return int(*sec)
}

func (f *fakeShard) lastTTL() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ttls) == 0 {
		return -1
	}
	return f.ttls[len(f.ttls)-1]
}

// expire ends a hold as the shard does when its time is up.
func (f *fakeShard) expire(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setHoldLocked(f.holds[id], "expired", shardapi.SeatFree)
}

// activeHoldLocked records the request's ttl and finds the held or
// awaiting-payment hold it names, answering 404 or 409 (ok false) as the
// shard does when there is none. f.mu must be held.
func (f *fakeShard) activeHoldLocked(w http.ResponseWriter, r *http.Request) (*shardapi.Hold, bool) {
	f.readTTL(r)
	h, ok := f.holds[r.PathValue("id")]
	if !ok {
		writeErr(w, 404, "hold_not_found", "")
		return nil, false
	}
	if h.State != shardapi.SeatHeld && h.State != shardapi.SeatAwaitingPayment {
		writeErr(w, 409, "hold_expired", "")
		return nil, false
	}
	return h, true
}

func (f *fakeShard) extend(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.activeHoldLocked(w, r)
	if !ok {
		return
	}
	h.ExpiresAt = time.Now().Add(time.Duration(f.ttls[len(f.ttls)-1]) * time.Second).UTC()
	writeJSON(w, 200, h)
}

func (f *fakeShard) awaitPayment(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.activeHoldLocked(w, r)
	if !ok {
		return
	}
	if h.State == shardapi.SeatHeld {
		f.setHoldLocked(h, shardapi.SeatAwaitingPayment, shardapi.SeatAwaitingPayment)
	}
	writeJSON(w, 200, h)
}

func (f *fakeShard) release(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[r.PathValue("id")]
	if !ok {
		writeErr(w, 404, "hold_not_found", "")
		return
	}
	switch h.State {
	case shardapi.SeatSold:
		writeErr(w, 409, "hold_sold", "")
		return
	case shardapi.SeatHeld, shardapi.SeatAwaitingPayment:
		f.setHoldLocked(h, "released", shardapi.SeatFree)
	}
	writeJSON(w, 200, h)
}

func (f *fakeShard) events(w http.ResponseWriter, r *http.Request) {
	f.eventsConns.Add(1)
	last := r.Header.Get("Last-Event-ID")
	select {
	case f.lastEventIDs <- last:
	default:
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	f.mu.Lock()
	closing := f.closeStreams
	var sent uint64
	v, err := strconv.ParseUint(last, 10, 64)
	if err == nil && v <= f.version && (len(f.log) == 0 || v+1 >= f.log[0].Version) {
		sent = v
	} else {
		_, _ = w.Write(encodeEvent("snapshot", f.version, shardapi.SnapshotEvent{Version: f.version, Seats: f.snapshotLocked()}))
		sent = f.version
	}
	f.mu.Unlock()
	for {
		f.mu.Lock()
		var out []byte
		for _, e := range f.log {
			if e.Version > sent {
				out = append(out, encodeEvent("seats", e.Version, e)...)
				sent = e.Version
			}
		}
		changed := f.changed
		f.mu.Unlock()
		if len(out) > 0 {
			if _, err := w.Write(out); err != nil {
				return
			}
		}
		w.(http.Flusher).Flush()
		select {
		case <-changed:
		case <-closing:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (f *fakeShard) String() string { return fmt.Sprintf("fakeShard(%s)", f.srv.URL) }
