package server

// The waiting room in the shard's log (see docs/waiting-room.md).
//
// The room (waitroom.Machine) lives beside the seats and has the same single
// owner: the writer loop in single mode, the raft loop in cluster mode. Both
// apply the same commands in the same order:
//
//   - Room records in the log carry recordRoom before the waitroom command's
//     encoding. A seat command's first byte is its op (1..7), so logs written
//     before the room existed read as before.
//   - What the leader decides (the time of every command, the configuration,
//     the opening and its shuffle seed, idle expiry) is in the logged command.
//   - What follows from the seats is derived, not logged: after every seat
//     command every member feeds the room the new seat counts and touches the
//     admissions ("w:<place>" holders) whose seats changed, and a sale by an
//     admission ends its place as bought. Derived at the same point of the
//     same log, it is the same on every member and on replay, and the room
//     never sees a hold without its counts (they are one record).
//   - Snapshots carry both states (encodeState); a shard that never had a
//     room writes the seats' state alone, as before.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
	"boxoffice.dev/boxoffice/shard/waitroom"
	"boxoffice.dev/boxoffice/shard/wal"
)

// RoomConfig is the showtime's waiting room, from the operator's flags. When
// set, the leader keeps the room configured as it says.
type RoomConfig struct {
	MaxActive   int
	IdleTimeout time.Duration
	PreQueue    time.Duration
	OpensAt     time.Time
}

// recordRoom starts a room record (above every seats.Op).
const recordRoom = 0x80

// AdmissionHolder is the holder of the seats an admission holds
// (shardapi.AdmissionHolder).
func AdmissionHolder(place uint64) string { return shardapi.AdmissionHolder(place) }

func admissionOf(holder string) (uint64, bool) { return waitroom.PlaceOfHolder(holder) }

// roomAdmissions lets the seats ask the room, inside the seat command, who
// may hold (seats.Admissions): the room's verdict at the command's time.
type roomAdmissions struct{ s *Server }

func (a roomAdmissions) Admit(holder string, now int64) (int32, seats.Code) {
	switch v, limit := a.s.room.MayHoldAt(holder, now); v {
	case waitroom.MayHold:
		return limit, seats.OK
	case waitroom.NotAdmitted:
		return 0, seats.ErrAdmissionRequired
	case waitroom.TurnEnded:
		return 0, seats.ErrAdmissionEnded
	}
	return math.MaxInt32, seats.OK
}

// roomConfig turns flags into the machine's configuration.
func (s *Server) roomConfig(rc *RoomConfig) waitroom.Config {
	opens := rc.OpensAt.UnixNano()
	return waitroom.Config{MaxActive: int32(rc.MaxActive), IdleTimeout: int64(rc.IdleTimeout),
		MaxSeats: int32(s.cfg.MaxSeatsPerHolder), PreQueueAt: opens - int64(rc.PreQueue), OpensAt: opens}
}

// applySeat applies a seat command and then what it means for the room
// (every member, and replay, alike).
//
// While the room is configured a hold or an extension is made only for an
// admission (roomAdmissions), decided in the same Apply as the seat change.
// The machines are replaced on restore, so the seats are pointed at the
// room's verdict here, before every command.
func (s *Server) applySeat(c *seats.Command) seats.Result {
	s.m.SetAdmissions(roomAdmissions{s})
	res := s.m.Apply(c)
	holders := s.m.TakeHolders()
	if !res.Log {
		return res
	}
	if _, ok := s.room.Config(); !ok {
		return res
	}
	now := s.m.Now()
	for _, h := range holders {
		if id, ok := admissionOf(h); ok {
			s.room.Apply(&waitroom.Command{Op: waitroom.OpTouch, Now: now, ID: id, Holding: s.m.HolderSeats(h)})
		}
	}
	if c.Op == seats.OpConfirm && res.Code == seats.OK && !res.Replayed {
		if id, ok := admissionOf(res.Hold.Holder); ok {
			s.room.Apply(&waitroom.Command{Op: waitroom.OpLeave, Now: now, ID: id, Reason: waitroom.ReasonBought})
		}
	}
	s.feedCounts(now)
	return res
}

// applyRoom applies a room command. A touch with Holding below 0 (from the
// API) takes the admission's seats from the seat state at apply time.
func (s *Server) applyRoom(c *waitroom.Command) waitroom.Result {
	if c.Op == waitroom.OpTouch && c.Holding < 0 {
		c.Holding = s.m.HolderSeats(AdmissionHolder(c.ID))
	}
	res := s.room.Apply(c)
	if c.Op == waitroom.OpConfigure && res.Code == waitroom.OK {
		s.feedCounts(c.Now)
	}
	s.roomDirty = true
	return res
}

func (s *Server) feedCounts(now int64) {
	n := s.m.Counts()
	s.room.Apply(&waitroom.Command{Op: waitroom.OpSeats, Now: now, Seats: waitroom.SeatCounts{
		Free: int32(n[seats.Free]), Held: int32(n[seats.Held] + n[seats.AwaitingPayment]), Sold: int32(n[seats.Sold])}})
	s.roomDirty = true
}

// applyRecord applies one logged record of either kind (replay, raft apply).
func (s *Server) applyRecord(b []byte, sc *seats.Command, rc *waitroom.Command) (isRoom bool, sr seats.Result, rr waitroom.Result, err error) {
	if len(b) > 0 && b[0] == recordRoom {
		if err := waitroom.DecodeCommand(b[1:], rc); err != nil {
			return true, sr, rr, err
		}
		return true, sr, s.applyRoom(rc), nil
	}
	if err := seats.DecodeCommand(b, sc); err != nil {
		return false, sr, rr, err
	}
	return false, s.applySeat(sc), rr, nil
}

