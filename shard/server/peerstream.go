package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Streams: POST /raft/stream is one long-lived request per peer and
// direction, as etcd's rafthttp keeps one stream per peer. Its chunked body
// carries the sender's messages as they come, each framed as in
// /raft/msgs (uvarint length, protobuf raftpb.Message); a zero length is a
// keepalive. The receiver answers 200 once it has read the first frame (a
// keepalive the sender writes at once) and then only reads, stepping each
// message into Raft as it arrives, so the sender never waits for a round
// trip before its next message. POST /raft/msgs stays for snapshots
// (they go on their own, as in etcd) and for a peer that has no stream
// endpoint or cannot be reached (its messages fail fast and Raft hears
// that the peer is unreachable).
//
// A stream is ended and opened again when a frame is refused (the
// connection is closed: the 200 has gone already), when the receiver has heard
// nothing, not even a keepalive, for streamIdle, and when the sender's
// writes make no progress for streamStuck (a stopped or gone peer).
const (
	streamPath      = "/raft/stream"
	streamKeepalive = time.Second
	streamIdle      = 5 * time.Second
	streamStuck     = 5 * time.Second
	// streamRetry is how long a sender posts before it tries a stream
	// again after one failed to open; streamNoEndpoint after a peer
	// answered that it has none (an older member).
	streamRetry      = 200 * time.Millisecond
	streamNoEndpoint = 30 * time.Second
	maxFrameBatch    = 64 << 10 // bytes a sender encodes per write
)

var errNoStreamEndpoint = errors.New("the peer has no stream endpoint")

// msgStream is the body of an outgoing stream. The HTTP client's write loop
// reads it: each Read blocks for the next queued message (or a keepalive),
// then encodes what else is queued, so a burst of messages goes out as one
// chunk and one write.
type msgStream struct {
	t    *httpTransport
	q    chan *pb.Message
	done <-chan struct{}
	tick *time.Ticker
	// sent says a frame went out since the last keepalive tick; begun, that
	// the first frame (a keepalive, at once) did.
	sent, begun bool
	buf         []byte
	rest        []byte // encoded bytes a short Read left
	// busySince is when Read last returned (UnixNano), 0 while Read waits
	// for a message: the write loop has been writing since then. The
	// watchdog ends a stream whose write has not come back in streamStuck.
	busySince atomic.Int64
	// taken counts messages handed to the write loop; to is the last one's
	// destination (for reporting the peer unreachable when the stream ends).
	taken atomic.Int64
	to    atomic.Uint64
}

func (s *msgStream) Read(p []byte) (int, error) {
	s.busySince.Store(0)
	defer s.busySince.Store(time.Now().UnixNano())
	if len(s.rest) > 0 {
		n := copy(p, s.rest)
		s.rest = s.rest[n:]
		return n, nil
	}
	if !s.begun {
		// The receiver answers once it reads: a first frame at once
		// opens the stream without waiting for a message.
		s.begun = true
		p[0] = 0
		return 1, nil
	}
	var m *pb.Message
	for m == nil {
		select {
		case m = <-s.q:
		case <-s.tick.C:
			if !s.sent {
				p[0] = 0 // keepalive
				return 1, nil
			}
			s.sent = false
		case <-s.done:
			return 0, io.EOF
		}
	}
	s.sent = true
	buf := s.append(s.buf[:0], m)
	for len(buf) < maxFrameBatch && len(buf) < len(p) {
		select {
		case m = <-s.q:
			buf = s.append(buf, m)
			continue
		default:
		}
		break
	}
	n := copy(p, buf)
	s.rest = buf[n:]
	if cap(buf) <= 4*maxFrameBatch {
		s.buf = buf
	}
	return n, nil
}

func (s *msgStream) append(buf []byte, m *pb.Message) []byte {
	start := len(buf)
	buf = binary.AppendUvarint(buf, uint64(proto.Size(m)))
	out, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return buf[:start] // dropped, as a full queue drops: Raft retries
	}
	s.taken.Add(1)
	s.t.streamed.Add(1)
	s.to.Store(m.GetTo())
	return out
}

