package frontend

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// LayoutSection, LayoutRow describe how the page lays seats out.
type LayoutSection struct {
	Name string      `json:"name"`
	Rows []LayoutRow `json:"rows"`
}

type LayoutRow struct {
	Name  string `json:"name"`
	Seats []int  `json:"seats"`
}

// frame is one pre-encoded server-sent event shared by every browser stream.
type frame struct {
	version   uint64
	data      []byte
	at        time.Time // when the oldest change in it reached this pod
	heartbeat bool
	room      bool // a waiting-room summary: for room-only streams
}

// wants says whether a stream of the given kind is sent f: heartbeats go to
// every stream, room frames to room-only streams, seat frames to the rest
// when newer than what the stream already has (after: the Last-Event-ID it
// resumed from or the version of its snapshot, which may include changes not
// yet flushed; their frame would repeat that version's id).
func (f *frame) wants(roomOnly bool, after uint64) bool {
	if f.heartbeat || f.room {
		return f.heartbeat || roomOnly
	}
	return !roomOnly && f.version > after
}

// subscriber is one browser stream.
type subscriber struct {
	roomOnly bool // a queue page's stream (GET /api/room/events)
	ch       chan *frame
	dropped  chan struct{} // closed when the hub disconnects a slow subscriber
	lastSent time.Time     // when the hub last offered it a frame (h.mu)
	after    uint64        // seat version its first frames brought it to
}

// hub is the pod's in-memory copy of the seat states and the fan-out to
// browser streams. The upstream reader applies shard events to it; a ticker
// merges what changed since the last tick into one frame, encodes it once and
// offers it to every subscriber without blocking. A subscriber whose buffer
// is full is disconnected; it comes back with Last-Event-ID and gets the
// frames it missed from a ring of recent frames, or a snapshot from memory if
// it fell out of the ring.
type hub struct {
	log       *slog.Logger
	m         *metrics
	coalesce  time.Duration
	bufSize   int
	maxFrames int
	fixed     *seatmap.Layout // from --seat-map, or nil

	mu           sync.Mutex
	loaded       bool
	loadedCh     chan struct{}
	ids          []string
	index        map[string]int
	states       []string
	layout       []LayoutSection
	version      uint64 // version of the copy, including unflushed changes
	pending      map[int]struct{}
	pendingSince time.Time
	flushed      uint64   // version of the last frame
	frames       []*frame // ring of recent frames, oldest first
	base         uint64   // a Last-Event-ID in [base, version] can be resumed from frames
	subs         map[*subscriber]struct{}
	direct       map[*directConn]struct{}
	nsubs        atomic.Int64
	scratch      []*directConn // reused by the run goroutine
	snap         []byte        // cached snapshot frame
	snapVersion  uint64
	layoutJSON   []byte

	// The waiting room (roomhub.go).
	room        roomSummary
	roomRaw     []byte
	roomFrame   *frame
	roomPending bool
	roomKick    chan struct{} // a new summary: fan it out now (run goroutine)
}

func newHub(log *slog.Logger, m *metrics, coalesce time.Duration, bufSize int, fixed *seatmap.Layout) *hub {
	return &hub{
		log: log, m: m, coalesce: coalesce, bufSize: bufSize, maxFrames: 2048, fixed: fixed,
		loadedCh: make(chan struct{}),
		roomKick: make(chan struct{}, 1),
		pending:  map[int]struct{}{},
		subs:     map[*subscriber]struct{}{},
		direct:   map[*directConn]struct{}{},
	}
}

// Loaded is closed once the first snapshot is in memory.
func (h *hub) Loaded() <-chan struct{} { return h.loadedCh }

// Version is the version of the in-memory copy.
func (h *hub) Version() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version
}

