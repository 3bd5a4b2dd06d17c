package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// streamNode is as much of a member as the transport needs: no Raft loop;
// what peers step into it waits in recv.
func streamNode(id int, peers map[int]string) *Node {
	n := &Node{cfg: ClusterConfig{ID: id, Peers: peers, MaxPeerBody: 4 << 20, PeerListen: "127.0.0.1:0"},
		raftID: uint64(id), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		recv: make(chan *pb.Message, 8192), ctrl: make(chan func(), 1024)}
	n.opened.Store(true)
	return n
}

// startSender starts slot 1's transport, its peer slot 2 at url. The caller
// defers its Stop, to run before the peer's server closes (which waits for
// the stream's handler).
func startSender(t *testing.T, url string) (*Node, *httpTransport) {
	t.Helper()
	send := streamNode(1, map[int]string{1: "http://127.0.0.1:1", 2: url})
	tr := newHTTPTransport(send)
	if err := tr.Start(send); err != nil {
		t.Fatal(err)
	}
	return send, tr
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// appMsgs are n appends from slot 1 to slot 2; every 97th carries an entry
// larger than a stream's write (so one message spans several reads).
func appMsgs(n int) []*pb.Message {
	msgs := make([]*pb.Message, n)
	for i := range msgs {
		data := []byte(fmt.Sprintf("entry %d", i))
		if i%97 == 0 {
			data = bytes.Repeat([]byte{byte(i)}, 150<<10)
		}
		msgs[i] = &pb.Message{Type: pb.MsgApp.Enum(), From: proto.Uint64(1), To: proto.Uint64(2),
			Term: proto.Uint64(3), Index: proto.Uint64(uint64(i)), LogTerm: proto.Uint64(3), Commit: proto.Uint64(uint64(i)),
			Entries: []*pb.Entry{{Term: proto.Uint64(3), Index: proto.Uint64(uint64(i + 1)), Data: data}}}
	}
	return msgs
}

func expectMsgs(t *testing.T, got <-chan *pb.Message, want []*pb.Message) {
	t.Helper()
	for i, w := range want {
		select {
		case m := <-got:
			if !proto.Equal(m, w) {
				t.Fatalf("message %d: got index %d, want %d", i, m.GetIndex(), w.GetIndex())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d of %d did not arrive within 10s", i, len(want))
		}
	}
}

// Messages go out on one stream, whole and in order, with nothing posted;
// when the connection breaks the sender opens another and goes on.
func TestPeerStreamCarriesMessagesInOrder(t *testing.T) {
	recv := streamNode(2, nil)
	srv := httptest.NewServer(recv.PeerHandler())
	defer srv.Close()
	recv.cfg.Peers = map[int]string{1: "http://127.0.0.1:1", 2: srv.URL}
	send, tr := startSender(t, srv.URL)
	defer tr.Stop()
	waitUntil(t, "a stream opens", func() bool { return tr.open.Load() == 1 })

	msgs := appMsgs(2000)
	for i := 0; i < len(msgs); i += 10 {
		tr.Send(msgs[i : i+10])
	}
	expectMsgs(t, recv.recv, msgs)
	if p, s := tr.posted.Load(), tr.streamed.Load(); p != 0 || s != int64(len(msgs)) {
		t.Fatalf("posted %d and streamed %d messages, want 0 and %d", p, s, len(msgs))
	}

	srv.CloseClientConnections()
	waitUntil(t, "the sender notices", func() bool { return tr.open.Load() == 0 })
	waitUntil(t, "a new stream opens", func() bool { return tr.open.Load() == 1 })
	more := appMsgs(300)
	tr.Send(more)
	expectMsgs(t, recv.recv, more)
	select {
	case <-send.ctrl: // the broken stream was reported: Raft probes the peer again
	default:
		t.Fatal("the broken stream was not reported to Raft")
	}
}

// A peer without the stream endpoint (an older member) gets the messages by
// POST /raft/msgs; the sender does not hang on its refusal.
func TestPeerStreamFallsBackToPosts(t *testing.T) {
	var mu sync.Mutex
	var refused int
	got := make(chan *pb.Message, 8192)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /raft/msgs", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for len(body) > 0 {
			l, k := binary.Uvarint(body)
			m := &pb.Message{}
			if err := proto.Unmarshal(body[k:k+int(l)], m); err != nil {
				t.Error(err)
			}
			got <- m
			body = body[k+int(l):]
		}
		w.WriteHeader(http.StatusNoContent)
	})
	old := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == streamPath {
			mu.Lock()
			refused++
			mu.Unlock()
		}
		mux.ServeHTTP(w, r) // 404 for the stream, without reading its body
	})
	srv := httptest.NewServer(old)
	defer srv.Close()
	_, tr := startSender(t, srv.URL)
	defer tr.Stop()
	msgs := appMsgs(500)
	for i := 0; i < len(msgs); i += 50 {
		tr.Send(msgs[i : i+50])
		time.Sleep(time.Millisecond)
	}
	expectMsgs(t, got, msgs)
	mu.Lock()
	defer mu.Unlock()
	if refused != 1 || tr.open.Load() != 0 || tr.posted.Load() != int64(len(msgs)) {
		t.Fatalf("stream refused %d times (want 1: then posts for %s), %d open, %d posted",
			refused, streamNoEndpoint, tr.open.Load(), tr.posted.Load())
	}
}

