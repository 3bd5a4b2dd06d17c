package shard_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"boxoffice.dev/boxoffice/internal/openapitest"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// v2API drives the members of a real three-member cluster and checks every
// exchange against docs/api/shard-v2.openapi.yaml.
type v2API struct {
	t  *testing.T
	c  *cluster
	ch *openapitest.Checker
	hc *http.Client
	l  int   // the member last found leading
	fs []int // the others
}

// findLeader waits for a ready leader and records it and its followers.
// The document is checked whoever leads: on a loaded machine an election
// may move leadership between two steps of the test, which is not a
// contract failure.
func (s *v2API) findLeader() {
	s.t.Helper()
	s.l, s.fs = s.c.leader(), nil
	for i := 1; i <= 3; i++ {
		if i != s.l {
			s.fs = append(s.fs, i)
		}
	}
}

// moved reports whether an answer says leadership has left the member
// asked (421 not_leader, or 503 not_ready: no leader, or the outcome of a
// write lost to an election).
func moved(a openapitest.Answer) bool {
	return a.Status == http.StatusMisdirectedRequest || a.Status == http.StatusServiceUnavailable
}

// write sends a leader-only request to the leader and requires status,
// following leadership if it moves: each try is checked against the
// document, and a retry carries the same body and Idempotency-Key, which
// the contract makes safe. Every write in this test is also safe to repeat
// without a key (extend, await-payment, confirm with the same orderId,
// release of a released hold).
func (s *v2API) write(method, path, body string, status int, v any, hdr ...string) {
	s.t.Helper()
	for try := 0; ; try++ {
		a := s.do(s.l, method, path, body, hdr...)
		if !moved(a) || try == 5 {
			s.expect(a, status, v)
			return
		}
		s.t.Logf("%s %s on member %d: %d %s; finding the leader again", method, path, s.l, a.Status, a.Body)
		s.findLeader()
	}
}

func (s *v2API) do(member int, method, path, body string, hdr ...string) openapitest.Answer {
	s.t.Helper()
	req, b := openapitest.Request(method, "http://"+s.c.api[member]+path, body, append([]string{"Authorization", "Bearer tok"}, hdr...)...)
	return s.ch.Do(s.hc, req, b, false)
}

// expect requires a status and decodes the body into v (nil: not decoded).
func (s *v2API) expect(a openapitest.Answer, status int, v any) {
	s.t.Helper()
	if a.Status != status {
		s.t.Fatalf("answer %d %s, want %d", a.Status, a.Body, status)
	}
	if v != nil {
		if err := json.Unmarshal(a.Body, v); err != nil {
			s.t.Fatalf("answer %s: %v", a.Body, err)
		}
	}
}

