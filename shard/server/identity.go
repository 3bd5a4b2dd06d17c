package server

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

// A member's identity is its slot (--id) and its Raft id. The Raft id is the
// slot for the members that bootstrapped the cluster together; a member that
// starts with an empty data directory after the cluster exists gets a new
// Raft id (a random incarnation above the slot's 8 bits) and joins through a
// membership change that replaces the slot's old Raft id. Its old self may
// have voted in a term it no longer remembers: under a new id, those votes
// belong to a removed member and count for nothing, so it never votes twice
// in one term.
//
// The identity is stored in member.json in the data directory before the
// member takes part in Raft.
const identityFile = "member.json"

type identity struct {
	Format int    `json:"format"`
	Slot   int    `json:"slot"`
	RaftID uint64 `json:"raftID"`
	// Bootstrap: this member started the cluster with its peers.
	Bootstrap bool `json:"bootstrap,omitempty"`
	// Joining: this member asks the leader to add it (until it is a voter).
	Joining bool `json:"joining,omitempty"`
}

// loadIdentity reads member.json; fresh is true for an empty data directory.
func loadIdentity(dir string, slot int) (identity, bool, error) {
	var id identity
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "wal-") || strings.HasPrefix(e.Name(), "snap-") {
				return id, false, fmt.Errorf("data directory %s holds a single-mode shard's log (no %s): a cluster member starts from an empty data directory", dir, identityFile)
			}
		}
		return id, true, nil
	}
	if err != nil {
		return id, false, fmt.Errorf("reading %s: %w", identityFile, err)
	}
	if err := json.Unmarshal(b, &id); err != nil || id.Format != 1 || id.RaftID == 0 {
		return id, false, fmt.Errorf("%s in %s is damaged or from a newer version", identityFile, dir)
	}
	if id.Slot != slot {
		return id, false, fmt.Errorf("data directory %s belongs to member %d, not --id %d", dir, id.Slot, slot)
	}
	return id, false, nil
}

func saveIdentity(dir string, id identity) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(id)
	// 0o666 before the umask, as os.Create made it.
	return writeFileDurably(filepath.Join(dir, identityFile), b, 0o666)
}

// PeerHello is what a member tells a peer that probes it.
type PeerHello struct {
	Slot      int    `json:"slot"`
	RaftID    uint64 `json:"raftID"`
	Term      uint64 `json:"term"`
	LastIndex uint64 `json:"lastIndex"`
	Fresh     bool   `json:"fresh"` // deciding its identity: no log yet
}

func (n *Node) hello() PeerHello {
	if !n.opened.Load() {
		return PeerHello{Slot: n.cfg.ID, Fresh: true}
	}
	h := PeerHello{Slot: n.cfg.ID, RaftID: n.raftID, Term: n.term.Load()}
	if n.ms == nil {
		h.Fresh = true
		return h
	}
	h.LastIndex, _ = n.ms.LastIndex()
	return h
}

// decideIdentity runs for an empty data directory: bootstrap with the peers
// when every peer answers that it has no log either (or only the bootstrap
// entries, in term 1, where nobody has voted yet), join as a new Raft id as
// soon as one peer is past that.
func (n *Node) decideIdentity() (identity, error) {
	deadline := time.Now().Add(n.cfg.BootstrapWait)
	for attempt := 0; ; attempt++ {
		empty, existing := 0, false
		for slot := range n.cfg.Peers {
			if slot == n.cfg.ID {
				continue
			}
			h, err := n.cfg.Transport.Hello(slot)
			if err != nil {
				continue
			}
			// A peer that bootstrapped but never voted in a term (term 1,
			// only the bootstrap entries) is still forming the cluster: no
			// member can have voted yet, so this one may bootstrap too.
			if h.Term > 1 || h.LastIndex > uint64(len(n.cfg.Peers)) {
				existing = true
			} else {
				empty++
			}
		}
		var id identity
		switch {
		case existing:
			var r [6]byte
			rand.Read(r[:])
			inc := binary.LittleEndian.Uint64(append(r[:], 0, 0)) | 1
			id = identity{Format: 1, Slot: n.cfg.ID, RaftID: inc<<8 | uint64(n.cfg.ID), Joining: true}
			n.log.Warn("empty data directory and the cluster exists: joining under a new raft id that replaces this slot's old one", "raftID", id.RaftID)
		case empty == len(n.cfg.Peers)-1:
			id = identity{Format: 1, Slot: n.cfg.ID, RaftID: uint64(n.cfg.ID), Bootstrap: true}
			n.log.Info("empty data directory and every peer is new: bootstrapping the cluster")
		default:
			if n.cfg.BootstrapWait > 0 && time.Now().After(deadline) {
				return id, fmt.Errorf("empty data directory: only %d of %d peers answered; a new member needs every peer to bootstrap, or one with a log to join", empty, len(n.cfg.Peers)-1)
			}
			if attempt%20 == 0 {
				n.log.Info("empty data directory: waiting for every peer to answer before bootstrapping", "answered", empty)
			}
			select {
			case <-time.After(250 * time.Millisecond):
				continue
			case <-n.stop:
				return id, ErrStopped
			}
		}
		return id, saveIdentity(n.s.cfg.DataDir, id)
	}
}

// join asks the leader, through any peer, to add this member until it is a
// voter, then records that it joined.
func (n *Node) join() {
	for {
		select {
		case <-n.done:
			return
		case <-time.After(500 * time.Millisecond):
		}
		if slices.Contains(n.voters(), n.raftID) {
			id := identity{Format: 1, Slot: n.cfg.ID, RaftID: n.raftID}
			if err := saveIdentity(n.s.cfg.DataDir, id); err != nil {
				n.log.Error("recording the membership", "err", err)
			}
			n.joinState.Store("")
			n.log.Info("joined the cluster", "raftID", n.raftID)
			return
		}
		n.joinState.Store("joining")
		for slot := range n.cfg.Peers {
			if slot != n.cfg.ID {
				n.cfg.Transport.Join(slot, n.raftID)
			}
		}
	}
}

// voters reads the configuration (any goroutine).
func (n *Node) voters() []uint64 {
	ch := make(chan []uint64, 1)
	select {
	case n.ctrl <- func() { ch <- slices.Clone(n.conf.GetVoters()) }:
	case <-n.done:
		return nil
	}
	select {
	case v := <-ch:
		return v
	case <-n.done:
		return nil
	}
}

// AddMember replaces the slot's Raft id with raftID (leader only; called for
// a peer's join request). It returns whether the member is already a voter.
func (n *Node) AddMember(raftID uint64) (bool, error) {
	ch := make(chan error, 1)
	var already bool
	f := func() {
		if !n.isLeader {
			ch <- n.notLeader()
			return
		}
		if slices.Contains(n.conf.GetVoters(), raftID) {
			already = true
			ch <- nil
			return
		}
		cc := &pb.ConfChangeV2{}
		for _, v := range n.conf.GetVoters() {
			if slotOf(v) == slotOf(raftID) {
				cc.Changes = append(cc.Changes, &pb.ConfChangeSingle{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: &v})
			}
		}
		cc.Changes = append(cc.Changes, &pb.ConfChangeSingle{Type: pb.ConfChangeAddNode.Enum(), NodeId: &raftID})
		n.log.Info("replacing a member that lost its data", "slot", slotOf(raftID), "raftID", raftID)
		ch <- n.rn.ProposeConfChange(cc)
	}
	select {
	case n.ctrl <- f:
	case <-n.done:
		return false, ErrStopped
	}
	select {
	case err := <-ch:
		return already, err
	case <-n.done:
		return false, ErrStopped
	}
}
