package server

// Cluster mode: the seat machine as a replicated state machine over Raft
// (go.etcd.io/raft/v3). One goroutine (the raft loop) owns the RawNode, the
// durable Raft log and the seat machine. Each turn of the loop handles one
// Ready:
//
//  1. on the leader, send the messages first, so followers write to their
//     disks while the leader writes to its own;
//  2. write the hard state and new entries with one write and one fdatasync
//     (a received snapshot is written first);
//  3. on a follower, send the messages now (its acknowledgements must follow
//     its write);
//  4. apply the committed entries to the seat machine, publish their seat
//     changes to the hub and answer the requests that proposed them;
//  5. answer the reads whose read index is applied, then Advance.
//
// Handlers hand writes to the loop through a channel; the loop drains it into
// one Raft entry per batch (group commit: while one batch is being written
// the next one queues). Everything that could differ between members (the
// time, deadlines, ttls after defaults and caps, the per-holder limit) is in
// the command the leader proposes; expiry is an OpTick the leader proposes.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
	"boxoffice.dev/boxoffice/shard/waitroom"
	"boxoffice.dev/boxoffice/shard/wal"
)

// ClusterConfig turns a shard into a member of a replicated cluster.
type ClusterConfig struct {
	// ID is this member's slot (1..7); Peers maps every slot to its peer URL.
	ID    int
	Peers map[int]string
	// PeerListen is where the HTTP transport serves peers.
	PeerListen string
	// AdvertiseURL is where clients reach this member's API.
	AdvertiseURL string
	// PeerToken authenticates peer traffic (empty: none).
	PeerToken string
	// Transport carries messages between members; nil: HTTP to Peers.
	Transport Transport

	// Tuning; zero means the default.
	MaxPeerBody   int64         // peer request body limit (256 MiB)
	RaftTick      time.Duration // 50ms
	ElectionTicks int           // 10
	// BootstrapWait bounds how long a member with an empty data directory
	// waits for its peers to answer before it gives up (default: forever).
	BootstrapWait time.Duration
}

// Transport sends Raft messages to peers and delivers theirs to Step.
type Transport interface {
	Start(n *Node) error
	Send(msgs []*pb.Message)
	Stop()
	// Hello probes a peer; Join asks a peer (the leader) to add raftID.
	Hello(slot int) (PeerHello, error)
	Join(slot int, raftID uint64) error
}

var (
	errNoLeader = errors.New("no leader is known or this member cannot reach a majority; retry (with the same Idempotency-Key)")
	errUnknown  = errors.New("leadership changed before the write was committed; its outcome is unknown, retry with the same Idempotency-Key")
)

// NotLeaderError answers a write or a current read on a follower.
type NotLeaderError struct{ Leader string }

func (e *NotLeaderError) Error() string { return "this member is not the leader" }

// Raft entry payload (format 1):
//
//	byte     1
//	uvarint  proposer session, sequence of the first command, count
//
// The session is random per process start (never 0; 0 is the leader's own
// expiry ticks), so an entry proposed before a restart and committed after
// it never answers a request of the new process.
//
//	per command: uvarint length, then a seats.Command binary or a room
//	record (recordRoom, waitroom.Command binary: see room.go)
const entryBatch = 1

// Node is this member's Raft node.
type Node struct {
	s      *Server
	cfg    ClusterConfig
	log    *slog.Logger
	raftID uint64
	// session identifies this process's proposals (see entryBatch).
	session uint64

	rn    *raft.RawNode
	ms    *raft.MemoryStorage
	disk  *raftDisk
	conf  *pb.ConfState
	hs    *pb.HardState
	props chan *request
	reads chan *request
	recv  chan *pb.Message
	ctrl  chan func()
	stop  chan struct{}
	done  chan struct{}

	// raft loop only
	seq       uint64
	waiters   map[uint64]*request
	readSeq   uint64
	readWait  map[uint64][]*request
	readReady []pendingRead
	applied   uint64
	lastSnap  uint64
	lastTick  time.Time
	isLeader  bool
	leadURLs  sync.Map // slot -> advertise URL
	snapBusy  atomic.Bool
	snapWG    sync.WaitGroup
	snapSpare atomic.Pointer[seats.Capture] // the last snapshot's capture, released: its buffers are reused
	answered  []*request
	late      []shardapi.LatePayment
	decodeCmd seats.Command
	decodeRm  waitroom.Command
	lastRoom  time.Time
	rtt       appendRTT

	// read by handlers
	lead     atomic.Uint64
	term     atomic.Uint64
	role     atomic.Value // string
	commit   atomic.Uint64
	appliedA atomic.Uint64
	members  atomic.Pointer[[]memberStatus]
	stopped  atomic.Bool
	opened   atomic.Bool
	// snapsInstalled counts snapshots received from a leader.
	snapsInstalled atomic.Int64
	joinState      atomic.Value // string
	// inStreams are the peers' open streams into this member (peerstream.go).
	inStreams streamConns
}

