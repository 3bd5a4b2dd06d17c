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
// Each peer has one sender goroutine with a bounded queue (full: the message
// is dropped, Raft retries) that posts what is queued as one batch on a
// kept-alive connection. A body larger than MaxPeerBody, or one that does not
// decode into messages addressed to this member from a known slot, is 400
// and the connection is closed; nothing of it reaches Raft.
const (
	MaxPeerBody      = 256 << 20 // default ClusterConfig.MaxPeerBody
	peerQueue        = 4096
	maxMsgsPerPost   = 1024
	advertiseHeader  = "X-Boxoffice-Advertise"
	fromSlotHeader   = "X-Boxoffice-From"
	maxAdvertiseSize = 512
)

type httpTransport struct {
	n      *Node
	client *http.Client
	srv    *http.Server
	ln     net.Listener
	peers  map[int]chan *pb.Message
	stop   chan struct{}
	ctx    context.Context // cancelled by Stop: posts in flight end
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newHTTPTransport(n *Node) *httpTransport {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &httpTransport{n: n, client: &http.Client{Transport: tr}, stop: make(chan struct{}), peers: map[int]chan *pb.Message{},
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
		t.wg.Add(1)
		go t.sender(slot, q)
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t.srv.Shutdown(ctx)
	t.srv.Close()
	t.wg.Wait()
}

func (t *httpTransport) Send(msgs []*pb.Message) {
	for _, m := range msgs {
		q, ok := t.peers[slotOf(m.GetTo())]
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

func (t *httpTransport) sender(slot int, q chan *pb.Message) {
	defer t.wg.Done()
	url := strings.TrimRight(t.n.cfg.Peers[slot], "/") + "/raft/msgs"
	var body []byte
	var batch []*pb.Message
	for {
		var first *pb.Message
		select {
		case first = <-q:
		case <-t.stop:
			return
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
		err := t.post(url, body, timeout)
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
	}
}

func (t *httpTransport) post(url string, body []byte, timeout time.Duration) error {
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
	return t.post(strings.TrimRight(t.n.cfg.Peers[slot], "/")+"/raft/join", body, 2*time.Second)
}

func (n *Node) peerAuthorized(r *http.Request) bool { return bearerOK(r, n.cfg.PeerToken) }

// PeerHandler serves the peer endpoints.
func (n *Node) PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /raft/msgs", n.serveMsgs)
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

func (n *Node) serveMsgs(w http.ResponseWriter, r *http.Request) {
	if !n.opened.Load() {
		writeError(w, shardapi.CodeNotReady, "this member is starting", nil)
		return
	}
	from, err := strconv.Atoi(r.Header.Get(fromSlotHeader))
	if _, known := n.cfg.Peers[from]; err != nil || !known || from == n.cfg.ID {
		n.badPeer(w, "unknown sender slot")
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
		if _, ok := pb.MessageType_name[int32(m.GetType())]; !ok || raft.IsLocalMsg(m.GetType()) {
			return nil, "a message has a type peers do not send"
		}
		if slotOf(m.GetFrom()) != from || slotOf(m.GetTo()) != n.cfg.ID {
			return nil, "a message is not from the sending slot to this member"
		}
		if m.GetType() == pb.MsgSnap && m.GetSnapshot().GetMetadata().GetIndex() == 0 {
			return nil, "a snapshot message without a snapshot"
		}
		msgs = append(msgs, m)
	}
	return msgs, ""
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
