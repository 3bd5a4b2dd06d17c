package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Peer traffic is HTTP on --peer-listen, authenticated with the peer token:
//
//	POST /raft/msgs   a batch of Raft messages: per message a uvarint length
//	                  and the protobuf raftpb.Message
//	GET  /raft/hello  PeerHello (JSON): used by a member with an empty data
//	                  directory to decide between bootstrap and join
//	POST /raft/join   {"raftID":N}: the leader replaces the slot's old Raft id
//
//	POST /raft/stream one long-lived request per peer carrying its messages
//	                  as they come, framed as in /raft/msgs (peerstream.go)
//
// Each peer has one sender goroutine with a bounded queue (full: the message
// is dropped, Raft retries). It keeps a stream open to the peer; while it
// cannot (the peer is down, or is an older member without streams) it posts
// what is queued as one batch on a kept-alive connection. Snapshots always
// go by /raft/msgs, from a goroutine of their own. A body larger than
// MaxPeerBody, or one that does not decode into messages addressed to this
// member from a known slot, is 400 and the connection is closed; nothing of
// it reaches Raft. A stream is checked frame by frame: a bad frame ends it
// and closes the connection, and the frames before it have been stepped.
const (
	MaxPeerBody      = 256 << 20 // default ClusterConfig.MaxPeerBody
	peerQueue        = 4096
	snapQueue        = 4
	maxMsgsPerPost   = 1024
	advertiseHeader  = "X-Boxoffice-Advertise"
	fromSlotHeader   = "X-Boxoffice-From"
	maxAdvertiseSize = 512
)

type httpTransport struct {
	n      *Node
	client *http.Client
	// streams opens the outgoing streams, on connections of their own.
	streams *http.Client
	srv     *http.Server
	ln      net.Listener
	peers   map[int]chan *pb.Message
	snaps   map[int]chan *pb.Message
	// Messages handed to streams and to posts, and streams open now.
	streamed, posted atomic.Int64
	open             atomic.Int32
	stop             chan struct{}
	ctx              context.Context // cancelled by Stop: posts in flight end
	cancel           context.CancelFunc
	wg               sync.WaitGroup
}

func newHTTPTransport(n *Node) *httpTransport {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	str := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ExpectContinueTimeout: streamStuck,
		MaxIdleConnsPerHost:   1,
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &httpTransport{n: n, client: &http.Client{Transport: tr}, streams: &http.Client{Transport: str},
		stop: make(chan struct{}), peers: map[int]chan *pb.Message{}, snaps: map[int]chan *pb.Message{},
		ctx: ctx, cancel: cancel}
}

func (t *httpTransport) Start(n *Node) error {
	ln, err := net.Listen("tcp", n.cfg.PeerListen)
	if err != nil {
		return fmt.Errorf("--peer-listen %s: %w", n.cfg.PeerListen, err)
	}
	t.ln = ln
	t.srv = &http.Server{Handler: n.PeerHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 90 * time.Second,
		MaxHeaderBytes: 16 << 10, ErrorLog: nil}
	go t.srv.Serve(ln)
	for slot := range n.cfg.Peers {
		if slot == n.cfg.ID {
			continue
		}
		q := make(chan *pb.Message, peerQueue)
		t.peers[slot] = q
		sq := make(chan *pb.Message, snapQueue)
		t.snaps[slot] = sq
		t.wg.Add(2)
		go t.sender(slot, q)
		go t.snapSender(slot, sq)
	}
	return nil
}

func (t *httpTransport) Stop() {
	select {
	case <-t.stop:
		return
	default:
	}
	close(t.stop)
	t.cancel()
	if t.srv == nil {
		return
	}
	t.n.inStreams.end()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t.srv.Shutdown(ctx)
	t.srv.Close()
	t.wg.Wait()
}

func (t *httpTransport) Send(msgs []*pb.Message) {
	for _, m := range msgs {
		q, ok := t.peers[slotOf(m.GetTo())]
		if m.GetType() == pb.MsgSnap {
			q, ok = t.snaps[slotOf(m.GetTo())]
		}
		if !ok {
			continue
		}
		select {
		case q <- m:
		default:
			t.failed(m)
		}
	}
}

// failed reports a message that did not reach its peer.
func (t *httpTransport) failed(m *pb.Message) {
	to := m.GetTo()
	snap := m.GetType() == pb.MsgSnap
	t.n.report(func(rn *raft.RawNode) {
		rn.ReportUnreachable(to)
		if snap {
			rn.ReportSnapshot(to, raft.SnapshotFailure)
		}
	})
}

