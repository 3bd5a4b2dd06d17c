// Package server runs one shard: the writer loop that owns the seat state
// machine and the log, the HTTP API of the shard contract (v1), the event hub
// and the metrics.
//
// # Writer loop
//
// One goroutine (the writer) owns the seats.Machine. Handlers decode and
// validate a request on their own goroutine, then hand a command to the
// writer through a channel and wait. The writer applies commands in order and
// frames those that changed the state as log records into the current group.
// A second goroutine (the syncer) takes a group whenever it is idle, writes it
// with one write and one fdatasync, publishes the group's seat changes to the
// hub and only then answers the group's requests. While the syncer is busy the
// next group fills up, so group size follows load (group commit) and the
// writer never waits for the disk. A failed write or fsync stops the shard:
// nothing of that group or later is acknowledged.
//
// Conflicts (409 seats_unavailable) that changed nothing and read only seats
// whose last change is already on disk are answered at once. Every other
// answer, reads of single holds included, waits for its group's fsync, so no
// answer depends on state that a crash could still lose.
//
// Expiry: every tick the writer checks the earliest deadline and, if it has
// passed, applies a tick command (logged like any other), so seats are free
// again within a tick plus an fsync of their deadline. Snapshots are encoded by
// the writer after the command that reaches the interval, and written once
// the group holding that command is on disk (the log rolls to a new segment
// first, so the older segments can go).
//
// The seat list and the event stream read the hub's durable view.
//
// # Health and reports
//
// readiness (health.go) falls while a log write is stalled longer than
// StallTimeout or the data volume is below MinFreeBytes; the requests of a
// stalled group still get their true answer when it ends (answerBy). Payments
// after expiry and log damage found at start-up are kept in the data
// directory (reports.go) and shown in /v1/status.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
	"boxoffice.dev/boxoffice/shard/waitroom"
	"boxoffice.dev/boxoffice/shard/wal"
)

// Config configures a shard.
type Config struct {
	Showtime          string
	SeatIDs           []string
	DataDir           string
	Token             string // empty: no authentication
	HoldTTL           time.Duration
	MaxHoldTTL        time.Duration
	MaxSeatsPerHolder int
	Logger            *slog.Logger

	// Tuning; zero means the default.
	SnapshotEvery      uint64        // records between snapshots (100000)
	SegmentSize        int64         // log segment size (64 MiB)
	TickInterval       time.Duration // expiry check interval (100ms)
	RingSize           int           // retained seat changes for stream resume (65536)
	MaxBodyBytes       int64         // request body limit (64 KiB)
	StreamWriteTimeout time.Duration // a stream write slower than this drops the client (10s)
	MaxStreams         int           // concurrent event-stream clients (1024)
	Now                func() time.Time
	Options            seats.Options // machine options (zero: seats.DefaultOptions)
	// Cluster, if set, makes the shard a member of a replicated cluster
	// (contract v2); nil is single mode (v1).
	Cluster *ClusterConfig
	// Room, if set, is the waiting room the leader keeps configured
	// (room.go); nil leaves the room as PUT /v1/room set it, if ever.
	Room *RoomConfig
	// StallTimeout: a log write (write and fsync of one group) running
	// longer than this makes the shard not ready until it ends (5s).
	StallTimeout time.Duration
	// MinFreeBytes: below this much free space on the data volume (plus
	// the last snapshot's size, for the final one) writes are refused with
	// 503 not_ready and /readyz is 503, before the disk fills (16 MiB).
	MinFreeBytes int64
	// SpaceCheckInterval is how often the data volume's free space is read (1s).
	SpaceCheckInterval time.Duration
	// SyncData replaces fdatasync of log segments (tests: a stalled disk).
	SyncData func(*os.File) error
}

