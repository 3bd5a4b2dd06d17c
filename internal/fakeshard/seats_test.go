package fakeshard

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

func newSeats(t *testing.T) (*Seats, *shardapi.Client) {
	t.Helper()
	f, err := NewSeats("ns/show", []string{"A/1", "A/2", "A/3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, &shardapi.Client{Token: f.Token}
}

func code(err error) shardapi.Code {
	var e *shardapi.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestSeatsHoldConfirmRelease(t *testing.T) {
	f, c := newSeats(t)
	ctx := context.Background()
	h, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/1"}, Holder: "buyer"}, "k1")
	if err != nil || h.State != shardapi.SeatHeld || h.Version != 2 {
		t.Fatalf("hold: %+v, %v", h, err)
	}
	again, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/1"}, Holder: "buyer"}, "k1")
	if err != nil || again.ID != h.ID {
		t.Fatalf("retried hold with the same key: %+v, %v; want the same answer", again, err)
	}
	if _, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/2"}, Holder: "buyer"}, "k1"); code(err) != shardapi.CodeIdempotencyMismatch {
		t.Fatalf("key reused with another body: %v", err)
	}
	if _, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/1"}, Holder: "other"}, ""); code(err) != shardapi.CodeSeatsUnavailable {
		t.Fatalf("held seat: %v", err)
	}
	st, err := c.Status(ctx, f.URL)
	if err != nil || st.Version != 2 || st.Showtime != "ns/show" {
		t.Fatalf("status after a hold: %+v, %v", st, err)
	}
	if h, err = c.Confirm(ctx, f.URL, h.ID, "order-1", "k2"); err != nil || h.State != shardapi.SeatSold {
		t.Fatalf("confirm: %+v, %v", h, err)
	}
	if _, err := c.Release(ctx, f.URL, h.ID); code(err) != shardapi.CodeHoldSold {
		t.Fatalf("release of a sold hold: %v", err)
	}
	seats, err := c.Seats(ctx, f.URL)
	if err != nil || seats.Seats[0].State != shardapi.SeatSold || seats.Seats[1].State != shardapi.SeatFree {
		t.Fatalf("seats: %+v, %v", seats, err)
	}
	if got := f.HoldIDs(); len(got) != 1 || got[0] != h.ID {
		t.Fatalf("HoldIDs() = %v", got)
	}
}

func TestSeatsLimitExpiryAndFailures(t *testing.T) {
	f, c := newSeats(t)
	ctx := context.Background()
	f.MaxSeats = 2
	if _, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/1", "A/2", "A/3"}, Holder: "b"}, ""); code(err) != shardapi.CodeTooManySeats {
		t.Fatalf("over the per-holder limit: %v", err)
	}
	ttl := int64(30)
	h, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/1"}, Holder: "b", TTLSeconds: &ttl}, "")
	if err != nil || f.LastTTL() != 30 {
		t.Fatalf("hold with a ttl: %v, LastTTL %d", err, f.LastTTL())
	}
	f.Expire(h.ID)
	if _, err := c.Extend(ctx, f.URL, h.ID, &shardapi.TTLRequest{}); code(err) != shardapi.CodeHoldExpired {
		t.Fatalf("extend of an expired hold: %v", err)
	}
	f.FailWrites(1)
	if _, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/2"}, Holder: "b"}, ""); code(err) != shardapi.CodeNotReady {
		t.Fatalf("failed write: %v", err)
	}
	if f.WritesToFail() != 0 {
		t.Fatalf("WritesToFail() = %d after the one failed write", f.WritesToFail())
	}
	if _, err := c.Seats(ctx, f.URL); err != nil {
		t.Fatal(err)
	}
	if p := f.Paths(); len(p) != 5 || p[4] != "GET /v1/seats" || f.SeatsCalls() != 1 {
		t.Fatalf("Paths() = %v, SeatsCalls() = %d", p, f.SeatsCalls())
	}
}

func TestSeatsEventStreamResumes(t *testing.T) {
	f, c := newSeats(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+shardapi.PathEvents, nil)
	req.Header.Set("Authorization", "Bearer "+f.Token)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if id := <-f.LastEventIDs(); id != "1" || f.EventsConns() != 1 {
		t.Fatalf("Last-Event-ID seen %q, connections %d", id, f.EventsConns())
	}
	f.Commit([]shardapi.Seat{{ID: "A/3", State: shardapi.SeatSold}})
	if _, err := c.Hold(ctx, f.URL, &shardapi.HoldRequest{Seats: []string{"A/1"}, Holder: "b"}, ""); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var events []string
	for len(events) < 2 && sc.Scan() {
		if e, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events = append(events, e)
		}
	}
	if strings.Join(events, ",") != "seats,seats" {
		t.Fatalf("events after resuming at the current version: %v, want two seats events and no snapshot", events)
	}
	f.DropStreams()
	for sc.Scan() {
	}
}
