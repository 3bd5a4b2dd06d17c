package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"boxoffice.dev/boxoffice/shard/wal"
)

// The Raft log of a cluster member is stored with shard/wal's segments,
// records, group commit and snapshot files; only the record payloads differ
// from single mode.
//
// Record payload (raft log format 1):
//
//	byte     kind: 1 = entries and hard state
//	byte     flags: bit 0 = a hard state follows
//	uvarint  term, vote, commit          (if flag bit 0)
//	uvarint  number of entries, then per entry:
//	uvarint  index, term, type, data length; data
//
// Snapshot payload (a wal snapshot file's state, raft snapshot format 1):
//
//	byte     version (1)
//	uvarint  term, vote, commit           (the hard state when written)
//	uvarint  snapshot index, snapshot term
//	uvarint  length; protobuf raftpb.ConfState
//	uvarint  length; the seat machine's state (seats.Capture)
//	uvarint  number of entries after the snapshot index, each as in a record
//
// Records replay in order: an entry at an index at or below the last one
// replaces it and everything after (Raft overwrote a suffix), the newest hard
// state wins.
const (
	raftRecEntries  = 1
	raftSnapVersion = 1
	// raftRecordLimit keeps records below wal.MaxRecord.
	raftRecordLimit = wal.MaxRecord / 2
)

func appendHardState(b []byte, hs *pb.HardState) []byte {
	b = binary.AppendUvarint(b, hs.GetTerm())
	b = binary.AppendUvarint(b, hs.GetVote())
	return binary.AppendUvarint(b, hs.GetCommit())
}

func appendEntry(b []byte, e *pb.Entry) []byte {
	b = binary.AppendUvarint(b, e.GetIndex())
	b = binary.AppendUvarint(b, e.GetTerm())
	b = binary.AppendUvarint(b, uint64(e.GetType()))
	b = binary.AppendUvarint(b, uint64(len(e.Data)))
	return append(b, e.Data...)
}

// rdr decodes the formats above; the first error sticks.
type rdr struct {
	b   []byte
	err error
}

func (r *rdr) u() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rdr) bytes() []byte {
	n := r.u()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("length past the end")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *rdr) hardState() *pb.HardState {
	t, v, c := r.u(), r.u(), r.u()
	return &pb.HardState{Term: proto.Uint64(t), Vote: proto.Uint64(v), Commit: proto.Uint64(c)}
}

func (r *rdr) entry() *pb.Entry {
	idx, term, typ := r.u(), r.u(), r.u()
	data := r.bytes()
	if typ > uint64(pb.EntryConfChangeV2) {
		r.err = fmt.Errorf("unknown entry type %d", typ)
	}
	return &pb.Entry{Index: proto.Uint64(idx), Term: proto.Uint64(term), Type: pb.EntryType(typ).Enum(), Data: data}
}

// raftState is what recovery rebuilds: the hard state, the newest snapshot
// and the entries after it.
type raftState struct {
	hs   *pb.HardState
	snap *pb.Snapshot // nil: none
	ents []*pb.Entry
}

func (st *raftState) lastIndex() uint64 {
	if len(st.ents) > 0 {
		return st.ents[len(st.ents)-1].GetIndex()
	}
	if st.snap != nil {
		return st.snap.GetMetadata().GetIndex()
	}
	return 0
}

// add appends an entry read back, replacing a suffix it overwrites.
func (st *raftState) add(e *pb.Entry) error {
	idx := e.GetIndex()
	var snapIdx uint64
	if st.snap != nil {
		snapIdx = st.snap.GetMetadata().GetIndex()
	}
	if idx <= snapIdx {
		return nil
	}
	if len(st.ents) > 0 && idx <= st.lastIndex() {
		st.ents = st.ents[:idx-st.ents[0].GetIndex()]
	}
	if want := st.lastIndex() + 1; idx != want && !(len(st.ents) == 0 && st.snap == nil) {
		return fmt.Errorf("raft log: entry %d follows %d (a gap)", idx, want-1)
	}
	st.ents = append(st.ents, e)
	return nil
}

func (st *raftState) readRecord(p []byte) error {
	r := &rdr{b: p}
	if len(p) < 2 || p[0] != raftRecEntries {
		return errors.New("raft log: unknown record kind (a single-mode log, or a newer format)")
	}
	flags := p[1]
	r.b = p[2:]
	if flags&1 != 0 {
		st.hs = r.hardState()
	}
	if err := st.readEntries(r); err != nil {
		return err
	}
	if r.err != nil {
		return fmt.Errorf("raft log record: %w", r.err)
	}
	return nil
}

func encodeRaftSnapshot(hs *pb.HardState, meta *pb.SnapshotMetadata, state []byte, tail []*pb.Entry) ([]byte, error) {
	cs, err := proto.Marshal(meta.GetConfState())
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(state)+len(cs)+64)
	b = append(b, raftSnapVersion)
	b = appendHardState(b, hs)
	b = binary.AppendUvarint(b, meta.GetIndex())
	b = binary.AppendUvarint(b, meta.GetTerm())
	b = binary.AppendUvarint(b, uint64(len(cs)))
	b = append(b, cs...)
	b = binary.AppendUvarint(b, uint64(len(state)))
	b = append(b, state...)
	b = binary.AppendUvarint(b, uint64(len(tail)))
	for _, e := range tail {
		b = appendEntry(b, e)
	}
	return b, nil
}