// Server is one shard.
type Server struct {
	cfg Config
	ix  *seats.Index
	log *slog.Logger
	met *metrics
	hub *hub

	m *seats.Machine // writer only (in cluster mode: the raft loop only)
	// room is the waiting room, owned like m; roomDirty: changed since
	// roomView was last built.
	room      *waitroom.Machine
	roomDirty bool
	roomSeq   uint64 // owner only: counts built views
	roomView  atomic.Pointer[roomView]
	node      *Node    // cluster mode
	wl        *wal.Log // writer only
	walLog    atomic.Pointer[wal.Log]

	reqs       chan *request
	stop       chan struct{}
	writerDone chan struct{}
	fatal      chan error
	ready      atomic.Bool
	started    atomic.Bool
	epoch      atomic.Uint64
	stopOnce   sync.Once

	snapBusy     atomic.Bool
	snapWG       sync.WaitGroup
	snapSpare    atomic.Pointer[seats.Capture] // the last snapshot's capture, released: its buffers are reused
	lastSnap     uint64
	durable      atomic.Uint64 // seat-map version on disk
	broken       atomic.Bool   // a log write failed
	lastSnapSize atomic.Int64
	closeErr     error // set by the writer before writerDone: the final snapshot or close failed

	rep        atomic.Pointer[reports] // set by Recover
	writeStart atomic.Int64            // when the log write in progress started (unix ns, real clock); 0 when idle
	freeBytes  atomic.Int64            // free space on the data volume, -1 unknown
	lowSpace   atomic.Bool             // new segments cannot be reserved
	fullSpace  atomic.Bool             // below MinFreeBytes: writes refused
}

const maxBatch = 4096

type request struct {
	cmd seats.Command
	res seats.Result
	// failed: the group could not be written; nothing was acknowledged.
	failed   bool
	err      error     // cluster mode: why it failed
	proposed time.Time // cluster mode: when it was proposed
	// queued: when the handler handed the command to the writer (or, in
	// cluster mode, to the raft loop); applied: when the writer applied it.
	// They split a write's time into queue wait, apply and commit wait.
	queued  time.Time
	applied time.Time
	done    chan struct{}
	seat    [16]int32

	// A room request (room true): rcmd with Op 0 reads place rcmd.ID.
	room  bool
	rcmd  waitroom.Command
	rres  waitroom.Result
	place waitroom.Place
	found bool
}

var reqPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

func getRequest() *request {
	r := reqPool.Get().(*request)
	r.cmd = seats.Command{Seats: r.seat[:0]}
	r.res = seats.Result{}
	r.failed = false
	r.err = nil
	r.room, r.rcmd, r.rres, r.place, r.found = false, waitroom.Command{}, waitroom.Result{}, waitroom.Place{}, false
	return r
}

func putRequest(r *request) {
	if cap(r.cmd.Seats) > len(r.seat) {
		r.cmd.Seats = nil
	}
	reqPool.Put(r)
}

// ErrStopped is returned for commands that arrive after the writer stopped.
var ErrStopped = errors.New("shard is not accepting writes")

// New checks the configuration and builds a shard that is not yet recovered.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HoldTTL <= 0 || cfg.MaxHoldTTL <= 0 || cfg.HoldTTL > cfg.MaxHoldTTL {
		return nil, fmt.Errorf("hold ttl %v and max hold ttl %v: both must be positive and hold ttl at most max hold ttl", cfg.HoldTTL, cfg.MaxHoldTTL)
	}
	if cfg.MaxSeatsPerHolder < 1 || cfg.MaxSeatsPerHolder > seats.MaxSeatsPerCommand {
		return nil, fmt.Errorf("max seats per holder %d: must be between 1 and %d", cfg.MaxSeatsPerHolder, seats.MaxSeatsPerCommand)
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = 100_000
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 100 * time.Millisecond
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = 1 << 16
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = 10 * time.Second
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 1024
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 5 * time.Second
	}
	if cfg.MinFreeBytes <= 0 {
		cfg.MinFreeBytes = 16 << 20
	}
	if cfg.SpaceCheckInterval <= 0 {
		cfg.SpaceCheckInterval = time.Second
	}
	if cfg.Options == (seats.Options{}) {
		cfg.Options = seats.DefaultOptions()
	}
	ix, err := seats.NewIndex(cfg.SeatIDs)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ix: ix, log: cfg.Logger,
		reqs: make(chan *request, maxBatch), stop: make(chan struct{}), writerDone: make(chan struct{}),
		fatal: make(chan error, 1), room: waitroom.New()}
	s.hub = newHub(ix, cfg.RingSize)
	s.met = newMetrics(s)
	s.met.reg.MustRegister(&roomCollector{s})
	if cfg.Cluster != nil {
		s.node = newNode(s)
	}
	return s, nil
}

