package server

import (
	"fmt"
	"math"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// retainEntries is how many applied entries stay in memory behind a
// snapshot, so that a follower only slightly behind gets entries rather than
// a whole snapshot (a variable for tests).
var retainEntries uint64 = 5000

// maybeSnapshot captures the machine when SnapshotEvery entries were applied
// since the last snapshot, and writes it in the background: the wal snapshot
// (hard state, the machine, and every entry after it already in the log, so
// that the segments before it can go) and the in-memory Raft snapshot that a
// follower behind the retained log is sent.
func (n *Node) maybeSnapshot() {
	if n.applied-n.lastSnap < n.s.cfg.SnapshotEvery || n.snapBusy.Load() {
		return
	}
	idx := n.applied
	term, err := n.ms.Term(idx)
	if err != nil {
		return
	}
	tc := time.Now()
	capture := n.s.m.Capture(n.snapSpare.Swap(nil))
	roomState := n.s.roomState()
	captured := time.Since(tc)
	conf := proto.Clone(n.conf).(*pb.ConfState)
	hs := proto.Clone(n.hs).(*pb.HardState)
	last, _ := n.ms.LastIndex()
	var tail []*pb.Entry
	if last > idx {
		tail, err = n.ms.Entries(idx+1, last+1, math.MaxUint64)
		if err != nil {
			return
		}
	}
	walIdx := n.disk.wl.NextIndex() - 1
	if err := n.disk.wl.Roll(); err != nil {
		n.log.Error("rolling the log segment", "err", err)
		return
	}
	n.lastSnap = idx
	n.snapBusy.Store(true)
	n.snapWG.Add(1)
	go func() {
		defer n.snapWG.Done()
		defer n.snapBusy.Store(false)
		t0 := time.Now()
		state := encodeState(capture.AppendTo(nil), roomState)
		capture.Release()
		n.snapSpare.Store(capture)
		meta := &pb.SnapshotMetadata{Index: proto.Uint64(idx), Term: proto.Uint64(term), ConfState: conf}
		payload, err := encodeRaftSnapshot(hs, meta, state, tail)
		if err == nil {
			err = n.disk.wl.WriteSnapshot(payload, walIdx)
		}
		if err != nil {
			n.s.met.snapshots.WithLabelValues("error").Inc()
			n.log.Error("writing snapshot (the log still holds everything)", "err", err, "index", idx)
			return
		}
		if _, err := n.ms.CreateSnapshot(idx, conf, state); err == nil && idx > retainEntries {
			n.ms.Compact(idx - retainEntries)
		}
		n.s.met.snapshots.WithLabelValues("ok").Inc()
		n.log.Info("snapshot written", "index", idx, "bytes", len(payload), "capture", captured.String(), "duration", time.Since(t0).String())
	}()
}

// installSnapshot stores a snapshot received from the leader and loads it
// into the machine (before the Ready's entries are written).
func (n *Node) installSnapshot(snap *pb.Snapshot, h *pb.HardState) error {
	n.snapWG.Wait()
	meta := snap.GetMetadata()
	hs := n.hs
	if h != nil {
		hs = h
	}
	m, room, err := n.s.restoreState(snap.Data)
	if err != nil {
		return fmt.Errorf("snapshot from the leader: %w", err)
	}
	walIdx := n.disk.wl.NextIndex() - 1
	if err := n.disk.wl.Roll(); err != nil {
		return err
	}
	payload, err := encodeRaftSnapshot(hs, meta, snap.Data, nil)
	if err != nil {
		return err
	}
	if err := n.disk.wl.WriteSnapshot(payload, walIdx); err != nil {
		return err
	}
	if err := n.ms.ApplySnapshot(snap); err != nil {
		return err
	}
	n.s.m, n.s.room = m, room
	m.TakeChanges()
	m.TakeHolders()
	n.conf = meta.GetConfState()
	n.applied = meta.GetIndex()
	n.lastSnap = n.applied
	n.appliedA.Store(n.applied)
	n.s.durable.Store(m.Version())
	n.s.hub.reset(m)
	n.s.publishRoom()
	n.snapsInstalled.Add(1)
	n.log.Info("snapshot installed from the leader", "index", n.applied, "version", m.Version())
	return nil
}
