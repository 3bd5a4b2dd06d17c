package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// answering answers a hold with status and body, as one request (v1) or as
// the only result of a batch.
func answering(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v2/batch" {
			fmt.Fprintf(w, `{"results":[{"status":%d,"body":%s}]}`, status, body)
			return
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// holdFindsTheLeader holds a seat through a backend pointed at first (with
// members to ask, if any), one request at a time and batched, and checks
// the hold is wantID and the writes moved to leader.
func holdFindsTheLeader(t *testing.T, first string, members []string, leader, wantID string) {
	t.Helper()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("t\n"), 0o600)
	for _, batched := range []bool{false, true} {
		b, err := newShardBackend(first, tok, 2)
		if err != nil {
			t.Fatal(err)
		}
		b.members = members
		if batched {
			b.useBatch(8, 1)
		}
		id, conflict, err := b.Hold(context.Background(), "ref", []string{"s/A/1"})
		if err != nil || conflict || id != wantID {
			t.Fatalf("batched %v: hold through a follower: %q %v %v", batched, id, conflict, err)
		}
		if got := b.target(); !strings.HasSuffix(leader, got) {
			t.Fatalf("batched %v: writes go to %s, want the leader %s", batched, got, leader)
		}
		b.Close()
	}
}

// A member that is not the leader answers 421 with the leader's URL; the
// generator sends the operation there, one request at a time and batched.
func TestShardBackendFollowsNotLeader(t *testing.T) {
	leader := httptest.NewServer(answering(http.StatusCreated, `{"id":"h7","state":"held"}`))
	defer leader.Close()
	follower := httptest.NewServer(answering(http.StatusMisdirectedRequest,
		`{"error":"not_leader","message":"m","seats":[],"leader":"`+leader.URL+`"}`))
	defer follower.Close()
	holdFindsTheLeader(t, follower.URL, nil, leader.URL, "h7")
}

// While the members elect, a 421 names no leader; the generator asks the
// members which one leads (GET /v1/status) and sends the operation there,
// one request at a time and batched. Before, such a run got nothing but
// 421s.
func TestShardBackendFindsTheLeaderWhenA421NamesNone(t *testing.T) {
	member := func(role string, serve http.HandlerFunc) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/status" {
				fmt.Fprintf(w, `{"showtime":"bench/venue","version":1,"epoch":2,"role":%q}`, role)
				return
			}
			serve(w, r)
		}))
	}
	leader := member("leader", answering(http.StatusCreated, `{"id":"h9","state":"held"}`))
	defer leader.Close()
	follower := member("follower", answering(http.StatusMisdirectedRequest,
		`{"error":"not_leader","message":"no leader yet","seats":[]}`))
	defer follower.Close()
	holdFindsTheLeader(t, follower.URL, []string{follower.URL, leader.URL}, leader.URL, "h9")
}