type pendingRead struct {
	index uint64
	reqs  []*request
}

type memberStatus struct {
	ID      int
	URL     string
	Match   uint64
	Healthy bool
}

func slotOf(raftID uint64) int { return int(raftID & 0xff) }

// newNode builds the node of a cluster member (from New).
func newNode(s *Server) *Node {
	cc := *s.cfg.Cluster
	if cc.RaftTick <= 0 {
		cc.RaftTick = 50 * time.Millisecond
	}
	if cc.ElectionTicks <= 0 {
		cc.ElectionTicks = 10
	}
	if cc.MaxPeerBody <= 0 {
		cc.MaxPeerBody = MaxPeerBody
	}
	n := &Node{s: s, cfg: cc, log: s.log.With("member", cc.ID),
		props: make(chan *request, maxBatch), reads: make(chan *request, maxBatch),
		recv: make(chan *pb.Message, 4096), ctrl: make(chan func(), 1024),
		stop: make(chan struct{}), done: make(chan struct{}),
		waiters: map[uint64]*request{}, readWait: map[uint64][]*request{}}
	n.role.Store(shardapi.RoleFollower)
	n.joinState.Store("")
	var sb [8]byte
	rand.Read(sb[:])
	n.session = binary.LittleEndian.Uint64(sb[:]) | 1
	if n.cfg.Transport == nil {
		n.cfg.Transport = newHTTPTransport(n)
	}
	s.met.registerCluster()
	return n
}

// startCluster decides or loads this member's identity, opens the Raft log
// and starts the raft loop (from Recover).
func (s *Server) startCluster() (err error) {
	n := s.node
	defer func() {
		if err != nil {
			n.stopped.Store(true)
			n.cfg.Transport.Stop()
			close(n.done)
		}
	}()
	ident, fresh, err := loadIdentity(s.cfg.DataDir, n.cfg.ID)
	if err != nil {
		return err
	}
	if err := n.cfg.Transport.Start(n); err != nil {
		return err
	}
	if fresh {
		if ident, err = n.decideIdentity(); err != nil {
			return err
		}
	}
	n.raftID = ident.RaftID
	if err := n.open(ident); err != nil {
		return err
	}
	n.opened.Store(true)
	go n.loop()
	if ident.Joining {
		go n.join()
	}
	return nil
}