// Fatal reports a write failure after which the shard stopped.
func (s *Server) Fatal() <-chan error { return s.fatal }

// Ready reports whether the shard accepts writes (see readiness).
func (s *Server) Ready() bool { ok, _ := s.readiness(); return ok }

// Epoch is the owner epoch (0 before Recover).
func (s *Server) Epoch() uint64 { return s.epoch.Load() }

// Recover loads the snapshot, replays the log, starts a new epoch, expires
// holds whose deadline passed while down, and starts the writer.
func (s *Server) Recover() error {
	if s.cfg.Cluster != nil {
		return s.recoverCluster()
	}
	if err := checkSingleDir(s.cfg.DataDir); err != nil {
		return err
	}
	t0 := time.Now()
	var restoreDur time.Duration
	var replayCmd seats.Command
	before := func(rec *wal.Recovered) error {
		defer func() { restoreDur = time.Since(t0) }()
		if rec.Snapshot == nil {
			s.m = seats.New(s.ix, s.cfg.Options)
			s.room = waitroom.New()
			return nil
		}
		m, room, err := s.restoreState(rec.Snapshot)
		if err != nil {
			return fmt.Errorf("snapshot %d: %w", rec.SnapshotIndex, err)
		}
		s.m, s.room = m, room
		return nil
	}
	var replayRoom waitroom.Command
	apply := func(_ uint64, payload []byte) error {
		if _, _, _, err := s.applyRecord(payload, &replayCmd, &replayRoom); err != nil {
			return err
		}
		s.m.TakeChanges() // the hub starts from the recovered state
		return nil
	}
	l, rec, err := wal.Open(wal.Options{Dir: s.cfg.DataDir, SegmentSize: s.cfg.SegmentSize, MapHash: s.ix.Hash(), Logger: s.log,
		SyncData: s.cfg.SyncData}, before, apply)
	if err != nil {
		return err
	}
	if err := s.loadReports(l, rec); err != nil {
		l.Close()
		return err
	}
	s.wl = l
	s.walLog.Store(l)
	s.lastSnap = rec.SnapshotIndex
	s.m.TakeChanges()
	// Holds whose deadline passed while the shard was down.
	tick := seats.Command{Op: seats.OpTick, Now: max(s.cfg.Now().UnixNano(), s.m.Now())}
	synced := true
	if r := s.applySeat(&tick); r.Log {
		s.appendCmd(&tick)
		synced = false
	}
	// The room as the flags say, its opening and idle expiry, before the
	// first request.
	for _, c := range s.roomDue(max(tick.Now, s.room.Now())) {
		if s.applyRoom(&c).Log {
			l.AppendFunc(func(b []byte) []byte { return appendRoomRecord(b, &c) })
			synced = false
		}
	}
	if !synced {
		if err := l.Sync(); err != nil {
			return err
		}
	}
	s.m.TakeChanges()
	s.durable.Store(s.m.Version())
	s.hub.reset(s.m)
	s.publishRoom()
	s.epoch.Store(l.Epoch())
	s.met.epoch.Set(float64(l.Epoch()))
	d := time.Since(t0)
	s.met.recovery.Set(d.Seconds())
	s.log.Info("recovered", "epoch", l.Epoch(), "previousEpoch", rec.PrevEpoch, "version", s.m.Version(),
		"snapshotIndex", rec.SnapshotIndex, "replayedRecords", rec.Records, "truncatedBytes", rec.Truncated,
		"holds", s.m.Holds(), "idempotencyKeys", s.m.IdempotencyKeys(), "duration", d.String(),
		"snapshotLoad", restoreDur.String())
	s.started.Store(true)
	s.checkSpace()
	go s.watchSpace()
	go s.writer()
	s.ready.Store(true)
	return nil
}

