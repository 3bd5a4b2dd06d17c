package server

import (
	"strconv"
	"sync"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// hub holds the durable view of the seats (what is on disk) and a bounded
// ring of recent changes, and wakes stream clients. Only the writer publishes.
type hub struct {
	ix *seats.Index

	mu      sync.Mutex
	state   []seats.SeatState
	counts  [4]int
	version uint64
	ring    []seats.Change // circular
	head    int            // index of the oldest entry
	n       int
	// from: every change with a version above from is in the ring.
	from    uint64
	clients map[*streamClient]struct{}
	closed  bool
	done    chan struct{}

	cacheMu      sync.Mutex
	cacheVersion uint64
	cacheSeats   []byte // [{"id","state"},...] at cacheVersion
}

type streamClient struct {
	notify chan struct{}
}

func newHub(ix *seats.Index, ringSize int) *hub {
	return &hub{ix: ix, state: make([]seats.SeatState, ix.Len()), ring: make([]seats.Change, ringSize),
		clients: map[*streamClient]struct{}{}, done: make(chan struct{}), cacheVersion: ^uint64(0)}
}

// wake tells every stream to look again (a new room summary was published).
func (h *hub) wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
}

// reset loads the recovered state (before any client connects).
func (h *hub) reset(m *seats.Machine) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.state {
		h.state[i] = m.Seat(int32(i))
	}
	h.counts = m.Counts()
	h.version = m.Version()
	h.from = h.version
	h.n, h.head = 0, 0
}

// publish records durable changes, in version order, and wakes clients.
func (h *hub) publish(changes []seats.Change, version uint64) {
	if len(changes) == 0 && version == h.version {
		return
	}
	h.mu.Lock()
	for _, c := range changes {
		h.counts[h.state[c.Seat]]--
		h.state[c.Seat] = c.State
		h.counts[c.State]++
		if h.n == len(h.ring) {
			old := h.ring[h.head]
			h.from = max(h.from, old.Version)
			h.head = (h.head + 1) % len(h.ring)
			h.n--
		}
		h.ring[(h.head+h.n)%len(h.ring)] = c
		h.n++
	}
	h.version = version
	for c := range h.clients {
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

func (h *hub) snapshotCounts() (uint64, [4]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version, h.counts
}

// seatsJSON gives the seat array as JSON and its version and counts.
func (h *hub) seatsJSON() (uint64, [4]int, []byte) {
	h.mu.Lock()
	v, counts := h.version, h.counts
	h.cacheMu.Lock()
	if h.cacheVersion == v {
		b := h.cacheSeats
		h.cacheMu.Unlock()
		h.mu.Unlock()
		return v, counts, b
	}
	h.cacheMu.Unlock()
	st := make([]seats.SeatState, len(h.state))
	copy(st, h.state)
	h.mu.Unlock()

	b := make([]byte, 0, len(st)*40)
	b = append(b, '[')
	for i, s := range st {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = shardapi.AppendString(b, h.ix.ID(int32(i)))
		b = append(b, `,"state":"`...)
		b = append(b, s.String()...)
		b = append(b, `"}`...)
	}
	b = append(b, ']')
	h.cacheMu.Lock()
	if h.cacheVersion == ^uint64(0) || v > h.cacheVersion {
		h.cacheVersion, h.cacheSeats = v, b
	}
	h.cacheMu.Unlock()
	return v, counts, b
}

func (h *hub) subscribe(limit int) (*streamClient, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.clients) >= limit {
		return nil, false
	}
	c := &streamClient{notify: make(chan struct{}, 1)}
	h.clients[c] = struct{}{}
	return c, true
}

func (h *hub) unsubscribe(c *streamClient) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

func (h *hub) clientCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// close ends every stream.
func (h *hub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
}

// retained reports whether a client at version v can resume from the ring.
func (h *hub) retained(v uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return v >= h.from && v <= h.version
}

// since copies the changes after version v into buf. ok is false when the
// ring no longer holds all of them (the client fell too far behind).
func (h *hub) since(v uint64, buf []seats.Change) ([]seats.Change, uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v < h.from {
		return buf, h.version, false
	}
	// Entries are in version order: find the first one above v from the end.
	i := h.n
	for i > 0 && h.ring[(h.head+i-1)%len(h.ring)].Version > v {
		i--
	}
	for ; i < h.n; i++ {
		buf = append(buf, h.ring[(h.head+i)%len(h.ring)])
	}
	return buf, h.version, true
}

// appendChanges encodes a seats event's data, keeping each seat's last state.
func appendChanges(b []byte, ix *seats.Index, version uint64, changes []seats.Change, seen map[int32]int) []byte {
	clear(seen)
	// Latest state per seat, in the order seats first changed.
	order := 0
	for _, c := range changes {
		if _, ok := seen[c.Seat]; !ok {
			seen[c.Seat] = order
			order++
		}
	}
	last := make([]seats.Change, order)
	for _, c := range changes {
		last[seen[c.Seat]] = c
	}
	b = append(b, `{"version":`...)
	b = strconv.AppendUint(b, version, 10)
	b = append(b, `,"changes":[`...)
	for i, c := range last {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = shardapi.AppendString(b, ix.ID(c.Seat))
		b = append(b, `,"state":"`...)
		b = append(b, c.State.String()...)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}