// buildLayout orders seats for the page: from the seat-map file when given,
// else sections and rows in order of first appearance, seats by number.
func buildLayout(fixed *seatmap.Layout, seats []shardapi.Seat, log *slog.Logger) ([]string, []LayoutSection) {
	if fixed != nil {
		var ids []string
		out := make([]LayoutSection, 0, len(fixed.Sections))
		for _, s := range fixed.Sections {
			ls := LayoutSection{Name: s.Name}
			for _, r := range s.Rows {
				ls.Rows = append(ls.Rows, LayoutRow{Name: r.Name, Seats: r.Seats})
				for _, n := range r.Seats {
					ids = append(ids, seatmap.ID(s.Name, r.Name, n))
				}
			}
			out = append(out, ls)
		}
		return ids, out
	}
	type rowAcc struct {
		name  string
		seats []int
	}
	type secAcc struct {
		name   string
		rows   []*rowAcc
		byName map[string]*rowAcc
	}
	var secs []*secAcc
	byName := map[string]*secAcc{}
	for _, s := range seats {
		parts := strings.Split(s.ID, "/")
		if len(parts) != 3 {
			log.Warn("seat id is not SECTION/ROW/NUMBER; left off the page", "id", s.ID)
			continue
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			log.Warn("seat number is not a number; left off the page", "id", s.ID)
			continue
		}
		sec := byName[parts[0]]
		if sec == nil {
			sec = &secAcc{name: parts[0], byName: map[string]*rowAcc{}}
			byName[parts[0]] = sec
			secs = append(secs, sec)
		}
		row := sec.byName[parts[1]]
		if row == nil {
			row = &rowAcc{name: parts[1]}
			sec.byName[parts[1]] = row
			sec.rows = append(sec.rows, row)
		}
		row.seats = append(row.seats, n)
	}
	var ids []string
	out := make([]LayoutSection, 0, len(secs))
	for _, sec := range secs {
		ls := LayoutSection{Name: sec.name}
		for _, r := range sec.rows {
			slices.Sort(r.seats)
			r.seats = slices.Compact(r.seats)
			ls.Rows = append(ls.Rows, LayoutRow{Name: r.name, Seats: r.seats})
			for _, n := range r.seats {
				ids = append(ids, seatmap.ID(sec.name, r.name, n))
			}
		}
		out = append(out, ls)
	}
	return ids, out
}

// applySnapshot replaces the copy with a full snapshot from the shard. After
// the first one, only seats whose state differs become changes for browsers.
func (h *hub) applySnapshot(version uint64, seats []shardapi.Seat, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.loaded {
		h.resetLocked(version, seats)
		h.loaded = true
		close(h.loadedCh)
		h.log.Info("seat snapshot loaded", "version", version, "seats", len(h.ids))
		return
	}
	same := len(seats) == len(h.ids) || h.fixed != nil
	if same {
		for _, s := range seats {
			if _, ok := h.index[s.ID]; !ok {
				same = false
				break
			}
		}
	}
	if version < h.version || !same {
		// The shard's history is not a continuation of ours (a different seat
		// map, or a shard that lost its log). Start over and make every
		// browser fetch a fresh snapshot.
		h.log.Warn("shard snapshot does not continue our copy; resetting browser streams",
			"ourVersion", h.version, "shardVersion", version)
		h.resetLocked(version, seats)
		for s := range h.subs {
			h.dropLocked(s)
		}
		for d := range h.direct {
			d.close()
			delete(h.direct, d)
			h.nsubs.Add(-1)
		}
		return
	}
	for _, s := range seats {
		h.setLocked(s.ID, s.State, at)
	}
	h.version = version
}

func (h *hub) resetLocked(version uint64, seats []shardapi.Seat) {
	ids, layout := buildLayout(h.fixed, seats, h.log)
	h.ids = ids
	h.layout = layout
	h.index = make(map[string]int, len(ids))
	h.states = make([]string, len(ids))
	for i, id := range ids {
		h.index[id] = i
		h.states[i] = shardapi.SeatFree
	}
	for _, s := range seats {
		if i, ok := h.index[s.ID]; ok {
			h.states[i] = internState(s.State)
		} else {
			h.log.Warn("shard reports a seat that is not in the seat map", "id", s.ID)
		}
	}
	h.version = version
	h.flushed = version
	h.frames = nil
	h.base = version + 1 // nothing before a reset can be resumed
	h.pending = map[int]struct{}{}
	h.snap = nil
	lj, _ := json.Marshal(h.layout)
	h.layoutJSON = lj
	h.m.seatVersion.Set(float64(version))
}

func internState(s string) string {
	switch s {
	case shardapi.SeatFree:
		return shardapi.SeatFree
	case shardapi.SeatHeld:
		return shardapi.SeatHeld
	case shardapi.SeatAwaitingPayment:
		return shardapi.SeatAwaitingPayment
	case shardapi.SeatSold:
		return shardapi.SeatSold
	}
	return s
}