// readEntries reads a count and that many entries into the log; a decoding
// error stays in r for the caller to report.
func (st *raftState) readEntries(r *rdr) error {
	n := r.u()
	for i := uint64(0); i < n && r.err == nil; i++ {
		e := r.entry()
		if r.err == nil {
			if err := st.add(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (st *raftState) readSnapshot(p []byte) error {
	if len(p) < 1 || p[0] != raftSnapVersion {
		return errors.New("raft snapshot: unknown format (a single-mode snapshot, or a newer format)")
	}
	r := &rdr{b: p[1:]}
	st.hs = r.hardState()
	idx, term := r.u(), r.u()
	csb := r.bytes()
	state := r.bytes()
	if r.err != nil {
		return fmt.Errorf("raft snapshot: %w", r.err)
	}
	cs := &pb.ConfState{}
	if err := proto.Unmarshal(csb, cs); err != nil {
		return fmt.Errorf("raft snapshot conf state: %w", err)
	}
	st.snap = &pb.Snapshot{Data: state, Metadata: &pb.SnapshotMetadata{Index: proto.Uint64(idx), Term: proto.Uint64(term), ConfState: cs}}
	if err := st.readEntries(r); err != nil {
		return err
	}
	if r.err != nil {
		return fmt.Errorf("raft snapshot tail: %w", r.err)
	}
	return nil
}

// damagedFile marks a member's data directory whose Raft log lost a record
// that may have been acknowledged.
const damagedFile = "raft-log-damaged"

func damagedError(what string) error {
	return fmt.Errorf("%s; this member may have acknowledged what it lost and refuses to start on this data directory: move its contents away (keep them for inspection) and start it again, it rejoins the cluster under a new raft id and catches up from the leader", what)
}

// raftDisk writes the Raft log: one Write (one write, one fdatasync) per
// Ready.
type raftDisk struct {
	wl  *wal.Log
	buf []byte
	n   int
}

func openRaftDisk(opts wal.Options) (*raftDisk, *raftState, error) {
	st := &raftState{hs: &pb.HardState{}}
	before := func(rec *wal.Recovered) error {
		if rec.Snapshot == nil {
			return nil
		}
		return st.readSnapshot(rec.Snapshot)
	}
	apply := func(_ uint64, p []byte) error { return st.readRecord(p) }
	if b, err := os.ReadFile(filepath.Join(opts.Dir, damagedFile)); err == nil {
		return nil, nil, damagedError(strings.TrimSpace(string(b)))
	}
	wl, rec, err := wal.Open(opts, before, apply)
	if err != nil {
		return nil, nil, err
	}
	if d := rec.Damaged; d != nil {
		// The record was fsynced, so this member may have acknowledged its
		// entries or vote: it must not take part under this Raft id again.
		// The mark keeps it refusing after the log was cut.
		what := fmt.Sprintf("the Raft log's last record (%s at offset %d) was damaged: %s", d.File, d.Offset, d.Reason)
		wl.Close()
		if err := os.WriteFile(filepath.Join(opts.Dir, damagedFile), []byte(what+"\n"), 0o644); err != nil {
			return nil, nil, fmt.Errorf("%s; and marking the data directory failed: %w", what, err)
		}
		syncDirPath(opts.Dir)
		return nil, nil, damagedError(what)
	}
	// The commit index is written without fsync of its own: it may lag, but
	// never below what a snapshot already applied, nor past the log's end.
	c := st.hs.GetCommit()
	if st.snap != nil {
		c = max(c, st.snap.GetMetadata().GetIndex())
	}
	c = min(c, st.lastIndex())
	st.hs.Commit = proto.Uint64(c)
	return &raftDisk{wl: wl}, st, nil
}

// save frames the hard state and entries (several records if large) and
// writes them with one write and one fdatasync.
func (d *raftDisk) save(hs *pb.HardState, ents []*pb.Entry) error {
	d.buf, d.n = d.buf[:0], 0
	for first := true; first || len(ents) > 0; first = false {
		var start int
		d.buf, start = wal.BeginRecord(d.buf)
		flags := len(d.buf) + 1
		d.buf = append(d.buf, raftRecEntries, 0)
		if first && hs != nil {
			d.buf[flags] = 1
			d.buf = appendHardState(d.buf, hs)
		}
		k := 0
		size := 0
		for k < len(ents) && (k == 0 || size+len(ents[k].Data) < raftRecordLimit) {
			size += len(ents[k].Data) + 32
			k++
		}
		d.buf = binary.AppendUvarint(d.buf, uint64(k))
		for _, e := range ents[:k] {
			d.buf = appendEntry(d.buf, e)
		}
		ents = ents[k:]
		d.buf, _ = d.wl.EndRecord(d.buf, start)
		d.n++
	}
	err := d.wl.Write(d.buf, d.n)
	if cap(d.buf) > 8<<20 {
		d.buf = nil
	}
	return err
}
