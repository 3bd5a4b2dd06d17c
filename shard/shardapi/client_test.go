package shardapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// seen is what the test server received.
type seen struct {
	method, path, auth, key, contentType, body string
}

func server(t *testing.T, status int, body string) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*s = seen{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"),
			r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

const holdJSON = `{"id":"h7","seats":["stalls/A/1","stalls/A/2"],"holder":"b-1","state":"held",` +
	`"expiresAt":"2026-12-01T10:00:00Z","orderId":"","version":12}`

func TestHoldSendsTokenKeyAndBody(t *testing.T) {
	srv, s := server(t, http.StatusCreated, holdJSON)
	c := &shardapi.Client{Token: "tok"}
	ttl := int64(60)
	h, err := c.Hold(context.Background(), srv.URL, &shardapi.HoldRequest{Seats: []string{"stalls/A/1", "stalls/A/2"}, Holder: "b-1", TTLSeconds: &ttl}, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	want := seen{"POST", "/v1/holds", "Bearer tok", "key-1", "application/json",
		`{"seats":["stalls/A/1","stalls/A/2"],"holder":"b-1","ttlSeconds":60}`}
	if *s != want {
		t.Fatalf("server saw %+v, want %+v", *s, want)
	}
	if h.ID != "h7" || len(h.Seats) != 2 || h.State != shardapi.HoldHeld || h.Version != 12 ||
		!h.ExpiresAt.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("hold %+v", h)
	}
}

func TestConfirmCarriesIdempotencyKeyOthersNone(t *testing.T) {
	srv, s := server(t, http.StatusOK, holdJSON)
	c := &shardapi.Client{Token: "tok"}
	if _, err := c.Confirm(context.Background(), srv.URL, "h7", "o-1", "pay-1"); err != nil {
		t.Fatal(err)
	}
	if s.path != "/v1/holds/h7/confirm" || s.key != "pay-1" || s.body != `{"orderId":"o-1"}` {
		t.Fatalf("confirm: %+v", *s)
	}
	if _, err := c.Release(context.Background(), srv.URL, "h7"); err != nil {
		t.Fatal(err)
	}
	if s.method != "DELETE" || s.path != "/v1/holds/h7" || s.key != "" || s.body != "" || s.contentType != "" {
		t.Fatalf("release: %+v", *s)
	}
}

func TestErrorAnswerDecodes(t *testing.T) {
	srv, _ := server(t, http.StatusConflict, `{"error":"seats_unavailable","message":"some seats are not free","seats":["stalls/A/1"]}`)
	c := &shardapi.Client{}
	_, err := c.Hold(context.Background(), srv.URL, &shardapi.HoldRequest{Seats: []string{"stalls/A/1"}, Holder: "b"}, "")
	var e *shardapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *shardapi.Error", err)
	}
	if e.Status != http.StatusConflict || e.Code != shardapi.CodeSeatsUnavailable || len(e.Seats) != 1 || e.Leader != nil {
		t.Fatalf("error %+v", e)
	}
	if e.Code.HTTPStatus() != e.Status {
		t.Fatalf("code %s documented with %d, answered %d", e.Code, e.Code.HTTPStatus(), e.Status)
	}
}

func TestNotLeaderHint(t *testing.T) {
	body := `{"error":"not_leader","message":"this member is not the leader","seats":[],"leader":"http://m2:7070"}`
	srv, _ := server(t, http.StatusMisdirectedRequest, body)
	c := &shardapi.Client{}
	_, err := c.GetHold(context.Background(), srv.URL, "h1")
	var e *shardapi.Error
	if !errors.As(err, &e) || e.Status != 421 || e.Code != shardapi.CodeNotLeader || e.LeaderURL() != "http://m2:7070" {
		t.Fatalf("421: %v", err)
	}
	if u, ok := shardapi.LeaderHint([]byte(body)); !ok || u != "http://m2:7070" {
		t.Fatalf("LeaderHint = %q, %v", u, ok)
	}
	if u, ok := shardapi.LeaderHint([]byte(`{"error":"not_leader","message":"","seats":[],"leader":""}`)); !ok || u != "" {
		t.Fatalf("no leader known: LeaderHint = %q, %v", u, ok)
	}
	if _, ok := shardapi.LeaderHint([]byte(`{"error":"not_ready","message":"","seats":[]}`)); ok {
		t.Fatal("a not_ready body gave a leader hint")
	}
	if _, ok := shardapi.LeaderHint([]byte(`<html>`)); ok {
		t.Fatal("a non-JSON body gave a leader hint")
	}
}

func TestNonContractErrorKeepsStatusAndText(t *testing.T) {
	srv, _ := server(t, http.StatusBadGateway, "upstream down\n")
	_, err := (&shardapi.Client{}).Status(context.Background(), srv.URL)
	var e *shardapi.Error
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "" || e.Message != "upstream down" {
		t.Fatalf("502: %#v", err)
	}
}

