package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"boxoffice.dev/boxoffice/shard/seats"
)

// memNet connects in-process members; a member can be cut off.
type memNet struct {
	mu    sync.Mutex
	nodes map[int]*Node
	down  map[int]bool
}

type memTransport struct {
	net  *memNet
	slot int
}

func (t *memTransport) Start(n *Node) error {
	t.net.mu.Lock()
	t.net.nodes[t.slot] = n
	t.net.mu.Unlock()
	return nil
}

func (t *memTransport) Send(msgs []*pb.Message) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	if t.net.down[t.slot] {
		return
	}
	for _, m := range msgs {
		to := slotOf(m.GetTo())
		if n := t.net.nodes[to]; n != nil && !t.net.down[to] && n.opened.Load() && m.GetTo() == n.raftID {
			n.leadURLs.Store(t.slot, fmt.Sprintf("http://member-%d", t.slot))
			n.Step(m)
		}
	}
}

func (t *memTransport) Stop() {
	t.net.mu.Lock()
	delete(t.net.nodes, t.slot)
	t.net.mu.Unlock()
}

func (t *memTransport) Hello(slot int) (PeerHello, error) {
	t.net.mu.Lock()
	n := t.net.nodes[slot]
	t.net.mu.Unlock()
	if n == nil {
		return PeerHello{}, fmt.Errorf("member %d is down", slot)
	}
	return n.hello(), nil
}

func (t *memTransport) Join(slot int, raftID uint64) error {
	t.net.mu.Lock()
	n := t.net.nodes[slot]
	t.net.mu.Unlock()
	if n == nil || !n.opened.Load() {
		return fmt.Errorf("member %d is down", slot)
	}
	_, err := n.AddMember(raftID)
	return err
}

type memCluster struct {
	t    *testing.T
	net  *memNet
	dirs map[int]string
	srv  map[int]*Server
	http map[int]*httptest.Server
	mod  func(*Config)
	keys atomic.Int64 // doLeader's Idempotency-Keys
}

func newMemCluster(t *testing.T, mod func(*Config)) *memCluster {
	c := &memCluster{t: t, net: &memNet{nodes: map[int]*Node{}, down: map[int]bool{}},
		dirs: map[int]string{}, srv: map[int]*Server{}, http: map[int]*httptest.Server{}, mod: mod}
	for i := 1; i <= 3; i++ {
		c.dirs[i] = t.TempDir()
	}
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.start(i) }()
	}
	wg.Wait()
	t.Cleanup(func() {
		for i := range c.srv {
			c.stop(i)
		}
	})
	c.formed()
	return c
}

// formed waits until all three members are voters. A member that starts
// late sees its peers past their first term and joins under a new raft id
// instead of bootstrapping with them; until that join is done, stopping
// either of the other two leaves no quorum (a test that did so once found no
// leader for 10 s under the race detector).
func (c *memCluster) formed() {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := len(c.srv) == 3
		for _, s := range c.srv {
			v := s.node.voters()
			ok = ok && s.node.joinState.Load() != "joining" && len(v) == 3 && slices.Contains(v, s.node.raftID)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the three members did not all become voters within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *memCluster) start(i int) {
	cfg := Config{
		Showtime: "venues/test", SeatIDs: seatIDs("ABCD", 10), DataDir: c.dirs[i], Token: testToken,
		HoldTTL: 10 * time.Minute, MaxHoldTTL: 2 * time.Hour, MaxSeatsPerHolder: 4,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TickInterval: 20 * time.Millisecond,
		Cluster: &ClusterConfig{ID: i, Peers: map[int]string{1: "m1", 2: "m2", 3: "m3"},
			AdvertiseURL: fmt.Sprintf("http://member-%d", i), Transport: &memTransport{net: c.net, slot: i},
			RaftTick: 20 * time.Millisecond},
	}
	if os.Getenv("RAFT_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("m", i)
	}
	if c.mod != nil {
		c.mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		c.t.Error(err)
		return
	}
	if err := s.Recover(); err != nil {
		c.t.Error(err)
		return
	}
	c.net.mu.Lock()
	c.srv[i] = s
	c.http[i] = httptest.NewServer(s.Handler())
	c.net.mu.Unlock()
}

func (c *memCluster) stop(i int) {
	s := c.srv[i]
	if s == nil {
		return
	}
	c.http[i].Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		c.t.Error(err)
	}
	delete(c.srv, i)
	delete(c.http, i)
}