func (s *Server) appendCmd(c *seats.Command) {
	s.wl.AppendFunc(c.AppendBinary)
}

// submit hands a command to the writer and waits for its answer.
func (s *Server) submit(r *request) error {
	if err := s.enqueue(r); err != nil {
		return err
	}
	return s.wait(r)
}

// enqueue hands a command to the writer (the raft loop in cluster mode)
// without waiting for its answer: a batch hands over all its operations
// first, so they share a group, then waits for each.
func (s *Server) enqueue(r *request) error {
	r.queued = time.Now()
	if s.node != nil {
		return s.node.enqueue(r)
	}
	select {
	case s.reqs <- r:
		return nil
	case <-s.writerDone:
		return ErrStopped
	}
}

// wait waits for the answer of an enqueued command.
func (s *Server) wait(r *request) error {
	if s.node != nil {
		return s.node.wait(r)
	}
	select {
	case <-r.done:
	case <-s.writerDone:
		select {
		case <-r.done:
		default:
			return ErrStopped
		}
	}
	if r.failed {
		return ErrStopped
	}
	return nil
}

// group is what the syncer writes, makes durable, publishes and answers.
type group struct {
	buf     []byte // framed log records
	records int
	reqs    []*request
	changes []seats.Change
	version uint64 // seat-map version after the group
	// A snapshot of the state after the group's last record, written once
	// the group is on disk (the log rolls to a new segment first).
	snap      *seats.Capture
	snapRoom  []byte // the room's state at the snapshot (nil: no room)
	snapIndex uint64
	snapTook  time.Duration // the capture's time on the writer loop
	// roomView, if set, is published once the group is on disk.
	roomView *roomView
	// late: confirms answered hold_expired, recorded before they are answered.
	late []shardapi.LatePayment
}

func (g *group) empty() bool {
	return len(g.reqs) == 0 && g.records == 0 && len(g.changes) == 0 && g.snap == nil && g.roomView == nil
}

func (g *group) reset() {
	clear(g.reqs)
	g.reqs = g.reqs[:0]
	g.changes = g.changes[:0]
	g.records = 0
	g.snap = nil
	g.snapRoom = nil
	g.roomView = nil
	g.late = g.late[:0]
	if cap(g.buf) > 4<<20 {
		g.buf = nil
	}
	g.buf = g.buf[:0]
}

// writer applies commands in order into the current group and hands the
// group to the syncer as soon as the syncer is idle: while one group is being
// written and fsynced, the next one fills up (group commit), and conflicts
// that read only durable seats are answered at once.
func (s *Server) writer() {
	defer close(s.writerDone)
	free := make(chan *group, 2)
	free <- &group{}
	free <- &group{}
	toSync := make(chan *group)
	syncerDone := make(chan struct{})
	go s.syncer(toSync, free, syncerDone)
	cur := &group{}
	ticker := time.NewTicker(s.cfg.TickInterval)
	defer ticker.Stop()
	for {
		var out chan *group
		if !cur.empty() {
			out = toSync
		}
		select {
		case r := <-s.reqs:
			s.apply(cur, r)
		drain:
			for len(cur.reqs) < maxBatch {
				select {
				case r := <-s.reqs:
					s.apply(cur, r)
				default:
					break drain
				}
			}
			s.stageRoomView(cur)
			continue
		case out <- cur:
			cur = <-free
			continue
		case <-ticker.C:
			s.expire(cur)
			s.roomTick(cur)
			continue
		case <-s.stop:
		}
		// Stopping: everything already handed over is applied and synced.
		for {
			select {
			case r := <-s.reqs:
				s.apply(cur, r)
				continue
			default:
			}
			break
		}
		if !cur.empty() {
			toSync <- cur
		}
		close(toSync)
		<-syncerDone
		if !s.broken.Load() {
			s.closeErr = s.finish()
		}
		return
	}
}

