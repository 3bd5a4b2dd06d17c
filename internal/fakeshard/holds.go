package fakeshard

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// idemAnswer is a stored answer to a write with an Idempotency-Key.
type idemAnswer struct {
	sum    [32]byte
	status int
	body   []byte
}

func (f *Seats) getSeats(w http.ResponseWriter, r *http.Request) {
	f.seatsCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	WriteJSON(w, http.StatusOK, shardapi.Seats{Showtime: f.Showtime, Version: f.version, Seats: f.snapshotLocked()})
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// idempotent replays a stored answer, or records the one fn gives.
func (f *Seats) idempotent(w http.ResponseWriter, r *http.Request, body []byte, fn func() (int, any)) {
	key := r.Header.Get("Idempotency-Key")
	sum := sha256.Sum256(append([]byte(r.URL.Path+"\x00"), body...))
	if key != "" {
		if e, ok := f.idem[key]; ok {
			if e.sum != sum {
				WriteError(w, &Error{Code: shardapi.CodeIdempotencyMismatch, Message: "key reused with another body"})
				return
			}
			writeRaw(w, e.status, e.body)
			return
		}
	}
	status, v := fn()
	b, _ := json.Marshal(v)
	if key != "" {
		f.idem[key] = idemAnswer{sum: sum, status: status, body: b}
	}
	writeRaw(w, status, b)
}

func (f *Seats) hold(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req shardapi.HoldRequest
	if json.Unmarshal(body, &req) != nil || len(req.Seats) == 0 || req.Holder == "" {
		WriteError(w, &Error{Code: shardapi.CodeInvalidRequest, Message: "bad hold"})
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
				return 400, &Error{Code: shardapi.CodeUnknownSeat, Message: id, Seats: []string{id}}
			}
			if st != shardapi.SeatFree {
				busy = append(busy, id)
			}
		}
		if len(busy) > 0 {
			return 409, &Error{Code: shardapi.CodeSeatsUnavailable, Message: "taken", Seats: busy}
		}
		n := len(req.Seats)
		for _, h := range f.holds {
			if h.Holder == req.Holder && (h.State == shardapi.SeatHeld || h.State == shardapi.SeatAwaitingPayment) {
				n += len(h.Seats)
			}
		}
		if n > f.MaxSeats {
			return 422, &Error{Code: shardapi.CodeTooManySeats, Message: "limit"}
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

func (f *Seats) getHold(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[r.PathValue("id")]
	if !ok {
		WriteError(w, &Error{Code: shardapi.CodeHoldNotFound, Message: "no hold"})
		return
	}
	WriteJSON(w, http.StatusOK, h)
}

func (f *Seats) setHoldLocked(h *shardapi.Hold, holdState, seatState string) {
	h.State = holdState
	ch := make([]shardapi.Seat, len(h.Seats))
	for i, id := range h.Seats {
		ch[i] = shardapi.Seat{ID: id, State: seatState}
	}
	h.Version = f.commitLocked(ch)
}

func (f *Seats) confirm(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req shardapi.ConfirmRequest
	_ = json.Unmarshal(body, &req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idempotent(w, r, body, func() (int, any) {
		h, ok := f.holds[r.PathValue("id")]
		if !ok {
			return 404, &Error{Code: shardapi.CodeHoldNotFound}
		}
		switch h.State {
		case shardapi.SeatSold:
			if h.OrderID == req.OrderID {
				return 200, h
			}
			return 409, &Error{Code: shardapi.CodeHoldSold}
		case shardapi.SeatHeld, shardapi.SeatAwaitingPayment:
			h.OrderID = req.OrderID
			f.setHoldLocked(h, shardapi.SeatSold, shardapi.SeatSold)
			return 200, h
		}
		return 409, &Error{Code: shardapi.CodeHoldExpired}
	})
}

// readTTL records a request's ttlSeconds (0 when absent).
func (f *Seats) readTTL(r *http.Request) {
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

// activeHoldLocked records the request's ttl and finds the held or
// awaiting-payment hold it names, answering 404 or 409 (ok false) as the
// shard does when there is none. f.mu must be held.
func (f *Seats) activeHoldLocked(w http.ResponseWriter, r *http.Request) (*shardapi.Hold, bool) {
	f.readTTL(r)
	h, ok := f.holds[r.PathValue("id")]
	if !ok {
		WriteError(w, &Error{Code: shardapi.CodeHoldNotFound})
		return nil, false
	}
	if h.State != shardapi.SeatHeld && h.State != shardapi.SeatAwaitingPayment {
		WriteError(w, &Error{Code: shardapi.CodeHoldExpired})
		return nil, false
	}
	return h, true
}

// withActiveHold runs fn on the active hold the request names, under f.mu,
// and answers the hold.
func (f *Seats) withActiveHold(w http.ResponseWriter, r *http.Request, fn func(*shardapi.Hold)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.activeHoldLocked(w, r); ok {
		fn(h)
		WriteJSON(w, http.StatusOK, h)
	}
}

func (f *Seats) extend(w http.ResponseWriter, r *http.Request) {
	f.withActiveHold(w, r, func(h *shardapi.Hold) {
		h.ExpiresAt = time.Now().Add(time.Duration(f.ttls[len(f.ttls)-1]) * time.Second).UTC()
	})
}

func (f *Seats) awaitPayment(w http.ResponseWriter, r *http.Request) {
	f.withActiveHold(w, r, func(h *shardapi.Hold) {
		if h.State == shardapi.SeatHeld {
			f.setHoldLocked(h, shardapi.SeatAwaitingPayment, shardapi.SeatAwaitingPayment)
		}
	})
}

func (f *Seats) release(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[r.PathValue("id")]
	if !ok {
		WriteError(w, &Error{Code: shardapi.CodeHoldNotFound})
		return
	}
	switch h.State {
	case shardapi.SeatSold:
		WriteError(w, &Error{Code: shardapi.CodeHoldSold})
		return
	case shardapi.SeatHeld, shardapi.SeatAwaitingPayment:
		f.setHoldLocked(h, shardapi.HoldReleased, shardapi.SeatFree)
	}
	WriteJSON(w, http.StatusOK, h)
}
