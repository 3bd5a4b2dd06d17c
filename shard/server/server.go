// Package server runs one shard: the writer loop that owns the seat state
// machine and the log, the HTTP API of the shard contract (v1), the event hub
// and the metrics.
//
// # Writer loop
//
// One goroutine owns the seats.Machine and the wal.Log. Handlers decode and
// validate a request on their own goroutine, then hand a command to the
// writer through a channel and wait. The writer takes every command waiting
// (up to maxBatch), applies them in order, appends those that changed the
// state to the log, writes and fsyncs the group once, then publishes the
// group's seat changes to the hub and only then answers the handlers. A
// failed write or fsync stops the shard (applied state that is not on disk
// must never be answered). The same loop runs expiry: every tick, if the
// earliest deadline has passed, a tick command expires the holds (logged like
// any other command), so seats are free again within a tick plus an fsync of
// their deadline. Snapshots are encoded in the loop and written to disk on
// another goroutine.
//
// Reads of single holds go through the writer too (answered with the group
// they land in); the seat list and the event stream read the hub's durable
// view, which is updated after fsync, before the answers of the group.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
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
	Now                func() time.Time
	Options            seats.Options // machine options (zero: seats.DefaultOptions)
}

// Server is one shard.
type Server struct {
	cfg Config
	ix  *seats.Index
	log *slog.Logger
	met *metrics
	hub *hub

	m      *seats.Machine // writer only
	wl     *wal.Log       // writer only
	walLog atomic.Pointer[wal.Log]

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
	lastSnap     uint64
	lastSnapSize int
	encBuf       []byte
}

const maxBatch = 4096

type request struct {
	cmd seats.Command
	res seats.Result
	// failed: the group could not be written; nothing was acknowledged.
	failed bool
	done   chan struct{}
	seat   [16]int32
}

var reqPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

func getRequest() *request {
	r := reqPool.Get().(*request)
	r.cmd = seats.Command{Seats: r.seat[:0]}
	r.res = seats.Result{}
	r.failed = false
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
	if cfg.Now == nil {
		cfg.Now = time.Now
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
		fatal: make(chan error, 1)}
	s.hub = newHub(ix, cfg.RingSize)
	s.met = newMetrics(s)
	return s, nil
}

// Fatal reports a write failure after which the shard stopped.
func (s *Server) Fatal() <-chan error { return s.fatal }

// Ready reports whether the shard accepts writes.
func (s *Server) Ready() bool { return s.ready.Load() }

// Epoch is the owner epoch (0 before Recover).
func (s *Server) Epoch() uint64 { return s.epoch.Load() }

// Recover loads the snapshot, replays the log, starts a new epoch, expires
// holds whose deadline passed while down, and starts the writer.
func (s *Server) Recover() error {
	t0 := time.Now()
	var restoreDur time.Duration
	var replayCmd seats.Command
	before := func(rec *wal.Recovered) error {
		defer func() { restoreDur = time.Since(t0) }()
		if rec.Snapshot == nil {
			s.m = seats.New(s.ix, s.cfg.Options)
			return nil
		}
		m, err := seats.Restore(s.ix, s.cfg.Options, rec.Snapshot)
		if err != nil {
			return fmt.Errorf("snapshot %d: %w", rec.SnapshotIndex, err)
		}
		s.m = m
		return nil
	}
	apply := func(_ uint64, payload []byte) error {
		if err := seats.DecodeCommand(payload, &replayCmd); err != nil {
			return err
		}
		s.m.Apply(&replayCmd)
		return nil
	}
	l, rec, err := wal.Open(wal.Options{Dir: s.cfg.DataDir, SegmentSize: s.cfg.SegmentSize, MapHash: s.ix.Hash(), Logger: s.log}, before, apply)
	if err != nil {
		return err
	}
	s.wl = l
	s.walLog.Store(l)
	s.lastSnap = rec.SnapshotIndex
	s.m.TakeChanges()
	// Holds whose deadline passed while the shard was down.
	tick := seats.Command{Op: seats.OpTick, Now: max(s.cfg.Now().UnixNano(), s.m.Now())}
	if r := s.m.Apply(&tick); r.Log {
		s.appendCmd(&tick)
		if err := l.Sync(); err != nil {
			return err
		}
	}
	s.m.TakeChanges()
	s.hub.reset(s.m)
	s.epoch.Store(l.Epoch())
	s.met.epoch.Set(float64(l.Epoch()))
	d := time.Since(t0)
	s.met.recovery.Set(d.Seconds())
	s.log.Info("recovered", "epoch", l.Epoch(), "previousEpoch", rec.PrevEpoch, "version", s.m.Version(),
		"snapshotIndex", rec.SnapshotIndex, "replayedRecords", rec.Records, "truncatedBytes", rec.Truncated,
		"holds", s.m.Holds(), "idempotencyKeys", s.m.IdempotencyKeys(), "duration", d.String(),
		"snapshotLoad", restoreDur.String())
	s.started.Store(true)
	go s.writer()
	s.ready.Store(true)
	return nil
}