// open recovers the Raft log and the machine and builds the RawNode.
func (n *Node) open(ident identity) error {
	s := n.s
	disk, st, err := openRaftDisk(wal.Options{Dir: s.cfg.DataDir, SegmentSize: s.cfg.SegmentSize, MapHash: s.ix.Hash(), Logger: s.log,
		SyncData: s.cfg.SyncData})
	if err != nil {
		return err
	}
	n.disk = disk
	s.walLog.Store(disk.wl)
	n.ms = raft.NewMemoryStorage()
	n.conf = &pb.ConfState{}
	s.m = seats.New(s.ix, s.cfg.Options)
	s.room = waitroom.New()
	if st.snap != nil {
		if err := n.ms.ApplySnapshot(st.snap); err != nil {
			return err
		}
		m, room, err := s.restoreState(st.snap.Data)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		s.m, s.room = m, room
		n.conf = st.snap.GetMetadata().GetConfState()
		n.applied = st.snap.GetMetadata().GetIndex()
		n.lastSnap = n.applied
	}
	if err := n.ms.Append(st.ents); err != nil {
		return err
	}
	if err := n.ms.SetHardState(st.hs); err != nil {
		return err
	}
	n.hs = st.hs
	s.m.TakeChanges()
	s.hub.reset(s.m)
	s.publishRoom()
	s.durable.Store(s.m.Version())
	rc := &raft.Config{
		ID: n.raftID, ElectionTick: n.cfg.ElectionTicks, HeartbeatTick: 1, Storage: n.ms,
		Applied: n.applied, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
		MaxUncommittedEntriesSize: 64 << 20, CheckQuorum: true, PreVote: true,
		Logger: &raftLogger{log: n.log}, StepDownOnRemoval: true,
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return err
	}
	n.rn = rn
	if ident.Bootstrap && st.lastIndex() == 0 {
		// Every member bootstraps the same entries, in slot order.
		var peers []raft.Peer
		for slot := 1; slot <= 7; slot++ {
			if _, ok := n.cfg.Peers[slot]; ok {
				peers = append(peers, raft.Peer{ID: uint64(slot)})
			}
		}
		if err := rn.Bootstrap(peers); err != nil {
			return err
		}
	}
	n.log.Info("raft log recovered", "raftID", n.raftID, "term", st.hs.GetTerm(), "commit", st.hs.GetCommit(),
		"applied", n.applied, "lastIndex", st.lastIndex(), "version", s.m.Version())
	return nil
}

// Step delivers a message from a peer (any goroutine).
func (n *Node) Step(m *pb.Message) bool {
	select {
	case n.recv <- m:
		return true
	default:
		return false // Raft tolerates loss
	}
}

// RaftID is this member's Raft id (slot in the low 8 bits).
func (n *Node) RaftID() uint64 { return n.raftID }

// report runs f on the raft loop (peer reports: unreachable, snapshot).
func (n *Node) report(f func(rn *raft.RawNode)) {
	select {
	case n.ctrl <- func() { f(n.rn) }:
	default:
	}
}

func (n *Node) loop() {
	defer close(n.done)
	defer close(n.s.writerDone) // ends the free-space watch
	ticker := time.NewTicker(n.cfg.RaftTick)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			n.rn.Tick()
			n.tick()
		case m := <-n.recv:
			n.step(m)
		drain:
			for i := 0; i < 256; i++ {
				select {
				case m := <-n.recv:
					n.step(m)
				default:
					break drain
				}
			}
		case r := <-n.props:
			n.propose(r)
		case r := <-n.reads:
			n.readIndex(r)
		case f := <-n.ctrl:
			f()
		case <-n.stop:
			n.shutdown()
			return
		}
		for n.rn.HasReady() {
			if err := n.handleReady(); err != nil {
				n.s.failStop(err)
				n.shutdown()
				return
			}
		}
	}
}

// step hands a peer's message to Raft, timing replication round trips.
func (n *Node) step(m *pb.Message) {
	if n.isLeader {
		if d, ok := n.rtt.received(m, time.Now()); ok {
			n.s.met.raftAppendRTT.Observe(d.Seconds())
		}
	}
	n.rn.Step(m)
}

// propose drains queued writes into one entry.
func (n *Node) propose(first *request) {
	batch := []*request{first}
	size := 64
drain:
	for len(batch) < maxBatch && size < 256<<10 {
		select {
		case r := <-n.props:
			batch = append(batch, r)
			size += 80 + len(r.cmd.Holder) + len(r.cmd.IdempotencyKey) + len(r.cmd.OrderID) + 5*len(r.cmd.Seats)
		default:
			break drain
		}
	}
	if !n.isLeader {
		for _, r := range batch {
			n.fail(r, n.notLeader())
		}
		return
	}
	now := max(n.s.cfg.Now().UnixNano(), n.s.m.Now(), n.s.room.Now())
	buf := make([]byte, 0, size)
	buf = append(buf, entryBatch)
	buf = binary.AppendUvarint(buf, n.session)
	buf = binary.AppendUvarint(buf, n.seq+1)
	buf = binary.AppendUvarint(buf, uint64(len(batch)))
	var cmdBuf []byte
	t0 := time.Now()
	for _, r := range batch {
		n.seq++
		r.cmd.Now = now
		r.rcmd.Now = now
		r.proposed = t0
		n.s.met.queueWait.Observe(t0.Sub(r.queued).Seconds())
		n.waiters[n.seq] = r
		if r.room {
			cmdBuf = appendRoomRecord(cmdBuf[:0], &r.rcmd)
		} else {
			cmdBuf = r.cmd.AppendBinary(cmdBuf[:0])
		}
		buf = binary.AppendUvarint(buf, uint64(len(cmdBuf)))
		buf = append(buf, cmdBuf...)
	}
	if err := n.rn.Propose(buf); err != nil {
		for i := range batch {
			seq := n.seq - uint64(len(batch)) + 1 + uint64(i)
			delete(n.waiters, seq)
			n.fail(batch[i], errNoLeader)
		}
	}
}