func TestSendReusesBufferAndBoundsAnswers(t *testing.T) {
	long := strings.Repeat("x", 4096)
	srv, _ := server(t, http.StatusOK, long)
	c := &shardapi.Client{}
	buf := make([]byte, 0, 8192)
	a, err := c.Send(context.Background(), srv.URL, shardapi.Request{Method: "GET", Path: "/v1/seats"}, buf)
	if err != nil || a.Status != 200 || string(a.Body) != long {
		t.Fatalf("send: %d %v", a.Status, err)
	}
	if &a.Body[:1][0] != &buf[:1][0] {
		t.Fatal("the answer was not read into the caller's buffer")
	}
	c.MaxAnswer = 1024
	if a, err := c.Send(context.Background(), srv.URL, shardapi.Request{Method: "GET", Path: "/v1/seats"}, nil); err == nil || a.Status != 200 {
		t.Fatalf("an answer over MaxAnswer: %d %v", a.Status, err)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed with %q", r.Header.Get("Authorization"))
	}))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer srv.Close()
	a, err := (&shardapi.Client{Token: "secret"}).Send(context.Background(), srv.URL, shardapi.Request{Method: "GET", Path: "/v1/status"}, nil)
	if err != nil || a.Status != http.StatusFound {
		t.Fatalf("redirect: %d %v", a.Status, err)
	}
}

func TestStatusDecodesClusterFields(t *testing.T) {
	srv, _ := server(t, 200, `{"showtime":"ns/s","version":3,"epoch":4,"logFormat":2,"role":"leader","term":4,`+
		`"leader":"http://m1:7070","id":1,"raftID":11,"commitIndex":9,"appliedIndex":9,`+
		`"members":[{"id":1,"url":"http://m1:7070","match":9,"healthy":true}],"counts":{"free":1,"held":2,"awaiting_payment":0,"sold":3},"total":6,"ready":true}`)
	s, err := (&shardapi.Client{}).Status(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if s.Role != shardapi.RoleLeader || s.Term != 4 || s.ID != 1 || len(s.Members) != 1 || s.Members[0].Match != 9 || s.Counts.Sold != 3 {
		t.Fatalf("status %+v", s)
	}
}

func TestEncodersMatchEncodingJSON(t *testing.T) {
	ttl := int64(5)
	leader := "http://m2:7070"
	for _, tc := range []struct {
		got  []byte
		into any
		want any
	}{
		{(&shardapi.HoldRequest{Seats: []string{"a/\"B\"/1", "é\u2028"}, Holder: "x\ny"}).AppendJSON(nil), &shardapi.HoldRequest{},
			&shardapi.HoldRequest{Seats: []string{"a/\"B\"/1", "é\u2028"}, Holder: "x\ny"}},
		{(&shardapi.HoldRequest{Seats: []string{"s"}, Holder: "h", TTLSeconds: &ttl}).AppendJSON(nil), &shardapi.HoldRequest{},
			&shardapi.HoldRequest{Seats: []string{"s"}, Holder: "h", TTLSeconds: &ttl}},
		{(&shardapi.TTLRequest{}).AppendJSON(nil), &shardapi.TTLRequest{}, &shardapi.TTLRequest{}},
		{(&shardapi.ConfirmRequest{OrderID: "o\x01"}).AppendJSON(nil), &shardapi.ConfirmRequest{}, &shardapi.ConfirmRequest{OrderID: "o\x01"}},
		{(&shardapi.Error{Code: shardapi.CodeNotLeader, Message: "m", Leader: &leader}).AppendJSON(nil), &shardapi.Error{},
			&shardapi.Error{Code: shardapi.CodeNotLeader, Message: "m", Seats: []string{}, Leader: &leader}},
	} {
		if err := json.Unmarshal(tc.got, tc.into); err != nil {
			t.Fatalf("%s: %v", tc.got, err)
		}
		a, _ := json.Marshal(tc.into)
		b, _ := json.Marshal(tc.want)
		if string(a) != string(b) {
			t.Fatalf("%s decodes to %s, want %s", tc.got, a, b)
		}
	}
}

// An error names the call and its status, for logs and conditions.
func TestErrorNamesCallAndStatus(t *testing.T) {
	srv, _ := server(t, http.StatusServiceUnavailable, `{"error":"not_ready","message":"replaying","seats":[]}`)
	_, err := (&shardapi.Client{}).Status(context.Background(), srv.URL)
	if err == nil || !strings.Contains(err.Error(), "GET "+srv.URL+"/v1/status: status 503 not_ready: replaying") {
		t.Fatalf("error %v", err)
	}
}
