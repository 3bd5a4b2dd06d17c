package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"boxoffice.dev/boxoffice/shard/wal"
)

func ent(index, term uint64, data string) *pb.Entry {
	return &pb.Entry{Index: proto.Uint64(index), Term: proto.Uint64(term), Type: pb.EntryNormal.Enum(), Data: []byte(data)}
}

func hs(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote), Commit: proto.Uint64(commit)}
}

func describe(st *raftState) string {
	s := fmt.Sprintf("hs %d/%d/%d;", st.hs.GetTerm(), st.hs.GetVote(), st.hs.GetCommit())
	if st.snap != nil {
		s += fmt.Sprintf(" snap %d@%d %q voters %v;", st.snap.GetMetadata().GetIndex(), st.snap.GetMetadata().GetTerm(),
			st.snap.Data, st.snap.GetMetadata().GetConfState().GetVoters())
	}
	for _, e := range st.ents {
		s += fmt.Sprintf(" %d@%d:%s", e.GetIndex(), e.GetTerm(), e.Data)
	}
	return s
}

// The Raft log reads back what was written: the newest hard state, entries in
// order, a suffix overwritten by a later term replaced, and after a snapshot
// only the snapshot, its tail and what followed.
func TestRaftLogReplay(t *testing.T) {
	dir := t.TempDir()
	opts := wal.Options{Dir: dir, SegmentSize: 1 << 20}
	d, st, err := openRaftDisk(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ents) != 0 || st.snap != nil {
		t.Fatalf("empty dir: %s", describe(st))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.save(hs(1, 1, 0), []*pb.Entry{ent(1, 1, "a"), ent(2, 1, "b"), ent(3, 1, "c")}))
	must(d.save(hs(2, 2, 1), []*pb.Entry{ent(3, 2, "C"), ent(4, 2, "D")})) // 3 overwritten
	must(d.save(nil, []*pb.Entry{ent(5, 2, "E")}))
	must(d.wl.Close())
	d, st, err = openRaftDisk(opts)
	must(err)
	if got, want := describe(st), "hs 2/2/1; 1@1:a 2@1:b 3@2:C 4@2:D 5@2:E"; got != want {
		t.Fatalf("replay:\n got %s\nwant %s", got, want)
	}
	// A snapshot at 3 with the entries after it, then one more record.
	walIdx := d.wl.NextIndex() - 1
	must(d.wl.Roll())
	meta := &pb.SnapshotMetadata{Index: proto.Uint64(3), Term: proto.Uint64(2), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}
	payload, err := encodeRaftSnapshot(hs(2, 2, 4), meta, []byte("state"), st.ents[3:])
	must(err)
	must(d.wl.WriteSnapshot(payload, walIdx))
	must(d.save(hs(3, 0, 5), []*pb.Entry{ent(5, 3, "e"), ent(6, 3, "f")}))
	must(d.wl.Close())
	d, st, err = openRaftDisk(opts)
	must(err)
	defer d.wl.Close()
	if got, want := describe(st), `hs 3/0/5; snap 3@2 "state" voters [1 2 3]; 4@2:D 5@3:e 6@3:f`; got != want {
		t.Fatalf("after the snapshot:\n got %s\nwant %s", got, want)
	}
}

// A gap in the log (a missing record) is refused rather than replayed.
func TestRaftLogGapRefused(t *testing.T) {
	st := &raftState{hs: &pb.HardState{}}
	if err := st.add(ent(1, 1, "a")); err != nil {
		t.Fatal(err)
	}
	if err := st.add(ent(3, 1, "c")); err == nil {
		t.Fatal("entry 3 after 1 accepted")
	}
}

// A damaged (not torn) last record may hold an acknowledged entry or vote:
// the member refuses to start on that data directory, also after the log
// was cut.
func TestRaftLogDamagedLastRecordRefused(t *testing.T) {
	dir := t.TempDir()
	opts := wal.Options{Dir: dir, SegmentSize: 1 << 20}
	d, _, err := openRaftDisk(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.save(hs(1, 1, 0), []*pb.Entry{ent(1, 1, "a")}); err != nil {
		t.Fatal(err)
	}
	if err := d.save(hs(2, 2, 1), []*pb.Entry{ent(2, 2, "b")}); err != nil {
		t.Fatal(err)
	}
	d.wl.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	var last string
	for _, s := range segs {
		if st, _ := os.Stat(s); st.Size() > 64 {
			last = s
		}
	}
	b, _ := os.ReadFile(last)
	b[len(b)-1] ^= 4
	os.WriteFile(last, b, 0o644)
	for i := 0; i < 2; i++ {
		_, _, err := openRaftDisk(opts)
		if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "new raft id") {
			t.Fatalf("open %d: want a refusal naming the damage, got %v", i+1, err)
		}
	}
}
