package shardapi

import (
	"strconv"
	"time"
)

// Paths of the contract's endpoints (the {id} ones are built by HoldPath and
// friends).
const (
	PathSeats      = "/v1/seats"
	PathHolds      = "/v1/holds"
	PathEvents     = "/v1/events"
	PathStatus     = "/v1/status"
	PathRoom       = "/v1/room"
	PathRoomJoin   = "/v1/room/join"
	PathRoomStatus = "/v1/room/status"
	PathMetrics    = "/metrics"
	PathReadyz     = "/readyz"
	PathHealthz    = "/healthz"
)

// HoldPath is /v1/holds/{id}; action, if not "", is appended ("extend",
// "await-payment", "confirm"). id must be a path segment that needs no
// escaping (hold ids are "h" and digits).
func HoldPath(id, action string) string {
	if action == "" {
		return PathHolds + "/" + id
	}
	return PathHolds + "/" + id + "/" + action
}

// HoldRequest is the body of POST /v1/holds.
type HoldRequest struct {
	Seats  []string `json:"seats"`
	Holder string   `json:"holder"`
	// TTLSeconds is optional (nil: the shard's --hold-ttl), capped by
	// --max-hold-ttl; 0 or negative is 400.
	TTLSeconds *int64 `json:"ttlSeconds,omitempty"`
}

// TTLRequest is the body of POST /v1/holds/{id}/extend and
// /v1/holds/{id}/await-payment (optional for await-payment).
type TTLRequest struct {
	TTLSeconds *int64 `json:"ttlSeconds,omitempty"`
}

// ConfirmRequest is the body of POST /v1/holds/{id}/confirm.
type ConfirmRequest struct {
	OrderID string `json:"orderId"`
}

// Hold is a hold as every hold endpoint answers it.
type Hold struct {
	ID     string   `json:"id"`
	Seats  []string `json:"seats"`
	Holder string   `json:"holder"`
	// State is one of HoldHeld, HoldAwaitingPayment, HoldSold,
	// HoldReleased, HoldExpired.
	State     string    `json:"state"`
	ExpiresAt time.Time `json:"expiresAt"`
	OrderID   string    `json:"orderId"` // "" until sold
	Version   uint64    `json:"version"`
}

// Seat is one seat's id and state (SeatFree, SeatHeld, ...).
type Seat struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// Counts are seats by state.
type Counts struct {
	Free            int64 `json:"free"`
	Held            int64 `json:"held"`
	AwaitingPayment int64 `json:"awaiting_payment"`
	Sold            int64 `json:"sold"`
}

// Seats is the answer of GET /v1/seats.
type Seats struct {
	Showtime string `json:"showtime"`
	Version  uint64 `json:"version"`
	Seats    []Seat `json:"seats"`
	Counts   Counts `json:"counts"`
}

// SnapshotEvent is the data of "event: snapshot" on /v1/events: every seat
// at Version.
type SnapshotEvent struct {
	Version uint64 `json:"version"`
	Seats   []Seat `json:"seats"`
}

// SeatsEvent is the data of "event: seats": the seats changed since the last
// event, each with its state at Version.
type SeatsEvent struct {
	Version uint64 `json:"version"`
	Changes []Seat `json:"changes"`
}

// Event names on /v1/events.
const (
	EventSnapshot = "snapshot"
	EventSeats    = "seats"
	EventRoom     = "room" // data: RoomSummary, no id
)

// Error is an error answer. As a Go error it also carries the HTTP status
// it came with (Status; not on the wire).
type Error struct {
	Code    Code     `json:"error"`
	Message string   `json:"message"`
	Seats   []string `json:"seats"`
	// Leader is set on 421 not_leader (v2): the leader's advertise URL, ""
	// while no leader is known. Absent from every other error.
	Leader *string `json:"leader,omitempty"`

	Status int `json:"-"`
}

func (e *Error) Error() string {
	s := string(e.Code)
	if e.Status != 0 {
		s = "status " + strconv.Itoa(e.Status) + " " + s
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Leader != nil && *e.Leader != "" {
		s += " (leader " + *e.Leader + ")"
	}
	return s
}

// LeaderURL is the leader named by a not_leader error ("" if none is known
// or the error is another one).
func (e *Error) LeaderURL() string {
	if e == nil || e.Code != CodeNotLeader || e.Leader == nil {
		return ""
	}
	return *e.Leader
}
