package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// strict decodes an answer into the contract's type, refusing any field the
// type lacks: the server's hand-written encoders and shardapi agree.
func strict(t *testing.T, body string, v any) {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s does not decode into %T: %v", body, v, err)
	}
}

// TestAnswersAreContractTypes drives a single shard with the shardapi
// client and decodes every kind of answer strictly into shardapi's types.
func TestAnswersAreContractTypes(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	c := &shardapi.Client{HTTP: h.http.Client(), Token: testToken}
	ctx := context.Background()
	base := h.http.URL

	hold, err := c.Hold(ctx, base, &shardapi.HoldRequest{Seats: []string{"stalls/A/1", "stalls/A/2"}, Holder: "ann"}, "k1")
	if err != nil || hold.State != shardapi.HoldHeld || len(hold.Seats) != 2 {
		t.Fatalf("hold: %+v %v", hold, err)
	}
	// The same key and body: the first answer again.
	again, err := c.Hold(ctx, base, &shardapi.HoldRequest{Seats: []string{"stalls/A/1", "stalls/A/2"}, Holder: "ann"}, "k1")
	if err != nil || again.ID != hold.ID {
		t.Fatalf("retry with the same Idempotency-Key: %+v %v", again, err)
	}
	_, err = c.Hold(ctx, base, &shardapi.HoldRequest{Seats: []string{"stalls/A/1"}, Holder: "bob"}, "")
	var e *shardapi.Error
	if !errors.As(err, &e) || e.Code != shardapi.CodeSeatsUnavailable || e.Status != e.Code.HTTPStatus() || len(e.Seats) != 1 {
		t.Fatalf("conflict: %v", err)
	}
	if _, err := c.Confirm(ctx, base, hold.ID, "o-1", "pay-1"); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetHold(ctx, base, hold.ID)
	if err != nil || got.State != shardapi.HoldSold || got.OrderID != "o-1" {
		t.Fatalf("sold hold: %+v %v", got, err)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		into               any
	}{
		{"GET", "/v1/status", "", 200, &shardapi.Status{}},
		{"GET", "/v1/seats", "", 200, &shardapi.Seats{}},
		{"GET", "/v1/holds/" + hold.ID, "", 200, &shardapi.Hold{}},
		{"POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"cat"}`, 409, &shardapi.Error{}},
		{"POST", "/v1/holds", `{"seats":[],"holder":"cat"}`, 400, &shardapi.Error{}},
		{"GET", "/v1/holds/h999", "", 404, &shardapi.Error{}},
		{"GET", "/v1/nothing", "", 404, &shardapi.Error{}},
		{"GET", "/v1/room/status", "", 200, &shardapi.RoomSummary{}},
	} {
		a := h.do(tc.method, tc.path, tc.body)
		if a.status != tc.status {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, a.status, a.body)
		}
		strict(t, a.body, tc.into)
		if e, ok := tc.into.(*shardapi.Error); ok && e.Code.HTTPStatus() != a.status {
			t.Fatalf("%s %s: code %s answered with %d, contract says %d", tc.method, tc.path, e.Code, a.status, e.Code.HTTPStatus())
		}
	}
	st, err := c.Status(ctx, base)
	if err != nil || st.Role != shardapi.RoleSingle || st.Counts.Sold != 2 || st.Total != 40 || !st.Ready {
		t.Fatalf("status: %+v %v", st, err)
	}

	// The waiting room's answers.
	opens := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	a := h.do("PUT", "/v1/room", `{"maxActiveBuyers":5,"idleTimeoutSeconds":60,"preQueueSeconds":7200,"opensAt":"`+opens+`"}`)
	var rc shardapi.RoomConfig
	strict(t, a.body, &rc)
	if a.status != 200 || !rc.Configured || rc.MaxActiveBuyers != 5 {
		t.Fatalf("PUT /v1/room: %d %s", a.status, a.body)
	}
	a = h.do("POST", "/v1/room/join", `{"key":"0123456789abcdef0123456789abcdef"}`)
	var pl shardapi.Place
	strict(t, a.body, &pl)
	if a.status != 200 || pl.State != shardapi.PlacePreQueued {
		t.Fatalf("join: %d %s", a.status, a.body)
	}
	a = h.do("GET", shardapi.RoomPlacePath(pl.Place, ""), "")
	strict(t, a.body, &shardapi.Place{})
	var withRoom shardapi.Status
	deadline := time.Now().Add(5 * time.Second)
	for withRoom.Room == nil || withRoom.Room.PreQueued != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the room with one pre-queued place: %+v", withRoom.Room)
		}
		withRoom = shardapi.Status{}
		strict(t, h.do("GET", "/v1/status", "").body, &withRoom)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterAnswersAreContractTypes: a follower's status and its 421