func (h *hub) setLocked(id, state string, at time.Time) {
	i, ok := h.index[id]
	if !ok || h.states[i] == state {
		return
	}
	h.states[i] = internState(state)
	if len(h.pending) == 0 {
		h.pendingSince = at
	}
	h.pending[i] = struct{}{}
}

// applyChanges applies one shard "seats" event.
func (h *hub) applyChanges(version uint64, changes []shardapi.Seat, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.loaded {
		return
	}
	for _, c := range changes {
		h.setLocked(c.ID, c.State, at)
	}
	if version > h.version {
		h.version = version
		h.m.seatVersion.Set(float64(version))
	}
}

// heartbeatEvery is how often a stream that was sent nothing gets a
// comment line, so that proxies and browsers keep an idle stream open.
const heartbeatEvery = 15 * time.Second

// run flushes merged changes every coalesce interval, fans a new room
// summary out as soon as it arrives (the shard paces them), and sends
// heartbeats.
func (h *hub) run(stop <-chan struct{}) {
	t := time.NewTicker(h.coalesce)
	defer t.Stop()
	hb := time.NewTicker(heartbeatEvery)
	defer hb.Stop()
	for {
		select {
		case <-stop:
			return
		case <-h.roomKick:
			h.flushRoom()
		case <-t.C:
			h.flush()
			h.flushRoom()
		case now := <-hb.C:
			h.heartbeat(now)
		}
	}
}

// heartbeat sends a keep-alive comment to every stream that was sent no
// frame in the last half heartbeat interval: a stream busy with frames
// needs none (so no stream goes more than 1.5 intervals without a byte),
// and fifty thousand waiting pages that just got a room summary are not
// written to again for nothing.
func (h *hub) heartbeat(now time.Time) {
	f := &frame{data: []byte(": keep-alive\n\n"), at: now, heartbeat: true}
	quiet := now.Add(-heartbeatEvery / 2)
	h.mu.Lock()
	for s := range h.subs {
		if !s.lastSent.After(quiet) {
			h.offerLocked(s, f, now)
		}
	}
	conns := h.directListLocked()
	h.mu.Unlock()
	h.sendDirect(conns, f)
}

func encodeEvent(event string, id uint64, v any) []byte {
	var b bytes.Buffer
	b.WriteString("id: ")
	b.WriteString(strconv.FormatUint(id, 10))
	b.WriteString("\nevent: ")
	b.WriteString(event)
	b.WriteString("\ndata: ")
	_ = json.NewEncoder(&b).Encode(v) // ends with \n
	b.WriteString("\n")
	return b.Bytes()
}

func (h *hub) directListLocked() []*directConn {
	h.scratch = h.scratch[:0]
	for d := range h.direct {
		h.scratch = append(h.scratch, d)
	}
	return h.scratch
}

// flush turns pending changes into one frame and offers it to every stream.
// Only the run goroutine calls it, so rounds never overlap: a frame reaches
// every stream before the next one is built.
func (h *hub) flush() {
	h.mu.Lock()
	if !h.loaded || (len(h.pending) == 0 && h.version == h.flushed) {
		h.mu.Unlock()
		return
	}
	idx := make([]int, 0, len(h.pending))
	for i := range h.pending {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	ev := shardapi.SeatsEvent{Version: h.version, Changes: make([]shardapi.Seat, len(idx))}
	for k, i := range idx {
		ev.Changes[k] = shardapi.Seat{ID: h.ids[i], State: h.states[i]}
	}
	at := h.pendingSince
	if len(h.pending) == 0 {
		at = time.Now()
	}
	f := &frame{version: h.version, data: encodeEvent("seats", h.version, ev), at: at}
	clear(h.pending)
	h.flushed = h.version
	h.frames = append(h.frames, f)
	if len(h.frames) > h.maxFrames {
		drop := len(h.frames) - h.maxFrames
		h.base = h.frames[drop-1].version
		h.frames = slices.Delete(h.frames, 0, drop)
	}
	h.broadcastLocked(f)
	conns := h.directListLocked()
	h.mu.Unlock()
	h.sendDirect(conns, f)
}

func (h *hub) broadcastLocked(f *frame) {
	now := time.Now()
	for s := range h.subs {
		if f.wants(s.roomOnly, s.after) {
			h.offerLocked(s, f, now)
		}
	}
}

// offerLocked queues f for s without blocking; a subscriber whose buffer is
// full is dropped (it resumes with Last-Event-ID).
func (h *hub) offerLocked(s *subscriber, f *frame, now time.Time) {
	s.lastSent = now
	select {
	case s.ch <- f:
	default:
		h.dropLocked(s)
		h.m.streamsDropped.Inc()
	}
}

func (h *hub) dropLocked(s *subscriber) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	h.nsubs.Add(-1)
	close(s.dropped)
}