// TestShardV2MatchesOpenAPI runs three members of the shard binary and
// checks what cluster mode adds against the v2 document: every member's
// status (leader with its members, followers), reads on a follower, writes
// on the leader, and the 421 not_leader (with the leader's advertise URL)
// of every leader-only operation on a follower.
func TestShardV2MatchesOpenAPI(t *testing.T) {
	c := newCluster(t)
	var bases []string
	for i := 1; i <= 3; i++ {
		bases = append(bases, "http://"+c.api[i])
	}
	s := &v2API{t: t, c: c, ch: openapitest.New(t, openapitest.Doc("shard-v2.openapi.yaml"), bases...),
		hc: &http.Client{Timeout: 10 * time.Second}}
	s.findLeader()

	s.leaderStatus()
	for _, i := range s.fs {
		var st shardapi.Status
		s.expect(s.do(i, "GET", "/v1/status", ""), 200, &st)
		if st.ID != i || st.Role == shardapi.RoleLeader || len(st.Members) != 0 {
			t.Fatalf("follower %d status %+v", i, st)
		}
	}

	// Writes on the leader.
	var h, r shardapi.Hold
	s.write("POST", "/v1/holds", `{"seats":["stalls/A/1","stalls/A/2"],"holder":"ann"}`, 201, &h, "Idempotency-Key", "v2-1")
	s.write("POST", "/v1/holds", `{"seats":["stalls/B/1"],"holder":"bob"}`, 201, &r, "Idempotency-Key", "v2-2")
	id := "/v1/holds/" + h.ID
	s.write("GET", id, "", 200, nil)
	s.write("POST", id+"/extend", `{"ttlSeconds":120}`, 200, nil)
	s.write("POST", id+"/await-payment", `{}`, 200, nil)
	s.write("POST", id+"/confirm", `{"orderId":"o-1"}`, 200, nil, "Idempotency-Key", "v2-c1")
	s.write("DELETE", "/v1/holds/"+r.ID, "", 200, nil)

	// Committed state on every member.
	deadline := time.Now().Add(10 * time.Second)
	for i := 1; i <= 3; i++ {
		for {
			var seats shardapi.Seats
			s.expect(s.do(i, "GET", "/v1/seats", ""), 200, &seats)
			if seats.Counts.Sold == 2 || time.Now().After(deadline) {
				if seats.Counts.Sold != 2 {
					t.Fatalf("member %d: %d sold, want 2", i, seats.Counts.Sold)
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.expect(s.do(i, "GET", "/v1/room/status", ""), 200, nil)
	}

	// Every leader-only operation on a follower: 421 naming the leader.
	for _, op := range []struct{ method, path, body string }{
		{"POST", "/v1/holds", `{"seats":["stalls/C/1"],"holder":"cat"}`},
		{"GET", id, ""},
		{"DELETE", id, ""},
		{"POST", id + "/extend", `{"ttlSeconds":60}`},
		{"POST", id + "/await-payment", `{}`},
		{"POST", id + "/confirm", `{"orderId":"o-1"}`},
		{"PUT", "/v1/room", `{"maxActiveBuyers":5,"idleTimeoutSeconds":60,"opensAt":"2026-12-01T10:00:00Z"}`},
		{"POST", "/v1/room/join", `{"key":"0123456789abcdef0123456789abcdef"}`},
		{"GET", "/v1/room/places/1", ""},
		{"POST", "/v1/room/places/1/touch", ""},
		{"DELETE", "/v1/room/places/1", ""},
	} {
		s.notLeader(op.method, op.path, op.body)
	}
	if codes := s.ch.Enum("Error", "error"); !slices.Contains(codes, string(shardapi.CodeNotLeader)) {
		t.Fatalf("the Error schema does not list not_leader: %v", codes)
	}
	if roles := s.ch.Enum("Status", "role"); strings.Join(roles, ",") != "leader,follower,candidate" {
		t.Fatalf("Status.role lists %v", roles)
	}
}

// notLeader requires a follower's 421 not_leader naming the leader's
// advertise URL. If the answer names another member, or the follower has
// no leader to name, leadership moved since it was found: it is found
// again and the request repeated on a follower of the new leader (a few
// times at most).
func (s *v2API) notLeader(method, path, body string) {
	s.t.Helper()
	for try := 0; ; try++ {
		f, leaderURL := s.fs[0], "http://"+s.c.api[s.l]
		a := s.do(f, method, path, body)
		var e shardapi.Error
		if a.Status == http.StatusMisdirectedRequest && json.Unmarshal(a.Body, &e) == nil &&
			e.Code == shardapi.CodeNotLeader && e.LeaderURL() == leaderURL {
			return
		}
		if try == 5 || (a.Status != http.StatusMisdirectedRequest && a.Status != http.StatusServiceUnavailable) {
			s.t.Fatalf("%s %s on follower %d: %d %s, want 421 not_leader naming %s", method, path, f, a.Status, a.Body, leaderURL)
		}
		s.t.Logf("%s %s on follower %d: %d %s; finding the leader again", method, path, f, a.Status, a.Body)
		s.findLeader()
	}
}

// leaderStatus reads the leader's status until it lists its three members
// (it does once it has heard from them), each answer checked; if the
// member no longer leads, the leader is found again.
func (s *v2API) leaderStatus() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st shardapi.Status
		s.expect(s.do(s.l, "GET", "/v1/status", ""), 200, &st)
		if st.Role == shardapi.RoleLeader && st.ID == s.l && len(st.Members) == 3 && st.Leader == "http://"+s.c.api[s.l] {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("leader %d status %+v", s.l, st)
		}
		if st.Role != shardapi.RoleLeader {
			s.findLeader()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestContractCodesMatchDocuments: the error codes of shard/shardapi, with
// their statuses, are the ones the documents list ("`code` status" in the
// Error schema's description; not_leader only in v2).
func TestContractCodesMatchDocuments(t *testing.T) {
	pair := regexp.MustCompile("`([a-z_]+)` ([0-9]{3})")
	for _, doc := range []string{"shard-v1.openapi.yaml", "shard-v2.openapi.yaml"} {
		d, err := openapi3.NewLoader().LoadFromFile(openapitest.Doc(doc))
		if err != nil {
			t.Fatal(err)
		}
		e := d.Components.Schemas["Error"].Value
		documented := map[string]int{}
		for _, m := range pair.FindAllStringSubmatch(e.Properties["error"].Value.Description, -1) {
			documented[m[1]], _ = strconv.Atoi(m[2])
		}
		for _, v := range e.Properties["error"].Value.Enum {
			if _, ok := documented[v.(string)]; !ok {
				t.Errorf("%s: code %v is in the enum but its status is not given", doc, v)
			}
		}
		for _, c := range shardapi.Codes() {
			want, ok := documented[string(c)]
			switch {
			case !ok && c == shardapi.CodeNotLeader && doc == "shard-v1.openapi.yaml":
			case !ok:
				t.Errorf("%s does not document %s", doc, c)
			case want != c.HTTPStatus():
				t.Errorf("%s: %s is %d, shardapi answers %d", doc, c, want, c.HTTPStatus())
			}
			delete(documented, string(c))
		}
		for c := range documented {
			t.Errorf("%s documents %s, which shardapi does not know", doc, c)
		}
	}
}
