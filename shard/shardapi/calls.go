package shardapi

import (
	"context"
	"fmt"
	"net/http"
)

// Typed calls, one per endpoint: each sends one try to the member at base
// and answers the decoded body, or an *Error for an error answer.

// Status reads GET /v1/status.
func (c *Client) Status(ctx context.Context, base string) (*Status, error) {
	var s Status
	if err := c.call(ctx, base, Request{Method: http.MethodGet, Path: PathStatus}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Seats reads GET /v1/seats.
func (c *Client) Seats(ctx context.Context, base string) (*Seats, error) {
	var s Seats
	if err := c.call(ctx, base, Request{Method: http.MethodGet, Path: PathSeats}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Hold sends POST /v1/holds with an Idempotency-Key (key; "" sends none).
func (c *Client) Hold(ctx context.Context, base string, req *HoldRequest, key string) (*Hold, error) {
	return c.hold(ctx, base, Request{Method: http.MethodPost, Path: PathHolds, Body: req.AppendJSON(nil), IdempotencyKey: key})
}

// GetHold reads GET /v1/holds/{id}.
func (c *Client) GetHold(ctx context.Context, base, id string) (*Hold, error) {
	return c.hold(ctx, base, Request{Method: http.MethodGet, Path: HoldPath(id, "")})
}

// Extend sends POST /v1/holds/{id}/extend.
func (c *Client) Extend(ctx context.Context, base, id string, req *TTLRequest) (*Hold, error) {
	return c.hold(ctx, base, Request{Method: http.MethodPost, Path: HoldPath(id, "extend"), Body: req.AppendJSON(nil)})
}

// AwaitPayment sends POST /v1/holds/{id}/await-payment.
func (c *Client) AwaitPayment(ctx context.Context, base, id string, req *TTLRequest) (*Hold, error) {
	return c.hold(ctx, base, Request{Method: http.MethodPost, Path: HoldPath(id, "await-payment"), Body: req.AppendJSON(nil)})
}

// Confirm sends POST /v1/holds/{id}/confirm with an Idempotency-Key.
func (c *Client) Confirm(ctx context.Context, base, id, orderID, key string) (*Hold, error) {
	body := (&ConfirmRequest{OrderID: orderID}).AppendJSON(nil)
	return c.hold(ctx, base, Request{Method: http.MethodPost, Path: HoldPath(id, "confirm"), Body: body, IdempotencyKey: key})
}

// Release sends DELETE /v1/holds/{id}.
func (c *Client) Release(ctx context.Context, base, id string) (*Hold, error) {
	return c.hold(ctx, base, Request{Method: http.MethodDelete, Path: HoldPath(id, "")})
}

func (c *Client) hold(ctx context.Context, base string, req Request) (*Hold, error) {
	var h Hold
	if err := c.call(ctx, base, req, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Metrics reads /metrics (no token needed): the Prometheus text exposition.
func (c *Client) Metrics(ctx context.Context, base string) ([]byte, error) {
	a, err := c.Send(ctx, base, Request{Method: http.MethodGet, Path: PathMetrics}, nil)
	if err != nil {
		return nil, err
	}
	if a.Status != http.StatusOK {
		return nil, fmt.Errorf("GET %s%s: status %d", base, PathMetrics, a.Status)
	}
	return a.Body, nil
}

// JoinRoom sends POST /v1/room/join with the visit's key (32 hexadecimal
// digits, reused for every retry).
func (c *Client) JoinRoom(ctx context.Context, base, key string) (*Place, error) {
	body := append(AppendString([]byte(`{"key":`), key), '}')
	var p Place
	if err := c.call(ctx, base, Request{Method: http.MethodPost, Path: PathRoomJoin, Body: body}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// RoomStatus reads GET /v1/room/status.
func (c *Client) RoomStatus(ctx context.Context, base string) (*RoomSummary, error) {
	var s RoomSummary
	if err := c.call(ctx, base, Request{Method: http.MethodGet, Path: PathRoomStatus}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