// proposeTick proposes an expiry when the earliest deadline passed.
func (n *Node) proposeTick() {
	now := max(n.s.cfg.Now().UnixNano(), n.s.m.Now())
	d, ok := n.s.m.NextDeadline()
	if !ok || d > now || time.Since(n.lastTick) < n.s.cfg.TickInterval {
		return
	}
	n.lastTick = time.Now()
	c := seats.Command{Op: seats.OpTick, Now: now}
	buf := []byte{entryBatch}
	buf = binary.AppendUvarint(buf, 0)
	buf = binary.AppendUvarint(buf, 0)
	buf = binary.AppendUvarint(buf, 1)
	cb := c.AppendBinary(nil)
	buf = binary.AppendUvarint(buf, uint64(len(cb)))
	buf = append(buf, cb...)
	n.rn.Propose(buf)
}

// proposeRoom proposes what the leader decides for the waiting room (the
// configuration, the opening with its seed, idle expiry), at most once per
// TickInterval: proposed twice before applied, each is harmless.
func (n *Node) proposeRoom() {
	if time.Since(n.lastRoom) < n.s.cfg.TickInterval {
		return
	}
	now := max(n.s.cfg.Now().UnixNano(), n.s.m.Now(), n.s.room.Now())
	due := n.s.roomDue(now)
	if len(due) == 0 {
		return
	}
	n.lastRoom = time.Now()
	buf := []byte{entryBatch}
	buf = binary.AppendUvarint(buf, 0)
	buf = binary.AppendUvarint(buf, 0)
	buf = binary.AppendUvarint(buf, uint64(len(due)))
	var cb []byte
	for i := range due {
		cb = appendRoomRecord(cb[:0], &due[i])
		buf = binary.AppendUvarint(buf, uint64(len(cb)))
		buf = append(buf, cb...)
	}
	n.rn.Propose(buf)
}

func (n *Node) fail(r *request, err error) {
	r.err = err
	r.failed = true
	r.done <- struct{}{}
}

func (n *Node) notLeader() error {
	if n.isLeader {
		return nil
	}
	return &NotLeaderError{Leader: n.leaderURL()}
}

func (n *Node) leaderURL() string {
	lead := n.lead.Load()
	if lead == 0 {
		return ""
	}
	if lead == n.raftID {
		return n.cfg.AdvertiseURL
	}
	if u, ok := n.leadURLs.Load(slotOf(lead)); ok {
		return u.(string)
	}
	return ""
}

// readIndex asks Raft to confirm leadership for a batch of reads.
func (n *Node) readIndex(first *request) {
	batch := []*request{first}
drain:
	for len(batch) < maxBatch {
		select {
		case r := <-n.reads:
			batch = append(batch, r)
		default:
			break drain
		}
	}
	if !n.isLeader {
		for _, r := range batch {
			n.fail(r, n.notLeader())
		}
		return
	}
	n.readSeq++
	var ctx [8]byte
	binary.BigEndian.PutUint64(ctx[:], n.readSeq)
	n.readWait[n.readSeq] = batch
	t0 := time.Now()
	for _, r := range batch {
		r.proposed = t0
	}
	n.rn.ReadIndex(ctx[:])
}

