package shardapi

import "time"

// Status is the answer of GET /v1/status. The cluster fields (v2) are set on
// members of a replicated shard; a shard without --peers sends Role
// "single" and none of them. The reports (ReportsID and after) are what
// on-call must see; shards that predate them do not send them.
type Status struct {
	Showtime string `json:"showtime"`
	Version  uint64 `json:"version"`
	// Epoch rises with every owner of the log: every start of a single
	// shard; the Raft term in a replicated one.
	Epoch int64 `json:"epoch"`
	// LogFormat is the log format the shard writes and the newest it
	// reads; shards from before the field was sent write format 1.
	LogFormat int64 `json:"logFormat,omitempty"`

	// Cluster mode (v2).
	Role         string `json:"role,omitempty"` // RoleSingle, RoleLeader, RoleFollower, RoleCandidate
	Term         int64  `json:"term,omitempty"`
	Leader       string `json:"leader,omitempty"` // the leader's --advertise-url, "" while unknown
	ID           int    `json:"id,omitempty"`     // --id
	RaftID       uint64 `json:"raftID,omitempty"`
	CommitIndex  int64  `json:"commitIndex,omitempty"`
	AppliedIndex int64  `json:"appliedIndex,omitempty"`
	Joining      bool   `json:"joining,omitempty"` // a member still being added
	// Members: on the leader only.
	Members []Member `json:"members,omitempty"`

	Counts            Counts `json:"counts"`
	Total             int64  `json:"total"`
	Ready             bool   `json:"ready"`
	NotReadyReason    string `json:"notReadyReason,omitempty"`
	HoldTTLSeconds    int64  `json:"holdTTLSeconds"`
	MaxHoldTTLSeconds int64  `json:"maxHoldTTLSeconds"`
	MaxSeatsPerHolder int    `json:"maxSeatsPerHolder"`
	StreamClients     int64  `json:"streamClients"`
	LogBytes          int64  `json:"logBytes"`

	LogWriteStalledSeconds float64 `json:"logWriteStalledSeconds"`
	VolumeFreeBytes        int64   `json:"volumeFreeBytes"`
	VolumeLow              bool    `json:"volumeLow"`

	ReportsID            string        `json:"reportsId,omitempty"`
	PaidAfterExpiryTotal uint64        `json:"paidAfterExpiryTotal,omitempty"`
	PaidAfterExpiry      []LatePayment `json:"paidAfterExpiry,omitempty"`
	LogWarningsTotal     uint64        `json:"logWarningsTotal,omitempty"`
	LogWarnings          []LogWarning  `json:"logWarnings,omitempty"`

	// Room is the waiting room's summary, once one is configured.
	Room *RoomSummary `json:"room,omitempty"`
}

// Member is one member of a replicated shard as the leader sees it: Match is
// the highest log index known stored on it.
type Member struct {
	ID      int    `json:"id"`
	URL     string `json:"url"`
	Match   int64  `json:"match"`
	Healthy bool   `json:"healthy"`
}

// LatePayment is a confirm with an order id that came after its hold had
// expired or was released (answered 409 hold_expired: the buyer paid, no
// seat was sold).
type LatePayment struct {
	Seq     uint64    `json:"seq"`
	Hold    string    `json:"hold"`
	OrderID string    `json:"orderId"`
	At      time.Time `json:"at"`
}

// LogWarning is damage the shard found in its log at start-up.
type LogWarning struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"` // damaged_last_record
	File    string    `json:"file"`
	Offset  int64     `json:"offset"`
	Bytes   int64     `json:"bytes"`
	Record  uint64    `json:"record"`
	Message string    `json:"message"`
}