// leader waits for one member to lead and be ready.
func (c *memCluster) leader() int {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, s := range c.srv {
			if s.node.isLeaderNow() && s.node.caughtUp() {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader within 10s")
	return 0
}

type canswer struct {
	status int
	raw    string
	body   map[string]any
}

func (c *memCluster) do(i int, method, path, body string, hdr ...string) canswer {
	c.t.Helper()
	h := &harness{t: c.t, http: c.http[i]}
	a := h.do(method, path, body, hdr...)
	return canswer{status: a.status, raw: a.body, body: a.json(c.t)}
}

func TestClusterInMemory(t *testing.T) {
	c := newMemCluster(t, nil)
	l := c.leader()
	a := c.do(l, "POST", "/v1/holds", `{"seats":["stalls/A/1","stalls/A/2"],"holder":"ann"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("hold on the leader: %d %s", a.status, a.raw)
	}
	f := l%3 + 1
	a = c.do(f, "POST", "/v1/holds", `{"seats":["stalls/A/3"],"holder":"bob"}`)
	if a.status != http.StatusMisdirectedRequest || a.body["error"] != "not_leader" || a.body["leader"] != fmt.Sprintf("http://member-%d", l) {
		t.Fatalf("hold on a follower: %d %s", a.status, a.raw)
	}
	// Everyone converges to the same seats and version.
	c.converge()
	// The leader goes away: another leads and the hold is still there.
	c.stop(l)
	a = c.doLeader("GET", "/v1/holds/h1", "")
	if a.status != http.StatusOK || a.body["state"] != "held" {
		t.Fatalf("hold after failover: %d %s", a.status, a.raw)
	}
	a = c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"cat"}`)
	if a.status != http.StatusConflict {
		t.Fatalf("seat held before failover, held again: %d %s", a.status, a.raw)
	}
	c.start(l)
	c.converge()
}

// doLeader sends a request to the leader, again while leadership moves
// (421, 503): a busy machine can delay heartbeats past an election timeout.
// A hold or a confirm sent without an Idempotency-Key gets one of its own,
// the same on every try: a 503 can mean the write's outcome is unknown (an
// election on a loaded machine), and a repeat without a key would hold
// twice, or count a late payment twice.
func (c *memCluster) doLeader(method, path, body string, hdr ...string) canswer {
	c.t.Helper()
	if method == "POST" && (path == "/v1/holds" || strings.HasSuffix(path, "/confirm")) && !slices.Contains(hdr, "Idempotency-Key") {
		hdr = append(hdr, "Idempotency-Key", fmt.Sprintf("doLeader-%d", c.keys.Add(1)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := c.do(c.leader(), method, path, body, hdr...)
		if (a.status != http.StatusMisdirectedRequest && a.status != http.StatusServiceUnavailable) || time.Now().After(deadline) {
			return a
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *memCluster) converge() {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var want string
		same := true
		for i := range c.srv {
			a := c.do(i, "GET", "/v1/seats", "")
			got := fmt.Sprint(a.body["version"], a.body["counts"])
			if want == "" {
				want = got
			} else if got != want {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("members did not converge")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A member that was down while the leader compacted its log catches up from
// a snapshot.
func TestClusterCatchUpBySnapshot(t *testing.T) {
	old := retainEntries
	retainEntries = 5
	defer func() { retainEntries = old }()
	c := newMemCluster(t, func(cfg *Config) { cfg.SnapshotEvery = 10 })
	l := c.leader()
	f := l%3 + 1
	c.stop(f)
	for i := 0; i < 40; i++ {
		seat := fmt.Sprintf("stalls/%c/%d", 'A'+i/10, i%10+1)
		a := c.doLeader("POST", "/v1/holds", `{"seats":["`+seat+`"],"holder":"h`+fmt.Sprint(i)+`"}`)
		if a.status != http.StatusCreated {
			t.Fatalf("hold %d: %d %s", i, a.status, a.raw)
		}
	}
	// The leader's snapshot is written in the background.
	deadline := time.Now().Add(10 * time.Second)
	for {
		first, _ := c.srv[l].node.ms.FirstIndex()
		if first > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leader did not compact its log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.start(f)
	c.converge()
	if c.srv[f].node.snapsInstalled.Load() == 0 {
		t.Fatal("the member caught up without a snapshot")
	}
	// And it restarts from what it installed.
	c.stop(f)
	c.start(f)
	c.converge()
}

// Peer traffic without the token, or that does not decode into messages
// from the sending slot to this member, is refused with the connection
// closed; the cluster keeps working.
func TestClusterPeerGarbage(t *testing.T) {
	c := newMemCluster(t, func(cfg *Config) { cfg.Cluster.PeerToken = "peer-secret"; cfg.Cluster.MaxPeerBody = 1 << 20 })
	l := c.leader()
	f := l%3 + 1
	peer := httptest.NewServer(c.srv[f].node.PeerHandler())
	defer peer.Close()
	post := func(token, from string, body []byte) *http.Response {
		req, _ := http.NewRequest("POST", peer.URL+"/raft/msgs", bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Boxoffice-From", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("", "1", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r := post("wrong", "1", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", r.StatusCode)
	}
	other := l
	msg := func(from, to uint64, typ pb.MessageType) []byte {
		b, _ := proto.Marshal(&pb.Message{Type: typ.Enum(), From: proto.Uint64(from), To: proto.Uint64(to), Term: proto.Uint64(1)})
		return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
	}
	for name, body := range map[string][]byte{
		"random bytes":         []byte("\x05garbage that is not a message"),
		"length past the end":  binary.AppendUvarint(nil, 1<<20),
		"undecodable protobuf": append(binary.AppendUvarint(nil, 4), 0xff, 0xff, 0xff, 0xff),
		"wrong sender":         msg(uint64(6-f-other), uint64(f), pb.MsgHeartbeat),
		"local message type":   msg(uint64(other), uint64(f), pb.MsgHup),
		"to another member":    msg(uint64(other), uint64(other), pb.MsgHeartbeat),
	} {
		from := fmt.Sprint(other)
		r := post("peer-secret", from, body)
		if r.StatusCode != http.StatusBadRequest || !r.Close {
			t.Errorf("%s: %d (close %v), want 400 and the connection closed", name, r.StatusCode, r.Close)
		}
	}
	if r := post("peer-secret", "9", msg(9, uint64(f), pb.MsgHeartbeat)); r.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown slot: %d", r.StatusCode)
	}
	big := make([]byte, c.srv[f].node.cfg.MaxPeerBody+1)
	if r := post("peer-secret", fmt.Sprint(other), big); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", r.StatusCode)
	}
	a := c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"ann"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("hold after garbage: %d %s", a.status, a.raw)
	}
	c.converge()
}

// A payment after expiry (confirm answered 409 hold_expired) is reported in
// /v1/status by every member: each records it as it applies the committed
// confirm.
func TestClusterPaidAfterExpiryOnEveryMember(t *testing.T) {
	c := newMemCluster(t, nil)
	a := c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"ann","ttlSeconds":1}`)
	if a.status != http.StatusCreated {
		t.Fatalf("hold: %d %s", a.status, a.raw)
	}
	time.Sleep(1200 * time.Millisecond)
	a = c.doLeader("POST", "/v1/holds/h1/confirm", `{"orderId":"o-1"}`)
	if a.status != http.StatusConflict || a.body["error"] != "hold_expired" {
		t.Fatalf("late confirm: %d %s", a.status, a.raw)
	}
	c.converge()
	deadline := time.Now().Add(5 * time.Second)
	for i := range c.srv {
		for {
			st := c.do(i, "GET", "/v1/status", "")
			if st.body["paidAfterExpiryTotal"] == float64(1) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d: %s", i, st.raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// An entry proposed by this member's previous process (same Raft id, its own
// sequence numbers) that commits after a restart must not answer a request
// of the new process that happens to have the same sequence number.
func TestClusterOldProposalDoesNotAnswerNewRequest(t *testing.T) {
	cfg := Config{
		Showtime: "venues/test", SeatIDs: seatIDs("A", 4), DataDir: t.TempDir(),
		HoldTTL: 10 * time.Minute, MaxHoldTTL: 2 * time.Hour, MaxSeatsPerHolder: 4,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: &ClusterConfig{ID: 1, Peers: map[int]string{1: "a", 2: "b", 3: "c"}, Transport: &memTransport{net: &memNet{nodes: map[int]*Node{}}, slot: 1}},
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := s.node
	n.raftID = 1
	s.m = seats.New(s.ix, seats.DefaultOptions())
	// The new process waits for its first proposal, sequence 1.
	r := getRequest()
	n.waiters[1] = r
	// The old process's entry: proposer = what it put there, sequence 1.
	c := seats.Command{Op: seats.OpHold, Now: time.Now().UnixNano(), Holder: "old", Seats: []int32{0}, TTL: int64(time.Minute), MaxSeats: 4}
	cb := c.AppendBinary(nil)
	data := []byte{entryBatch}
	data = binary.AppendUvarint(data, n.raftID)
	data = binary.AppendUvarint(data, 1)
	data = binary.AppendUvarint(data, 1)
	data = binary.AppendUvarint(data, uint64(len(cb)))
	data = append(data, cb...)
	n.applyBatch(data)
	if len(n.answered) != 0 || n.waiters[1] != r {
		t.Fatal("an entry of the previous process answered a request of this one")
	}
}
