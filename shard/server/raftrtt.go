package server

import (
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

// appendRTT samples, on the leader, the replication round trip to each
// follower: from sending a follower entries (MsgApp) until it acknowledges
// having stored them (MsgAppResp at or past the last index sent). That is
// the network both ways plus the follower's own log write and fsync (which
// the follower reports in its wal_fsync_duration_seconds), so the network's
// share is the difference. One append per follower is timed at a time,
// which keeps the bookkeeping constant in size; the raft loop owns it.
type appendRTT struct {
	pending map[uint64]sentAppend // follower raft id -> the append being timed
}

type sentAppend struct {
	index uint64
	at    time.Time
}

// sent notes the appends among msgs (before they are handed to the transport).
func (a *appendRTT) sent(msgs []*pb.Message, now time.Time) {
	for _, m := range msgs {
		ents := m.GetEntries()
		if m.GetType() != pb.MsgApp || len(ents) == 0 {
			continue
		}
		if _, busy := a.pending[m.GetTo()]; busy {
			continue
		}
		if a.pending == nil {
			a.pending = map[uint64]sentAppend{}
		}
		a.pending[m.GetTo()] = sentAppend{index: ents[len(ents)-1].GetIndex(), at: now}
	}
}

// received returns the round trip m completes, if any. A rejection or a
// change of leadership drops the sample (reset).
func (a *appendRTT) received(m *pb.Message, now time.Time) (time.Duration, bool) {
	if m.GetType() != pb.MsgAppResp {
		return 0, false
	}
	p, ok := a.pending[m.GetFrom()]
	if !ok {
		return 0, false
	}
	if m.GetReject() {
		delete(a.pending, m.GetFrom())
		return 0, false
	}
	if m.GetIndex() < p.index {
		return 0, false
	}
	delete(a.pending, m.GetFrom())
	return now.Sub(p.at), true
}

// reset forgets every append being timed (leadership changed).
func (a *appendRTT) reset() { clear(a.pending) }