// tick proposes expiry, refreshes what handlers read and drops reads that
// waited too long.
func (n *Node) tick() {
	st := n.rn.BasicStatus()
	n.commit.Store(st.GetCommit())
	n.s.met.raftCommit.Set(float64(st.GetCommit()))
	if n.isLeader {
		n.proposeTick()
		n.proposeRoom()
		n.refreshMembers()
	}
	if n.s.roomDirty {
		n.s.publishRoom()
	}
	for k, reqs := range n.readWait {
		if len(reqs) > 0 && time.Since(reqs[0].proposed) > 3*time.Second {
			for _, r := range reqs {
				n.fail(r, errNoLeader)
			}
			delete(n.readWait, k)
		}
	}
}

func (n *Node) refreshMembers() {
	st := n.rn.Status()
	var ms []memberStatus
	for id, pr := range st.Progress {
		slot := slotOf(id)
		url := n.cfg.Peers[slot]
		if u, ok := n.leadURLs.Load(slot); ok {
			url = u.(string)
		}
		if id == n.raftID {
			url = n.cfg.AdvertiseURL
		}
		ms = append(ms, memberStatus{ID: slot, URL: url, Match: pr.Match, Healthy: id == n.raftID || pr.RecentActive})
		n.s.met.raftMatch.WithLabelValues(fmt.Sprint(slot)).Set(float64(pr.Match))
	}
	sortMembers(ms)
	n.members.Store(&ms)
}

func (n *Node) handleReady() error {
	rd := n.rn.Ready()
	wasLeader := n.isLeader
	if rd.SoftState != nil {
		n.setSoftState(rd.SoftState)
	}
	if wasLeader && n.isLeader {
		n.rtt.sent(rd.Messages, time.Now())
		n.cfg.Transport.Send(rd.Messages)
	} else {
		n.rtt.reset()
	}
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.installSnapshot(rd.Snapshot, rd.HardState); err != nil {
			return err
		}
	}
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		n.hs = rd.HardState
		n.term.Store(rd.HardState.GetTerm())
		n.s.met.raftTerm.Set(float64(rd.HardState.GetTerm()))
	}
	if len(rd.Entries) > 0 || (rd.MustSync && rd.HardState != nil) {
		t0 := time.Now()
		var hs *pb.HardState
		if rd.HardState != nil {
			hs = rd.HardState
		}
		n.s.writeStart.Store(t0.UnixNano()) // stalled-disk readiness, as in single mode
		err := n.disk.save(hs, rd.Entries)
		n.s.writeStart.Store(0)
		if err != nil {
			return err
		}
		n.s.met.fsync.Observe(time.Since(t0).Seconds())
		if err := n.ms.Append(rd.Entries); err != nil {
			return err
		}
	}
	if rd.HardState != nil {
		n.ms.SetHardState(rd.HardState)
	}
	if !(wasLeader && n.isLeader) {
		n.cfg.Transport.Send(rd.Messages)
	}
	n.apply(rd.CommittedEntries)
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		k := binary.BigEndian.Uint64(rs.RequestCtx)
		if reqs, ok := n.readWait[k]; ok {
			delete(n.readWait, k)
			n.readReady = append(n.readReady, pendingRead{index: rs.Index, reqs: reqs})
		}
	}
	n.serveReads()
	if wasLeader && !n.isLeader {
		n.failPending()
	}
	n.rn.Advance(rd)
	n.maybeSnapshot()
	return nil
}

func (n *Node) setSoftState(ss *raft.SoftState) {
	prev := n.lead.Load()
	n.isLeader = ss.RaftState == raft.StateLeader
	n.lead.Store(ss.Lead)
	role := shardapi.RoleFollower
	switch ss.RaftState {
	case raft.StateLeader:
		role = shardapi.RoleLeader
	case raft.StateCandidate, raft.StatePreCandidate:
		role = shardapi.RoleCandidate
	}
	n.role.Store(role)
	n.s.met.raftRole.Set(map[string]float64{shardapi.RoleFollower: 0, shardapi.RoleCandidate: 1, shardapi.RoleLeader: 2}[role])
	if prev != ss.Lead {
		n.s.met.raftLeaderChanges.Inc()
		n.log.Info("leader changed", "leader", slotOf(ss.Lead), "leaderRaftID", ss.Lead, "role", role)
	}
}