// snapshotLocked returns the snapshot frame of the current copy, cached per version.
func (h *hub) snapshotLocked() []byte {
	if h.snap != nil && h.snapVersion == h.version {
		return h.snap
	}
	ev := shardapi.SnapshotEvent{Version: h.version, Seats: make([]shardapi.Seat, len(h.ids))}
	for i, id := range h.ids {
		ev.Seats[i] = shardapi.Seat{ID: id, State: h.states[i]}
	}
	h.snap = encodeEvent("snapshot", h.version, ev)
	h.snapVersion = h.version
	return h.snap
}

// subscribe registers a browser stream. lastID is the Last-Event-ID the
// browser sent (0 if none). The first frames to write are returned: the
// frames after lastID when it can be resumed, otherwise a snapshot.
// A room-only stream gets the latest room summary instead.
func (h *hub) subscribe(lastID uint64, haveLast, roomOnly bool) (*subscriber, [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &subscriber{roomOnly: roomOnly, ch: make(chan *frame, h.bufSize), dropped: make(chan struct{})}
	h.subs[s] = struct{}{}
	h.nsubs.Add(1)
	if roomOnly {
		return s, h.roomFirstLocked()
	}
	first, upTo := h.firstFramesLocked(lastID, haveLast)
	s.after = upTo
	return s, first
}

// firstFramesLocked is what a new stream must be sent before live frames,
// and the seat version they bring it to.
func (h *hub) firstFramesLocked(lastID uint64, haveLast bool) (first [][]byte, upTo uint64) {
	if haveLast && lastID >= h.base && lastID <= h.version {
		for _, f := range h.frames {
			if f.version > lastID {
				first = append(first, f.data)
			}
		}
		h.m.streamResumes.WithLabelValues("frames").Inc()
		return first, lastID
	}
	if haveLast {
		h.m.streamResumes.WithLabelValues("snapshot").Inc()
	}
	return [][]byte{h.snapshotLocked()}, h.version
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	h.dropLocked(s)
	h.mu.Unlock()
}

// seatsView is the buyer API's seat map: layout and states from memory.
type seatsView struct {
	Showtime     string          `json:"showtime"`
	Show         ShowInfo        `json:"show"`
	Version      uint64          `json:"version"`
	DemoPayments bool            `json:"demoPayments"`
	Sections     json.RawMessage `json:"sections"`
	Seats        []shardapi.Seat `json:"seats"`
	Counts       map[string]int  `json:"counts"`
	PaymentURL   string          `json:"paymentUrl,omitempty"`
}

func (h *hub) view() (seatsView, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.loaded {
		return seatsView{}, false
	}
	v := seatsView{
		Version:  h.version,
		Sections: json.RawMessage(h.layoutJSON),
		Seats:    make([]shardapi.Seat, len(h.ids)),
		Counts:   map[string]int{shardapi.SeatFree: 0, shardapi.SeatHeld: 0, shardapi.SeatAwaitingPayment: 0, shardapi.SeatSold: 0},
	}
	for i, id := range h.ids {
		v.Seats[i] = shardapi.Seat{ID: id, State: h.states[i]}
		v.Counts[h.states[i]]++
	}
	return v, true
}

// stateOf returns a seat's state from memory.
func (h *hub) stateOf(id string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i, ok := h.index[id]
	if !ok {
		return "", false
	}
	return h.states[i], true
}

func (h *hub) subscribers() int64 { return h.nsubs.Load() }

// closeAll disconnects every stream (shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.dropLocked(s)
	}
	for d := range h.direct {
		d.close()
		delete(h.direct, d)
		h.nsubs.Add(-1)
	}
}
