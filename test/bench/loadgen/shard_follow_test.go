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

// A member that is not the leader answers 421 with the leader's URL; the
// generator sends the operation there, one request at a time and batched.
func TestShardBackendFollowsNotLeader(t *testing.T) {
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v2/batch" {
			fmt.Fprint(w, `{"results":[{"status":201,"body":{"id":"h7","state":"held"}}]}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"h7","state":"held"}`)
	}))
	defer leader.Close()
	notLeader := `{"error":"not_leader","message":"m","seats":[],"leader":"` + leader.URL + `"}`
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v2/batch" {
			fmt.Fprint(w, `{"results":[{"status":421,"body":`+notLeader+`}]}`)
			return
		}
		w.WriteHeader(http.StatusMisdirectedRequest)
		fmt.Fprint(w, notLeader)
	}))
	defer follower.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("t\n"), 0o600)
	for _, batched := range []bool{false, true} {
		b, err := newShardBackend(follower.URL, tok, 2)
		if err != nil {
			t.Fatal(err)
		}
		if batched {
			b.useBatch(8, 1)
		}
		id, conflict, err := b.Hold(context.Background(), "ref", []string{"s/A/1"})
		if err != nil || conflict || id != "h7" {
			t.Fatalf("batched %v: hold on a follower: %q %v %v", batched, id, conflict, err)
		}
		if got := b.target(); !strings.HasSuffix(leader.URL, got) {
			t.Fatalf("batched %v: writes go to %s, want the leader %s", batched, got, leader.URL)
		}
		b.Close()
	}
}

// While the members elect, a 421 names no leader; the generator asks the
// members which one leads (GET /v1/status) and sends the operation there,
// one request at a time and batched. Before, such a run got nothing but
// 421s.
func TestShardBackendFindsTheLeaderWhenA421NamesNone(t *testing.T) {
	member := func(role string, serve http.HandlerFunc) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/v1/status" {
				fmt.Fprintf(w, `{"showtime":"bench/venue","version":1,"epoch":2,"role":%q}`, role)
				return
			}
			serve(w, r)
		}))
	}
	leader := member("leader", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/batch" {
			fmt.Fprint(w, `{"results":[{"status":201,"body":{"id":"h9","state":"held"}}]}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"h9","state":"held"}`)
	})
	defer leader.Close()
	noLeader := `{"error":"not_leader","message":"no leader yet","seats":[]}`
	follower := member("follower", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/batch" {
			fmt.Fprint(w, `{"results":[{"status":421,"body":`+noLeader+`}]}`)
			return
		}
		w.WriteHeader(http.StatusMisdirectedRequest)
		fmt.Fprint(w, noLeader)
	})
	defer follower.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("t\n"), 0o600)
	for _, batched := range []bool{false, true} {
		b, err := newShardBackend(follower.URL, tok, 2)
		if err != nil {
			t.Fatal(err)
		}
		b.members = []string{follower.URL, leader.URL}
		if batched {
			b.useBatch(8, 1)
		}
		id, conflict, err := b.Hold(context.Background(), "ref", []string{"s/A/1"})
		if err != nil || conflict || id != "h9" {
			t.Fatalf("batched %v: hold while the 421 names no leader: %q %v %v", batched, id, conflict, err)
		}
		if got := b.target(); !strings.HasSuffix(leader.URL, got) {
			t.Fatalf("batched %v: writes go to %s, want the leader %s", batched, got, leader.URL)
		}
		b.Close()
	}
}
