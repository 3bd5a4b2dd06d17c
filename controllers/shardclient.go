package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ShardReport is the part of a shard's GET /v1/status the operator reads.
type ShardReport struct {
	Showtime string      `json:"showtime"`
	Version  int64       `json:"version"`
	Epoch    int64       `json:"epoch"`
	Counts   ShardCounts `json:"counts"`
	// Cluster mode (contract v2); absent or "single" for a 1-member shard.
	Role         string        `json:"role,omitempty"`
	Term         int64         `json:"term,omitempty"`
	Leader       string        `json:"leader,omitempty"`
	ID           int           `json:"id,omitempty"`
	RaftID       uint64        `json:"raftID,omitempty"`
	CommitIndex  int64         `json:"commitIndex,omitempty"`
	AppliedIndex int64         `json:"appliedIndex,omitempty"`
	Joining      bool          `json:"joining,omitempty"`
	Members      []ShardPeerAt `json:"members,omitempty"`
	// Reports on-call must see, raised as Warning events
	// (showtime_shardwarnings.go); absent from shards that predate them.
	ReportsID       string             `json:"reportsId,omitempty"`
	PaidAfterExpiry []ShardLatePayment `json:"paidAfterExpiry,omitempty"`
	LogWarnings     []ShardLogWarning  `json:"logWarnings,omitempty"`
	// Room is the waiting room's summary; absent while no room is
	// configured, and from shards that predate the room.
	Room *ShardRoom `json:"room,omitempty"`
}

// ShardRoom is the part of the shard's room summary (the "room" object of
// GET /v1/status, the same as GET /v1/room/status) the operator reads.
type ShardRoom struct {
	Configured        bool    `json:"configured"`
	Open              bool    `json:"open"`
	SoldOut           bool    `json:"soldOut"`
	SeatsMayReturn    bool    `json:"seatsMayReturn"`
	PreQueued         int64   `json:"preQueued"`
	Waiting           int64   `json:"waiting"`
	Active            int64   `json:"active"`
	Admitted          int64   `json:"admitted"`
	Rate              float64 `json:"rate"`
	MedianWaitSeconds float64 `json:"medianWaitSeconds"`
	P99WaitSeconds    float64 `json:"p99WaitSeconds"`
}

// ShardPeerAt is one member as the leader sees it: match is the highest log
// index known stored on it.
type ShardPeerAt struct {
	ID      int    `json:"id"`
	URL     string `json:"url"`
	Match   int64  `json:"match"`
	Healthy bool   `json:"healthy"`
}

// ShardLatePayment is a confirm with an order id that came after its hold
// had expired or was released (the shard answered 409 hold_expired).
type ShardLatePayment struct {
	Seq     uint64    `json:"seq"`
	Hold    string    `json:"hold"`
	OrderID string    `json:"orderId"`
	At      time.Time `json:"at"`
}

// ShardLogWarning is damage the shard found in its log at start-up.
type ShardLogWarning struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	File    string    `json:"file"`
	Message string    `json:"message"`
}

// ShardCounts are seats by state as the shard reports them.
type ShardCounts struct {
	Free            int64 `json:"free"`
	Held            int64 `json:"held"`
	AwaitingPayment int64 `json:"awaiting_payment"`
	Sold            int64 `json:"sold"`
}

// ShardClient reads a shard's status at its pod IP.
type ShardClient interface {
	Status(ctx context.Context, podIP, token string) (*ShardReport, error)
}

// HTTPShardClient speaks the shard contract's GET /v1/status.
type HTTPShardClient struct {
	HTTP *http.Client
	// Port of the shard; tests point it at an httptest server.
	Port int
}

// NewHTTPShardClient returns a client with short timeouts: a slow shard must
// not stall the reconcile loop.
func NewHTTPShardClient(port int) *HTTPShardClient {
	return &HTTPShardClient{
		HTTP: &http.Client{
			Timeout: 3 * time.Second,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     30 * time.Second,
			},
		},
		Port: port,
	}
}

// Status implements ShardClient.
func (c *HTTPShardClient) Status(ctx context.Context, podIP, token string) (*ShardReport, error) {
	url := "http://" + net.JoinHostPort(podIP, strconv.Itoa(c.Port)) + "/v1/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	var r ShardReport
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("GET %s: decoding: %w", url, err)
	}
	return &r, nil
}