// apply runs one command into the current group.
func (s *Server) apply(g *group, r *request) {
	t0 := time.Now()
	s.met.queueWait.Observe(t0.Sub(r.queued).Seconds())
	// Logged times never run backwards, even if the wall clock does, so that
	// replay sees exactly the times the commands were applied at.
	if r.room {
		s.applyRoomRequest(g, r)
		return
	}
	r.cmd.Now = max(s.cfg.Now().UnixNano(), s.m.Now())
	r.res = s.applySeat(&r.cmd)
	if r.cmd.Op == seats.OpConfirm && r.res.Code == seats.ErrExpired && !r.res.Replayed {
		g.late = append(g.late, shardapi.LatePayment{Hold: string(appendHoldID(nil, r.cmd.HoldID)), OrderID: r.cmd.OrderID,
			At: time.Unix(0, r.cmd.Now).UTC()})
	}
	logged := r.res.Log
	if logged {
		s.appendRecord(g, &r.cmd)
	}
	// (r is the handler's again once answered: nothing touches it after.)
	r.applied = time.Now()
	s.met.applyTime.Observe(r.applied.Sub(t0).Seconds())
	switch {
	case logged:
	case r.res.Code == seats.ErrUnavailable && !r.res.Replayed && s.m.SeatsSettled(r.cmd.Seats, s.durable.Load()):
		// A conflict that changed nothing and read only seats whose state
		// is already on disk: answer it now rather than after an fsync
		// (conflicts are most answers at a sale's peak).
		s.met.early.Inc()
		r.done <- struct{}{}
		return
	}
	g.reqs = append(g.reqs, r)
	s.endCommand(g)
}

// expire applies a tick when the earliest deadline has passed.
func (s *Server) expire(g *group) {
	now := max(s.cfg.Now().UnixNano(), s.m.Now())
	if d, ok := s.m.NextDeadline(); !ok || d > now {
		return
	}
	tick := seats.Command{Op: seats.OpTick, Now: now}
	if s.applySeat(&tick).Log {
		s.appendRecord(g, &tick)
	}
	s.endCommand(g)
}

func (s *Server) appendRecord(g *group, c *seats.Command) {
	var start int
	g.buf, start = wal.BeginRecord(g.buf)
	g.buf = c.AppendBinary(g.buf)
	g.buf, _ = s.wl.EndRecord(g.buf, start)
	g.records++
}

// endCommand moves the command's seat changes into the group and starts a
// snapshot when enough records were logged since the last one.
func (s *Server) endCommand(g *group) {
	g.changes = append(g.changes, s.m.TakeChanges()...)
	g.version = s.m.Version()
	if s.wl.NextIndex()-1-s.lastSnap >= s.cfg.SnapshotEvery && !s.snapBusy.Load() && g.snap == nil {
		t0 := time.Now()
		g.snap = s.m.Capture(s.snapSpare.Swap(nil))
		g.snapRoom = s.roomState()
		g.snapIndex = s.wl.NextIndex() - 1
		s.lastSnap = g.snapIndex
		s.snapBusy.Store(true)
		g.snapTook = time.Since(t0)
	}
}

// syncer writes and fsyncs each group, then publishes its changes and
// answers its requests, in group order.
func (s *Server) syncer(in <-chan *group, free chan<- *group, done chan<- struct{}) {
	defer close(done)
	for g := range in {
		var err error
		if s.broken.Load() {
			err = ErrStopped
		} else if g.records > 0 {
			t0 := time.Now()
			s.writeStart.Store(t0.UnixNano())
			err = s.wl.Write(g.buf, g.records)
			s.writeStart.Store(0)
			s.met.fsync.Observe(time.Since(t0).Seconds())
			s.met.groupSize.Observe(float64(g.records))
		}
		if err != nil {
			if !s.broken.Swap(true) {
				s.ready.Store(false)
				s.log.Error("log write failed; the shard stops (nothing of this group was acknowledged)", "err", err)
				select {
				case s.fatal <- err:
				default:
				}
			}
			for _, r := range g.reqs {
				r.failed = true
				r.done <- struct{}{}
			}
		} else {
			s.durable.Store(g.version)
			// The room's view first: a stream woken by the seat changes
			// sees the room as of the same group.
			if g.roomView != nil {
				s.roomView.Store(g.roomView)
			}
			s.hub.publish(g.changes, g.version)
			if g.roomView != nil && len(g.changes) == 0 {
				s.hub.wake()
			}
			if len(g.late) > 0 {
				s.recordLate(g.late)
			}
			now := time.Now()
			for _, r := range g.reqs {
				s.met.commitWait.Observe(now.Sub(r.applied).Seconds())
				r.done <- struct{}{}
			}
			if g.snap != nil {
				s.writeSnapshot(g.snap, g.snapRoom, g.snapIndex, g.snapTook)
			}
		}
		g.reset()
		free <- g
	}
}