// stream carries q's messages to slot on one stream until it ends. opened
// says the peer accepted it; err is errNoStreamEndpoint when the peer has no
// streams, nil when the transport stops.
func (t *httpTransport) stream(slot int, q chan *pb.Message) (opened bool, err error) {
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	body := &msgStream{t: t, q: q, done: ctx.Done(), tick: time.NewTicker(streamKeepalive)}
	defer body.tick.Stop()
	defer t.streamEnded(body)
	body.busySince.Store(time.Now().UnixNano())
	url := strings.TrimRight(t.n.cfg.Peers[slot], "/") + streamPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return false, err
	}
	req.ContentLength = -1 // chunked: the body has no end
	t.authorize(req)
	req.Header.Set("Content-Type", "application/octet-stream")
	// The body starts only after the receiver's 100 Continue: a refusal
	// (an older member's 404, 401, 503 while starting) then comes back
	// at once, where a receiver that did not read would otherwise wait
	// for a body that never ends.
	req.Header.Set("Expect", "100-continue")
	// Do returns at the receiver's 200, which it sends once it has read
	// the first frame. The client's response header timeout counts only
	// after a whole body is written, so this bounds the wait instead.
	giveUp := time.AfterFunc(streamStuck, cancel)
	resp, err := t.streams.Do(req)
	if !giveUp.Stop() && err == nil {
		resp.Body.Close()
		err = fmt.Errorf("the peer did not answer in %s", streamStuck)
	}
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return false, errNoStreamEndpoint
	default:
		return false, fmt.Errorf("peer answered %s", resp.Status)
	}
	t.n.log.Info("peer stream open", "peer", slot)
	t.open.Add(1)
	defer t.open.Add(-1)
	// The receiver writes nothing more; its end of the answer ends the
	// stream, as does the watchdog.
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		ended <- err
	}()
	watch := time.NewTicker(streamStuck / 5)
	defer watch.Stop()
	for {
		select {
		case err = <-ended:
		case <-t.stop:
			cancel()
			<-ended
			return true, nil
		case <-watch.C:
			busy := body.busySince.Load()
			if busy == 0 || time.Since(time.Unix(0, busy)) < streamStuck {
				continue
			}
			err = fmt.Errorf("a write made no progress for %s", streamStuck)
			cancel()
			<-ended
		}
		break
	}
	if err == nil {
		err = errors.New("the peer ended the stream")
	}
	t.n.log.Info("peer stream ended", "peer", slot, "reason", err.Error())
	return true, err
}

// streamEnded tells Raft the peer may have missed what a stream that ended
// (or never opened) took: it probes the peer again rather than wait for
// answers that will not come.
func (t *httpTransport) streamEnded(s *msgStream) {
	if s.taken.Load() == 0 {
		return
	}
	to := s.to.Load()
	t.n.report(func(rn *raft.RawNode) { rn.ReportUnreachable(to) })
}

// streamConns lists the open incoming streams, so Stop can end them at once
// (the server's Shutdown waits for handlers, and a stream's never returns
// by itself).
type streamConns struct {
	mu    sync.Mutex
	open  map[*http.ResponseController]struct{}
	ended bool
}

func (c *streamConns) add(rc *http.ResponseController) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	if c.open == nil {
		c.open = map[*http.ResponseController]struct{}{}
	}
	c.open[rc] = struct{}{}
	return true
}

func (c *streamConns) remove(rc *http.ResponseController) {
	c.mu.Lock()
	delete(c.open, rc)
	c.mu.Unlock()
}

// end makes every open stream's next read fail, now and for streams that
// arrive later.
func (c *streamConns) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	for rc := range c.open {
		rc.SetReadDeadline(time.Now())
	}
}

// serveStream reads one peer's stream (see the top of this file).
func (n *Node) serveStream(w http.ResponseWriter, r *http.Request) {
	from, ok := n.peerSender(w, r)
	if !ok {
		return
	}
	if a := r.Header.Get(advertiseHeader); a != "" && len(a) <= maxAdvertiseSize {
		n.leadURLs.Store(from, a)
	}
	rc := http.NewResponseController(w)
	if err := rc.EnableFullDuplex(); err != nil {
		n.badPeer(w, "streams need HTTP/1.1")
		return
	}
	if !n.inStreams.add(rc) {
		writeError(w, shardapi.CodeNotReady, "this member is stopping", nil)
		return
	}
	defer n.inStreams.remove(rc)
	deadline := time.Now().Add(streamIdle)
	rc.SetReadDeadline(deadline)
	br := bufio.NewReaderSize(r.Body, 64<<10)
	// The first read sends 100 Continue; the sender's first frame comes at
	// once, and then the 200 tells it the stream is open.
	if _, err := br.Peek(1); err != nil {
		return
	}
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	var frame []byte
	for {
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return // the sender ended, went quiet or is gone; or Stop
		}
		// Moving the deadline costs a timer update: do it once a second.
		if now := time.Now(); deadline.Sub(now) < streamIdle-time.Second {
			deadline = now.Add(streamIdle)
			rc.SetReadDeadline(deadline)
		}
		if l == 0 {
			continue
		}
		if l > uint64(n.cfg.MaxPeerBody) {
			n.s.met.peerRejected.WithLabelValues("too_large").Inc()
			panic(http.ErrAbortHandler) // closes the connection
		}
		if uint64(cap(frame)) < l {
			frame = make([]byte, l)
		}
		frame = frame[:l]
		if _, err := io.ReadFull(br, frame); err != nil {
			return
		}
		m := &pb.Message{}
		reason := ""
		if err := proto.Unmarshal(frame, m); err != nil {
			reason = "a message does not decode: " + err.Error()
		} else {
			reason = n.checkPeerMsg(m, from)
		}
		if reason != "" {
			n.s.met.peerRejected.WithLabelValues("invalid").Inc()
			n.log.Warn("peer stream refused", "peer", from, "reason", reason)
			panic(http.ErrAbortHandler)
		}
		if m.GetType() == pb.MsgSnap {
			// Snapshots come by /raft/msgs, where their size is known
			// before any of them is read; a stream does not carry them.
			n.s.met.peerRejected.WithLabelValues("invalid").Inc()
			n.log.Warn("peer stream refused", "peer", from, "reason", "a snapshot on a stream")
			panic(http.ErrAbortHandler)
		}
		if m.GetTo() == n.raftID {
			n.Step(m)
		}
	}
}