func (t *httpTransport) authorize(r *http.Request) {
	if t.n.cfg.PeerToken != "" {
		r.Header.Set("Authorization", "Bearer "+t.n.cfg.PeerToken)
	}
	r.Header.Set(fromSlotHeader, strconv.Itoa(t.n.cfg.ID))
	r.Header.Set(advertiseHeader, t.n.cfg.AdvertiseURL)
}

// sender keeps a stream open to slot; while it cannot, it posts.
func (t *httpTransport) sender(slot int, q chan *pb.Message) {
	defer t.wg.Done()
	quiet := false // a failure to open was logged since the last stream
	for {
		began := time.Now()
		opened, err := t.stream(slot, q)
		select {
		case <-t.stop:
			return
		default:
		}
		if opened {
			quiet = false
			if time.Since(began) > time.Second {
				continue // open it again at once (the peer restarted, say)
			}
		}
		if !opened && !quiet {
			t.n.log.Info("no stream to the peer: posting meanwhile", "peer", slot, "reason", err.Error())
			quiet = true
		}
		retry := streamRetry
		if errors.Is(err, errNoStreamEndpoint) {
			retry = streamNoEndpoint
		}
		if !t.post(slot, q, time.Now().Add(retry)) {
			return
		}
	}
}

// snapSender posts the snapshots for slot, one at a time.
func (t *httpTransport) snapSender(slot int, q chan *pb.Message) {
	defer t.wg.Done()
	for {
		select {
		case m := <-q:
			t.postBatch(slot, []*pb.Message{m}, nil)
		case <-t.stop:
			return
		}
	}
}