func (s *Server) appendCmd(c *seats.Command) {
	s.encBuf = c.AppendBinary(s.encBuf[:0])
	s.wl.Append(s.encBuf)
}

// submit hands a command to the writer and waits for its answer.
func (s *Server) submit(r *request) error {
	select {
	case s.reqs <- r:
	case <-s.writerDone:
		return ErrStopped
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

func (s *Server) writer() {
	defer close(s.writerDone)
	batch := make([]*request, 0, maxBatch)
	ticker := time.NewTicker(s.cfg.TickInterval)
	defer ticker.Stop()
	stopping := false
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-ticker.C:
		case <-s.stop:
			stopping = true
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if err := s.runBatch(batch); err != nil {
			s.ready.Store(false)
			s.log.Error("log write failed; the shard stops (nothing of this group was acknowledged)", "err", err)
			for _, r := range batch {
				r.failed = true
				r.done <- struct{}{}
			}
			select {
			case s.fatal <- err:
			default:
			}
			return
		}
		clear(batch)
		batch = batch[:0]
		if stopping && len(s.reqs) == 0 {
			s.finish()
			return
		}
	}
}

// runBatch applies, logs, syncs, publishes and answers one group.
func (s *Server) runBatch(batch []*request) error {
	// Logged times never run backwards, even if the wall clock does, so that
	// replay sees exactly the times the commands were applied at.
	now := max(s.cfg.Now().UnixNano(), s.m.Now())
	logged := 0
	for _, r := range batch {
		r.cmd.Now = now
		r.res = s.m.Apply(&r.cmd)
		if r.res.Log {
			s.appendCmd(&r.cmd)
			logged++
		}
	}
	if d, ok := s.m.NextDeadline(); ok && d <= now {
		tick := seats.Command{Op: seats.OpTick, Now: now}
		if s.m.Apply(&tick).Log {
			s.appendCmd(&tick)
			logged++
		}
	}
	changes := s.m.TakeChanges()
	if logged > 0 {
		t0 := time.Now()
		if err := s.wl.Sync(); err != nil {
			return err
		}
		s.met.fsync.Observe(time.Since(t0).Seconds())
		s.met.groupSize.Observe(float64(logged))
	}
	s.hub.publish(changes, s.m.Version())
	for _, r := range batch {
		r.done <- struct{}{}
	}
	if s.wl.NextIndex()-1-s.lastSnap >= s.cfg.SnapshotEvery && !s.snapBusy.Load() {
		s.snapshot(false)
	}
	return nil
}

// snapshot encodes the state and writes it (in the background unless wait).
func (s *Server) snapshot(wait bool) {
	if err := s.wl.Roll(); err != nil {
		s.log.Error("rolling the log segment", "err", err)
		return
	}
	index := s.wl.NextIndex() - 1
	if index == s.lastSnap {
		return
	}
	t0 := time.Now()
	state := s.m.AppendState(make([]byte, 0, s.lastSnapSize+s.lastSnapSize/4))
	encode := time.Since(t0)
	s.lastSnapSize = len(state)
	s.lastSnap = index
	s.snapBusy.Store(true)
	s.snapWG.Add(1)
	write := func() {
		defer s.snapWG.Done()
		defer s.snapBusy.Store(false)
		t1 := time.Now()
		if err := s.wl.WriteSnapshot(state, index); err != nil {
			s.met.snapshots.WithLabelValues("error").Inc()
			s.log.Error("writing snapshot (the log still holds everything)", "err", err, "index", index)
			return
		}
		s.met.snapshots.WithLabelValues("ok").Inc()
		s.log.Info("snapshot written", "index", index, "bytes", len(state), "encode", encode.String(), "write", time.Since(t1).String())
	}
	if wait {
		write()
	} else {
		go write()
	}
}

func (s *Server) finish() {
	s.snapWG.Wait()
	s.snapshot(true)
	if err := s.wl.Close(); err != nil {
		s.log.Error("closing the log", "err", err)
	}
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
	if !s.started.Load() {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	select {
	case <-s.writerDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