// A stream is checked frame by frame: without the token it is refused; a
// frame that does not decode, comes from another slot or carries a snapshot
// ends it with the connection closed.
// The cluster keeps working.
func TestClusterPeerStreamGarbage(t *testing.T) {
	c := newMemCluster(t, func(cfg *Config) { cfg.Cluster.PeerToken = "peer-secret" })
	l := c.leader()
	f := l%3 + 1
	n := c.srv[f].node
	peer := httptest.NewServer(n.PeerHandler())
	defer peer.Close()
	open := func(token string, body io.Reader) (*http.Response, error) {
		req, _ := http.NewRequest("POST", peer.URL+streamPath, body)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set(fromSlotHeader, fmt.Sprint(l))
		return http.DefaultClient.Do(req)
	}
	r, err := open("", bytes.NewReader([]byte{0}))
	if err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %v %v", r, err)
	}
	r.Body.Close()
	frame := func(m *pb.Message) []byte {
		b, _ := proto.Marshal(m)
		return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
	}
	hb := func(from uint64, typ pb.MessageType) *pb.Message {
		return &pb.Message{Type: typ.Enum(), From: proto.Uint64(from), To: proto.Uint64(n.raftID), Term: proto.Uint64(1)}
	}
	snap := hb(uint64(l), pb.MsgSnap)
	snap.Snapshot = &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: proto.Uint64(5), Term: proto.Uint64(1)}}
	for name, body := range map[string][]byte{
		"undecodable protobuf": append([]byte{0, 0}, append(binary.AppendUvarint(nil, 4), 0xff, 0xff, 0xff, 0xff)...),
		"wrong sender":         append([]byte{0}, frame(hb(uint64(6-f-l), pb.MsgHeartbeat))...),
		"local message type":   append([]byte{0}, frame(hb(uint64(l), pb.MsgHup))...),
		"a snapshot":           append([]byte{0}, frame(snap)...),
		"longer than allowed":  append([]byte{0}, binary.AppendUvarint(nil, MaxPeerBody+1)...),
	} {
		r, err := open("peer-secret", bytes.NewReader(body))
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v, want the stream opened", name, r, err)
		}
		if _, err := io.ReadAll(r.Body); err == nil {
			t.Errorf("%s: the stream ended cleanly, want the connection closed", name)
		}
		r.Body.Close()
	}
	// Keepalives then the end: a clean end.
	r, err = open("peer-secret", bytes.NewReader([]byte{0, 0, 0}))
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("keepalives: %v %v", r, err)
	}
	if _, err := io.ReadAll(r.Body); err != nil {
		t.Errorf("keepalives then the end: %v, want a clean end", err)
	}
	r.Body.Close()
	a := c.doLeader("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"ann"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("hold after garbage: %d %s", a.status, a.raw)
	}
	c.converge()
}

// A sender that goes quiet (a half-open connection: no frames, not even
// keepalives) is dropped after streamIdle.
func TestPeerStreamQuietSenderIsDropped(t *testing.T) {
	t.Parallel()
	recv := streamNode(2, map[int]string{1: "http://127.0.0.1:1"})
	srv := httptest.NewServer(recv.PeerHandler())
	defer srv.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte{0}) // one keepalive, then nothing
	req, _ := http.NewRequest("POST", srv.URL+streamPath, pr)
	req.Header.Set(fromSlotHeader, "1")
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("opening: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d := time.Since(began); d < streamIdle-time.Second || d > streamIdle+3*time.Second {
		t.Fatalf("the quiet stream ended after %s, want about %s", d.Round(time.Millisecond), streamIdle)
	}
}

// A peer that accepts a stream and then stops reading (stopped, or gone
// without a reset) holds the sender's writes; after streamStuck the sender
// ends that stream, tells Raft, and opens another.
func TestPeerStreamStuckWriteEndsTheStream(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	opened := 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != streamPath {
			http.NotFound(w, r)
			return
		}
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex()
		r.Body.Read(make([]byte, 1))
		w.WriteHeader(http.StatusOK)
		rc.Flush()
		mu.Lock()
		opened++
		mu.Unlock()
		<-release // never reads again
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handlers
	send, tr := startSender(t, srv.URL)
	defer tr.Stop()
	waitUntil(t, "a stream opens", func() bool { return tr.open.Load() == 1 })
	began := time.Now()
	big := appMsgs(100)
	for _, m := range big {
		m.Entries[0].Data = bytes.Repeat([]byte{1}, 256<<10)
	}
	tr.Send(big) // 25 MB: more than the sockets between them hold
	deadline := time.Now().Add(streamStuck + 5*time.Second)
	for {
		mu.Lock()
		n := opened
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stuck stream was not replaced within %s", streamStuck+5*time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(began); d < streamStuck-time.Second {
		t.Fatalf("the stream was replaced after %s, before the writes could be called stuck", d)
	}
	select {
	case <-send.ctrl:
	default:
		t.Fatal("the stuck stream was not reported to Raft")
	}
}
