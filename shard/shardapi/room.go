package shardapi

import (
	"strconv"
	"time"
)

// RoomPlacePath is /v1/room/places/{id}; action, if not "", is appended
// ("touch").
func RoomPlacePath(id uint64, action string) string {
	p := PathRoom + "/places/" + strconv.FormatUint(id, 10)
	if action != "" {
		p += "/" + action
	}
	return p
}

// AdmissionHolder is the holder of the seats a waiting-room admission holds:
// the place itself, so the per-holder seat limit is per place (a new cookie
// is a new place, not more seats). The shard derives an admission's activity
// and its end by purchase from holds by this holder.
func AdmissionHolder(place uint64) string { return "w:" + strconv.FormatUint(place, 10) }

// RoomConfigRequest is the body of PUT /v1/room.
type RoomConfigRequest struct {
	MaxActiveBuyers    int       `json:"maxActiveBuyers"`
	IdleTimeoutSeconds int64     `json:"idleTimeoutSeconds"`
	PreQueueSeconds    int64     `json:"preQueueSeconds,omitempty"`
	OpensAt            time.Time `json:"opensAt"`
}

// RoomConfig is the answer of PUT /v1/room: the configuration in force.
type RoomConfig struct {
	Configured         bool      `json:"configured"`
	MaxActiveBuyers    int       `json:"maxActiveBuyers"`
	IdleTimeoutSeconds float64   `json:"idleTimeoutSeconds"`
	MaxSeats           int       `json:"maxSeats"`
	PreQueueAt         time.Time `json:"preQueueAt"`
	OpensAt            time.Time `json:"opensAt"`
}

// JoinRequest is the body of POST /v1/room/join: 16 random bytes in
// hexadecimal, chosen once per visit and reused for every retry.
type JoinRequest struct {
	Key string `json:"key"`
}

// Place states.
const (
	PlacePreQueued = "pre_queued"
	PlaceWaiting   = "waiting"
	PlaceAdmitted  = "admitted"
)

// Place is a place in the waiting room (join, touch, GET
// /v1/room/places/{id}). Which fields are set depends on State.
type Place struct {
	Place        uint64     `json:"place"`
	State        string     `json:"state"`
	PreQueue     int        `json:"preQueue,omitempty"`
	Slot         int        `json:"slot,omitempty"`
	Ahead        int        `json:"ahead,omitempty"`
	WaitSeconds  float64    `json:"waitSeconds,omitempty"`
	Measured     bool       `json:"measured,omitempty"`
	MaxSeats     int        `json:"maxSeats,omitempty"`
	IdleDeadline *time.Time `json:"idleDeadline,omitempty"` // admitted: nil while it holds seats
}

// RoomSummary is the waiting room in a few numbers: GET /v1/room/status,
// "room" in /v1/status and the data of "event: room". Counts are signed so
// that a reader can refuse nonsense instead of wrapping it.
type RoomSummary struct {
	Configured     bool `json:"configured"`
	Open           bool `json:"open,omitempty"`
	SoldOut        bool `json:"soldOut,omitempty"`
	SeatsMayReturn bool `json:"seatsMayReturn,omitempty"`
	// PreQueueAt and OpensAt are set while the room is configured: when the
	// pre-queue opened (or opens) and when the sale opens.
	PreQueueAt        *time.Time `json:"preQueueAt,omitempty"`
	OpensAt           *time.Time `json:"opensAt,omitempty"`
	PreQueued         int64      `json:"preQueued,omitempty"`
	Waiting           int64      `json:"waiting,omitempty"`
	Active            int64      `json:"active,omitempty"`
	Choosing          int64      `json:"choosing,omitempty"`
	Free              int64      `json:"free,omitempty"`
	Held              int64      `json:"held,omitempty"`
	Sold              int64      `json:"sold,omitempty"`
	Admitted          int64      `json:"admitted,omitempty"`
	TimedOut          int64      `json:"timedOut,omitempty"`
	Bought            int64      `json:"bought,omitempty"`
	Rate              float64    `json:"rate,omitempty"`
	MedianWaitSeconds float64    `json:"medianWaitSeconds,omitempty"`
	P99WaitSeconds    float64    `json:"p99WaitSeconds,omitempty"`
	Head              int64      `json:"head,omitempty"`
	BucketStart       int64      `json:"bucketStart,omitempty"`
	BucketSize        int64      `json:"bucketSize,omitempty"`
	Buckets           []int64    `json:"buckets,omitempty"`
}