func appendRoomRecord(b []byte, c *waitroom.Command) []byte {
	return c.AppendBinary(append(b, recordRoom))
}

// roomDue gives the commands the leader decides now: the configuration from
// the flags, the opening with a fresh seed, idle expiry.
func (s *Server) roomDue(now int64) []waitroom.Command {
	var out []waitroom.Command
	have, ok := s.room.Config()
	switch {
	case s.cfg.Room != nil:
		want := s.roomConfig(s.cfg.Room)
		want.Managed = true
		if !ok || have != want {
			out = append(out, waitroom.Command{Op: waitroom.OpConfigure, Now: now, Config: want})
		}
	case ok && have.Managed:
		// The flags that kept this room are gone (the Showtime's room was
		// switched off): switch it off, as the last leader with them would
		// have switched it on.
		return append(out, waitroom.Command{Op: waitroom.OpSwitchOff, Now: now})
	}
	cfg, ok := s.room.Config()
	if len(out) > 0 {
		cfg, ok = out[0].Config, true
	}
	if !ok {
		return out
	}
	if st := s.room.Status(); !st.Open && now >= cfg.OpensAt {
		var seed [16]byte
		rand.Read(seed[:])
		out = append(out, waitroom.Command{Op: waitroom.OpOpen, Now: now,
			Seed: [2]uint64{binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])}})
	}
	if d, ok := s.room.NextDeadline(); ok && d <= now {
		out = append(out, waitroom.Command{Op: waitroom.OpTick, Now: now})
	}
	return out
}

// Snapshot state (format 2, once a room was ever configured):
//
//	"BOXSNAP2", uvarint length of the seats' state, the seats' state,
//	the room's state (waitroom.AppendState)
//
// Format 1 is the seats' state alone (it starts with the seats' own magic).
const stateMagic2 = "BOXSNAP2"

// roomState captures the room for a snapshot (nil: no room to keep). A room
// switched off is kept: its next place id must outlive it.
func (s *Server) roomState() []byte {
	if s.room.Pristine() {
		return nil
	}
	return s.room.AppendState(nil)
}

func encodeState(seatState, room []byte) []byte {
	if room == nil {
		return seatState
	}
	b := make([]byte, 0, len(stateMagic2)+binary.MaxVarintLen64+len(seatState)+len(room))
	b = append(b, stateMagic2...)
	b = binary.AppendUvarint(b, uint64(len(seatState)))
	b = append(b, seatState...)
	return append(b, room...)
}

// restoreState rebuilds both machines from a snapshot of either format.
func (s *Server) restoreState(data []byte) (*seats.Machine, *waitroom.Machine, error) {
	seatState, roomState := data, []byte(nil)
	if strings.HasPrefix(string(data[:min(len(data), len(stateMagic2))]), stateMagic2) {
		rest := data[len(stateMagic2):]
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, nil, errors.New("snapshot: damaged state header")
		}
		seatState, roomState = rest[k:k+int(n)], rest[k+int(n):]
	}
	m, err := seats.Restore(s.ix, s.cfg.Options, seatState)
	if err != nil {
		return nil, nil, err
	}
	room := waitroom.New()
	if roomState != nil {
		if room, err = waitroom.Restore(roomState); err != nil {
			return nil, nil, fmt.Errorf("waiting room: %w", err)
		}
	}
	return m, room, nil
}

// applyRoomRequest runs a room request in the writer (single mode): a read
// answers the place now, a command is applied and logged; either is answered
// once its group is on disk.
func (s *Server) applyRoomRequest(g *group, r *request) {
	if r.rcmd.Op == 0 {
		s.readPlace(r)
		r.applied = time.Now() // for the commit-wait metric
		g.reqs = append(g.reqs, r)
		return
	}
	r.rcmd.Now = max(s.cfg.Now().UnixNano(), s.m.Now(), s.room.Now())
	r.rres = s.applyRoom(&r.rcmd)
	if r.rres.Log {
		s.appendRoomRec(g, &r.rcmd)
	}
	s.answerPlace(r)
	r.applied = time.Now()
	g.reqs = append(g.reqs, r)
	s.endCommand(g)
}

// readPlace answers a place lookup (rcmd.ID) from the current state.
func (s *Server) readPlace(r *request) {
	r.place, r.found = s.room.Place(r.rcmd.ID)
	r.rres = waitroom.Result{}
	switch st := s.room.Status(); {
	case r.found:
	case !st.Configured:
		r.rres.Code = waitroom.ErrNotConfigured
	case st.SoldOut:
		r.rres.Code = waitroom.ErrSoldOut
	default:
		r.rres.Code = waitroom.ErrNotFound
	}
}

// answerPlace fills in the place a successful command names.
func (s *Server) answerPlace(r *request) {
	id := r.rcmd.ID
	if r.rcmd.Op == waitroom.OpJoin {
		id = r.rres.ID
	}
	if r.rres.Code == waitroom.OK && id != 0 {
		r.place, r.found = s.room.Place(id)
	}
}

func (s *Server) appendRoomRec(g *group, c *waitroom.Command) {
	var start int
	g.buf, start = wal.BeginRecord(g.buf)
	g.buf = appendRoomRecord(g.buf, c)
	g.buf, _ = s.wl.EndRecord(g.buf, start)
	g.records++
}

// roomTick applies what the leader decides (single mode: the writer is the
// leader) and builds the room's view for publication with the group.
func (s *Server) roomTick(g *group) {
	now := max(s.cfg.Now().UnixNano(), s.m.Now(), s.room.Now())
	for _, c := range s.roomDue(now) {
		if s.applyRoom(&c).Log {
			s.appendRoomRec(g, &c)
		}
		s.endCommand(g)
	}
	s.stageRoomView(g)
}