// failPending answers every write and read in flight after this member lost
// leadership: their outcome is unknown (a write may still commit).
func (n *Node) failPending() {
	for k, r := range n.waiters {
		delete(n.waiters, k)
		n.fail(r, errUnknown)
	}
	for k, reqs := range n.readWait {
		delete(n.readWait, k)
		for _, r := range reqs {
			n.fail(r, n.notLeader())
		}
	}
	for _, pr := range n.readReady {
		for _, r := range pr.reqs {
			n.fail(r, n.notLeader())
		}
	}
	n.readReady = n.readReady[:0]
}

// apply runs committed entries through the machine, publishes their seat
// changes and answers their proposers.
func (n *Node) apply(ents []*pb.Entry) {
	if len(ents) == 0 {
		return
	}
	var changes []seats.Change
	for _, e := range ents {
		if e.GetIndex() <= n.applied {
			continue
		}
		switch e.GetType() {
		case pb.EntryNormal:
			n.applyBatch(e.Data)
		case pb.EntryConfChange:
			cc := &pb.ConfChange{}
			if err := proto.Unmarshal(e.Data, cc); err == nil {
				n.conf = n.rn.ApplyConfChange(cc)
				n.log.Info("membership changed", "voters", n.conf.GetVoters())
			}
		case pb.EntryConfChangeV2:
			cc := &pb.ConfChangeV2{}
			if err := proto.Unmarshal(e.Data, cc); err == nil {
				n.conf = n.rn.ApplyConfChange(cc)
				n.log.Info("membership changed", "voters", n.conf.GetVoters(), "outgoing", n.conf.GetVotersOutgoing())
			}
		}
		changes = append(changes, n.s.m.TakeChanges()...)
		n.applied = e.GetIndex()
	}
	if len(n.late) > 0 && n.s.rep.Load() != nil {
		n.s.recordLate(n.late) // before the confirms are answered
		n.late = n.late[:0]
	}
	v := n.s.m.Version()
	n.s.durable.Store(v)
	n.s.hub.publish(changes, v)
	n.appliedA.Store(n.applied)
	n.s.met.raftApplied.Set(float64(n.applied))
	now := time.Now()
	for _, r := range n.answered {
		n.s.met.raftCommitLatency.Observe(now.Sub(r.proposed).Seconds())
		r.done <- struct{}{}
	}
	clear(n.answered)
	n.answered = n.answered[:0]
}

func (n *Node) applyBatch(data []byte) {
	if len(data) == 0 {
		return // the leader's empty entry of a new term
	}
	r := &rdr{b: data[1:]}
	if data[0] != entryBatch {
		n.log.Error("unknown entry kind; skipped", "kind", data[0])
		return
	}
	proposer, seq, count := r.u(), r.u(), r.u()
	for i := uint64(0); i < count && r.err == nil; i++ {
		b := r.bytes()
		if r.err != nil {
			break
		}
		c := &n.decodeCmd
		isRoom, res, rres, err := n.s.applyRecord(b, c, &n.decodeRm)
		if err != nil {
			n.log.Error("undecodable command in a committed entry; skipped", "err", err)
			continue
		}
		if isRoom {
			if proposer == n.session {
				if w, ok := n.waiters[seq+i]; ok {
					delete(n.waiters, seq+i)
					w.rres = rres
					n.s.answerPlace(w)
					n.answered = append(n.answered, w)
				}
			}
			continue
		}
		if c.Op == seats.OpConfirm && res.Code == seats.ErrExpired && !res.Replayed {
			n.late = append(n.late, shardapi.LatePayment{Hold: string(appendHoldID(nil, c.HoldID)), OrderID: c.OrderID,
				At: time.Unix(0, c.Now).UTC()})
		}
		if proposer == n.session {
			if w, ok := n.waiters[seq+i]; ok {
				delete(n.waiters, seq+i)
				w.res = res
				n.answered = append(n.answered, w)
			}
		}
	}
	if r.err != nil {
		n.log.Error("damaged entry; rest skipped", "err", r.err)
	}
}

// serveReads answers reads whose read index is applied.
func (n *Node) serveReads() {
	keep := n.readReady[:0]
	for _, pr := range n.readReady {
		if pr.index > n.applied {
			keep = append(keep, pr)
			continue
		}
		for _, r := range pr.reqs {
			n.serveRead(r)
		}
	}
	clear(n.readReady[len(keep):])
	n.readReady = keep
}