// writeSnapshot rolls the log (the group holding the snapshot's last record
// is on disk) and writes the snapshot in the background. captured is the
// time the capture held the writer loop.
func (s *Server) writeSnapshot(c *seats.Capture, room []byte, index uint64, captured time.Duration) {
	if err := s.wl.Roll(); err != nil {
		s.log.Error("rolling the log segment", "err", err)
		s.snapBusy.Store(false)
		return
	}
	s.snapWG.Add(1)
	go func() {
		defer s.snapWG.Done()
		defer s.snapBusy.Store(false)
		t0 := time.Now()
		state := encodeState(c.AppendTo(make([]byte, 0, s.lastSnapSize.Load()+s.lastSnapSize.Load()/4)), room)
		c.Release()
		s.snapSpare.Store(c)
		s.lastSnapSize.Store(int64(len(state)))
		encode := time.Since(t0)
		if err := s.wl.WriteSnapshot(state, index); err != nil {
			s.met.snapshots.WithLabelValues("error").Inc()
			s.log.Error("writing snapshot (the log still holds everything)", "err", err, "index", index)
			return
		}
		s.met.snapshots.WithLabelValues("ok").Inc()
		s.log.Info("snapshot written", "index", index, "bytes", len(state), "capture", captured.String(),
			"encode", encode.String(), "duration", time.Since(t0).String())
	}()
}

// finish runs after the syncer stopped: a final snapshot, then close. An
// error means the shard did not stop cleanly (the log still holds
// everything; the next start replays it).
func (s *Server) finish() error {
	s.snapWG.Wait()
	var err error
	if index := s.wl.NextIndex() - 1; index != s.lastSnap {
		t0 := time.Now()
		if err = s.wl.Roll(); err == nil {
			err = s.wl.WriteSnapshot(encodeState(s.m.Capture(nil).AppendTo(nil), s.roomState()), index)
		}
		if err != nil {
			s.met.snapshots.WithLabelValues("error").Inc()
			err = fmt.Errorf("final snapshot (the log still holds everything; the next start replays it): %w", err)
			s.log.Error("final snapshot failed", "err", err.Error(), "index", index)
		} else {
			s.met.snapshots.WithLabelValues("ok").Inc()
			s.lastSnap = index
			s.log.Info("final snapshot written", "index", index, "duration", time.Since(t0).String())
		}
	}
	if cerr := s.wl.Close(); cerr != nil {
		s.log.Error("closing the log", "err", cerr)
		err = errors.Join(err, fmt.Errorf("closing the log: %w", cerr))
	}
	return err
}

// BeginShutdown stops answering writes (503 not_ready, /readyz 503) and ends
// event streams. Requests already handed to the writer are still answered.
func (s *Server) BeginShutdown() {
	s.ready.Store(false)
	s.hub.close()
}

// Close stops the writer after it answered everything it was given, syncs
// the log and writes a final snapshot. Call after the HTTP server stopped.
func (s *Server) Close(ctx context.Context) error {
	s.BeginShutdown()
	if s.node != nil {
		return s.node.close(ctx)
	}
	if !s.started.Load() {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	select {
	case <-s.writerDone:
		return s.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}