// post sends q's messages to slot by /raft/msgs until the deadline; false:
// the transport stopped.
func (t *httpTransport) post(slot int, q chan *pb.Message, until time.Time) bool {
	var body []byte
	var batch []*pb.Message
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	for {
		var first *pb.Message
		select {
		case first = <-q:
		case <-timer.C:
			return true
		case <-t.stop:
			return false
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxMsgsPerPost {
			select {
			case m := <-q:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		body = t.postBatch(slot, batch, body)
	}
}

// postBatch posts batch to slot by /raft/msgs and reports what failed; it
// returns body, the buffer it encoded into, for reuse.
func (t *httpTransport) postBatch(slot int, batch []*pb.Message, body []byte) []byte {
	url := strings.TrimRight(t.n.cfg.Peers[slot], "/") + "/raft/msgs"
	body = body[:0]
	snap := false
	for _, m := range batch {
		b, err := proto.Marshal(m)
		if err != nil {
			continue
		}
		body = binary.AppendUvarint(body, uint64(len(b)))
		body = append(body, b...)
		snap = snap || m.GetType() == pb.MsgSnap
	}
	timeout := 3 * time.Second
	if snap {
		timeout = 60 * time.Second
	}
	t.posted.Add(int64(len(batch)))
	err := t.postBody(url, body, timeout)
	for _, m := range batch {
		if err != nil {
			t.failed(m)
		} else if m.GetType() == pb.MsgSnap {
			to := m.GetTo()
			t.n.report(func(rn *raft.RawNode) { rn.ReportSnapshot(to, raft.SnapshotFinish) })
		}
	}
	if cap(body) > 8<<20 {
		body = nil
	}
	return body
}

func (t *httpTransport) postBody(url string, body []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	t.authorize(req)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("peer answered %s", resp.Status)
	}
	return nil
}

func (t *httpTransport) Hello(slot int) (PeerHello, error) {
	var h PeerHello
	ctx, cancel := context.WithTimeout(t.ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(t.n.cfg.Peers[slot], "/")+"/raft/hello", nil)
	t.authorize(req)
	resp, err := t.client.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("peer %d answered %s", slot, resp.Status)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&h)
	return h, err
}

func (t *httpTransport) Join(slot int, raftID uint64) error {
	body := []byte(`{"raftID":` + strconv.FormatUint(raftID, 10) + `}`)
	return t.postBody(strings.TrimRight(t.n.cfg.Peers[slot], "/")+"/raft/join", body, 2*time.Second)
}

func (n *Node) peerAuthorized(r *http.Request) bool { return bearerOK(r, n.cfg.PeerToken) }

// PeerHandler serves the peer endpoints.
func (n *Node) PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /raft/msgs", n.serveMsgs)
	mux.HandleFunc("POST "+streamPath, n.serveStream)
	mux.HandleFunc("GET /raft/hello", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(n.hello())
		writeJSON(w, http.StatusOK, b)
	})
	mux.HandleFunc("POST /raft/join", n.serveJoin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.peerAuthorized(r) {
			n.s.met.peerRejected.WithLabelValues("unauthorized").Inc()
			w.Header().Set("Connection", "close")
			writeError(w, shardapi.CodeUnauthorized, "a valid peer token is required", nil)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// badPeer answers 400 and closes the connection.
func (n *Node) badPeer(w http.ResponseWriter, reason string) {
	n.s.met.peerRejected.WithLabelValues("invalid").Inc()
	w.Header().Set("Connection", "close")
	writeError(w, shardapi.CodeInvalidRequest, reason, nil)
}

// peerSender answers a peer request this member cannot take now (503
// while starting) or that names no other known slot (400), and otherwise
// returns the sending slot.
func (n *Node) peerSender(w http.ResponseWriter, r *http.Request) (int, bool) {
	if !n.opened.Load() {
		writeError(w, shardapi.CodeNotReady, "this member is starting", nil)
		return 0, false
	}
	from, err := strconv.Atoi(r.Header.Get(fromSlotHeader))
	if _, known := n.cfg.Peers[from]; err != nil || !known || from == n.cfg.ID {
		n.badPeer(w, "unknown sender slot")
		return 0, false
	}
	return from, true
}

func (n *Node) serveMsgs(w http.ResponseWriter, r *http.Request) {
	from, ok := n.peerSender(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, n.cfg.MaxPeerBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			n.s.met.peerRejected.WithLabelValues("too_large").Inc()
			w.Header().Set("Connection", "close")
			writeError(w, shardapi.CodePayloadTooLarge, "peer body too large", nil)
			return
		}
		n.badPeer(w, "reading the body: "+err.Error())
		return
	}
	msgs, reason := n.decodeMsgs(body, from)
	if reason != "" {
		n.badPeer(w, reason)
		return
	}
	if a := r.Header.Get(advertiseHeader); a != "" && len(a) <= maxAdvertiseSize {
		n.leadURLs.Store(from, a)
	}
	for _, m := range msgs {
		if m.GetTo() == n.raftID {
			n.Step(m)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeMsgs checks a whole batch before any of it reaches Raft.
func (n *Node) decodeMsgs(body []byte, from int) ([]*pb.Message, string) {
	var msgs []*pb.Message
	for len(body) > 0 {
		l, k := binary.Uvarint(body)
		if k <= 0 || l > uint64(len(body)-k) {
			return nil, "a message length runs past the body"
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(body[k:k+int(l)], m); err != nil {
			return nil, "a message does not decode: " + err.Error()
		}
		body = body[k+int(l):]
		if reason := n.checkPeerMsg(m, from); reason != "" {
			return nil, reason
		}
		msgs = append(msgs, m)
	}
	return msgs, ""
}

// checkPeerMsg says what is wrong with a message from slot from ("": nothing).
func (n *Node) checkPeerMsg(m *pb.Message, from int) string {
	if _, ok := pb.MessageType_name[int32(m.GetType())]; !ok || raft.IsLocalMsg(m.GetType()) {
		return "a message has a type peers do not send"
	}
	if slotOf(m.GetFrom()) != from || slotOf(m.GetTo()) != n.cfg.ID {
		return "a message is not from the sending slot to this member"
	}
	if m.GetType() == pb.MsgSnap && m.GetSnapshot().GetMetadata().GetIndex() == 0 {
		return "a snapshot message without a snapshot"
	}
	return ""
}

func (n *Node) serveJoin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RaftID uint64 `json:"raftID"`
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err != nil || json.Unmarshal(b, &req) != nil || req.RaftID == 0 {
		n.badPeer(w, "a join request names a raftID")
		return
	}
	if !n.opened.Load() {
		writeError(w, shardapi.CodeNotReady, "this member is starting", nil)
		return
	}
	if _, known := n.cfg.Peers[slotOf(req.RaftID)]; !known || req.RaftID == uint64(slotOf(req.RaftID)) {
		n.badPeer(w, "a joining member has a new raft id of a known slot")
		return
	}
	if _, err := n.AddMember(req.RaftID); err != nil {
		writeError(w, shardapi.CodeNotReady, err.Error(), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