// not_leader decode into shardapi's types, and the hint names the leader.
func TestClusterAnswersAreContractTypes(t *testing.T) {
	c := newMemCluster(t, nil)
	l := c.leader()
	f := l%3 + 1
	for i, role := range map[int]string{l: shardapi.RoleLeader, f: shardapi.RoleFollower} {
		// The leader lists its members once it has heard from them.
		deadline := time.Now().Add(5 * time.Second)
		for {
			a := c.do(i, "GET", "/v1/status", "")
			var st shardapi.Status
			strict(t, a.raw, &st)
			ok := st.Role == role && st.ID == i && st.Term > 0 && (role == shardapi.RoleLeader) == (len(st.Members) == 3)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d status: %s", i, a.raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cl := &shardapi.Client{HTTP: c.http[f].Client(), Token: testToken}
	_, err := cl.Hold(context.Background(), c.http[f].URL, &shardapi.HoldRequest{Seats: []string{"stalls/A/1"}, Holder: "ann"}, "k")
	var e *shardapi.Error
	if !errors.As(err, &e) || e.Status != http.StatusMisdirectedRequest || e.LeaderURL() != fmt.Sprintf("http://member-%d", l) {
		t.Fatalf("hold on a follower: %v", err)
	}
	a := c.do(f, "GET", "/v1/holds/h1", "")
	strict(t, a.raw, &shardapi.Error{})
}

// TestMetricNamesAreTheContracts: every metric the shard registers is one
// shardapi names, and every name shardapi lists (but the waiting room's,
// exported while a room is configured) is registered in single or cluster
// mode.
func TestMetricNamesAreTheContracts(t *testing.T) {
	listed := map[string]bool{}
	for _, n := range shardapi.MetricNames() {
		listed[n] = true
	}
	exported := map[string]bool{}
	gather := func(s *Server) {
		fams, err := s.met.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if n := f.GetName(); strings.HasPrefix(n, shardapi.MetricPrefix) {
				exported[n] = true
				if !listed[n] {
					t.Errorf("the shard exports %s, which shardapi does not list", n)
				}
			}
		}
	}
	h := start(t, t.TempDir(), nil)
	h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"ann"}`)
	h.do("POST", "/v1/holds/h1/confirm", `{"orderId":"o"}`)
	h.do("GET", "/v1/status", "")
	gather(h.srv)
	mc := newMemCluster(t, nil)
	l := mc.leader()
	mc.do(l, "POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"ann"}`)
	gather(mc.srv[l])
	// Vectors are exported with their first label value: snapshots once
	// one is written, match indexes once the leader sampled its members,
	// rejected peer requests once one was refused.
	lazy := map[string]bool{shardapi.MetricSnapshotsTotal: true, shardapi.MetricRaftMemberMatchIndex: true,
		shardapi.MetricPeerRequestsRejectedTotal: true}
	for n := range listed {
		if !exported[n] && !lazy[n] && !strings.HasPrefix(n, shardapi.MetricPrefix+"waitingroom_") {
			t.Errorf("shardapi lists %s, which the shard does not export", n)
		}
	}
}