func (n *Node) serveRead(r *request) {
	m := n.s.m
	switch {
	case r.room:
		n.s.readPlace(r)
	case r.cmd.Op == seats.OpGet && r.cmd.KeyUsedBy != 0:
		r.res = seats.Result{}
		if r.cmd.IdempotencyKey != "" && m.KeyUsed(r.cmd.KeyUsedBy, r.cmd.IdempotencyKey) {
			r.res.Code = seats.ErrIdempotencyMismatch
		}
	case r.cmd.Op == seats.OpGet:
		v, ok := m.View(r.cmd.HoldID)
		if !ok {
			r.res = seats.Result{Code: seats.ErrNotFound}
		} else {
			r.res = seats.Result{Hold: v}
		}
	default: // a barrier: the hub is current
	}
	r.done <- struct{}{}
}

// submitCluster is submit in cluster mode.
func (n *Node) submit(r *request) error {
	if err := n.enqueue(r); err != nil {
		return err
	}
	return n.wait(r)
}

// enqueue hands r to the raft loop (a write) or the read queue.
func (n *Node) enqueue(r *request) error {
	ch := n.props
	if r.room && r.rcmd.Op == 0 || !r.room && (r.cmd.Op == seats.OpGet || r.cmd.Op == 0) {
		ch = n.reads
	}
	if n.stopped.Load() {
		return ErrStopped
	}
	if n.lead.Load() != n.raftID {
		if n.lead.Load() == 0 && ch == n.props {
			return errNoLeader // a write: 503, retry
		}
		return &NotLeaderError{Leader: n.leaderURL()} // "" while no leader is known
	}
	select {
	case ch <- r:
		return nil
	case <-n.done:
		return ErrStopped
	}
}

// wait waits for the answer of an enqueued request.
func (n *Node) wait(r *request) error {
	select {
	case <-r.done:
	case <-n.done:
		select {
		case <-r.done:
		default:
			return ErrStopped
		}
	}
	if r.failed {
		if r.err != nil {
			return r.err
		}
		return ErrStopped
	}
	return nil
}

// barrier waits until this leader has applied everything committed before
// the call (Raft read index).
func (n *Node) barrier() error {
	r := getRequest()
	defer putRequest(r)
	r.cmd.Op = 0
	return n.submit(r)
}

func (n *Node) shutdown() {
	n.stopped.Store(true)
	n.failPending()
	for k, r := range n.waiters {
		delete(n.waiters, k)
		n.fail(r, ErrStopped)
	}
	for {
		select {
		case r := <-n.props:
			n.fail(r, ErrStopped)
		case r := <-n.reads:
			n.fail(r, ErrStopped)
		default:
			n.cfg.Transport.Stop()
			n.snapWG.Wait()
			if err := n.disk.wl.Close(); err != nil {
				n.log.Error("closing the raft log", "err", err)
			}
			return
		}
	}
}

// raftLogger sends Raft's own log lines to slog.
type raftLogger struct{ log *slog.Logger }

func (l *raftLogger) Debug(v ...any)                 {}
func (l *raftLogger) Debugf(format string, v ...any) {}
func (l *raftLogger) Info(v ...any)                  { l.log.Debug(fmt.Sprint(v...), "source", "raft") }
func (l *raftLogger) Infof(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "source", "raft")
}
func (l *raftLogger) Warning(v ...any) { l.log.Warn(fmt.Sprint(v...), "source", "raft") }
func (l *raftLogger) Warningf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "source", "raft")
}
func (l *raftLogger) Error(v ...any) { l.log.Error(fmt.Sprint(v...), "source", "raft") }
func (l *raftLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "source", "raft")
}
func (l *raftLogger) Fatal(v ...any) { panic(fmt.Sprint(v...)) }
func (l *raftLogger) Fatalf(format string, v ...any) {
	panic(fmt.Sprintf(format, v...))
}
func (l *raftLogger) Panic(v ...any) { panic(fmt.Sprint(v...)) }
func (l *raftLogger) Panicf(format string, v ...any) {
	panic(fmt.Sprintf(format, v...))
}
