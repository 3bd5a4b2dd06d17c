package main

import (
	"fmt"
	"os"
	"time"
)

// Shard histograms the report attributes a write's time with (seconds,
// shown in ms), and the group size (commands, shown as is).
const (
	mHold       = `boxoffice_shard_request_duration_seconds{route="hold"}`
	mBatch      = `boxoffice_shard_request_duration_seconds{route="batch"}`
	mBatchOps   = "boxoffice_shard_batch_operations"
	mQueue      = "boxoffice_shard_writer_queue_wait_seconds"
	mApply      = "boxoffice_shard_writer_apply_seconds"
	mCommitWait = "boxoffice_shard_writer_commit_wait_seconds"
	mFsync      = "boxoffice_shard_wal_fsync_duration_seconds"
	mGroup      = "boxoffice_shard_wal_group_size"
	mCommit     = "boxoffice_shard_raft_proposal_commit_seconds"
	mRTT        = "boxoffice_shard_raft_append_round_trip_seconds"
	mSched      = "go_sched_latencies_seconds"
	mGCPause    = "go_sched_pauses_total_gc_seconds"
)

// ServerTimes is where the system under test says its time went over the
// measured window: its own histograms, scraped at the window's start and
// end (a shard, or a cluster's leader), and its followers' fsyncs.
type ServerTimes struct {
	HoldMs Dist `json:"holdMs"` // the shard's own hold latency (no client or network)
	// BatchMs and BatchOps: POST /v2/batch requests (time in the shard) and
	// operations per request, when the client batched.
	BatchMs      Dist `json:"batchMs,omitempty"`
	BatchOps     Dist `json:"batchOps,omitempty"`
	QueueMs      Dist `json:"queueMs"`      // handler -> writer (or raft loop)
	ApplyMs      Dist `json:"applyMs"`      // single mode
	CommitWaitMs Dist `json:"commitWaitMs"` // single mode: apply -> answer
	FsyncMs      Dist `json:"fsyncMs"`      // this member's log write + fsync per group
	// FsyncStallMs is at least how long, over the window, a write that
	// arrived would have waited more than 5 ms for an fsync already under
	// way (Hist.TimeOver): the disk's share of a p99 above 5 ms.
	FsyncStallMs float64 `json:"fsyncStallMs,omitempty"`
	GroupSize    Dist    `json:"groupSize"` // single mode: commands per group
	// SchedMs is how long the shard's goroutines waited runnable for a CPU
	// (Go runtime): high when the machine's CPUs are oversubscribed.
	SchedMs Dist `json:"schedMs"`
	// GCPauseMs: the garbage collector's stop-the-world pauses (every
	// request in the shard waits through one).
	GCPauseMs Dist `json:"gcPauseMs,omitempty"`
	// Cluster mode, on the leader.
	CommitMs        Dist `json:"commitMs,omitempty"`        // proposal -> applied committed
	RoundTripMs     Dist `json:"roundTripMs,omitempty"`     // append -> follower's acknowledgement
	FollowerFsyncMs Dist `json:"followerFsyncMs,omitempty"` // the followers' fsyncs, merged
}

// probe measures the system under test over the window: CPU of its
// processes and, for shards, their histograms.
type probe struct {
	pids   []int    // CPU is summed over these (and their direct children)
	leader int      // index into pids/urls of the member that took the writes (-1: none)
	urls   []string // shard base URLs, same order as pids (empty for redis/postgres)
	pprofs []string // shards' --pprof-listen addresses, same order ("": none)
}

type probeSnap struct {
	at       time.Time
	cpu      []time.Duration
	runq     []time.Duration
	hists    []map[string]Hist
	self     map[string]Hist // the generator's own runtime (selfHists)
	selfRunq time.Duration   // the generator's threads' run-queue wait
	host     hostTimes       // the whole machine (/proc/stat)
}

func (p *probe) snap() probeSnap {
	s := probeSnap{at: time.Now(), self: selfHists(), selfRunq: tasksRunqWait(os.Getpid()), host: readHostTimes()}
	for _, pid := range p.pids {
		s.cpu = append(s.cpu, treeCPU(pid))
		s.runq = append(s.runq, runqWait(pid))
	}
	for _, u := range p.urls {
		h, err := scrapeHists(u)
		if err != nil {
			fmt.Fprintf(os.Stderr, "    (no histograms from %s: %v)\n", u, err)
		}
		s.hists = append(s.hists, h)
	}
	return s
}

// result fills the CPU and time attribution of r from two snapshots.
func (p *probe) result(a, b probeSnap, r *RunResult) {
	secs := b.at.Sub(a.at).Seconds()
	gen := histDelta(a.self, b.self)
	r.GenSchedMs, r.GenGCPauseMs = gen[rtSched].Dist(1000), gen[rtGCPause].Dist(1000)
	if secs <= 0 {
		return
	}
	r.GenRunqWait = (b.selfRunq - a.selfRunq).Seconds() / secs
	r.HostSteal, r.HostIOWait = b.host.steal.perSecond(a.host.steal, secs), b.host.iowait.perSecond(a.host.iowait, secs)
	if len(p.pids) == 0 {
		return
	}
	var sum, runq time.Duration
	for i := range p.pids {
		sum += b.cpu[i] - a.cpu[i]
		runq += b.runq[i] - a.runq[i]
		if i == p.leader && len(p.pids) > 1 {
			r.LeaderCPU = (b.cpu[i] - a.cpu[i]).Seconds() / secs
		}
	}
	r.ServerCPU = sum.Seconds() / secs
	r.ServerRunqWait = runq.Seconds() / secs
	if len(p.urls) == 0 || p.leader < 0 {
		return
	}
	d := make([]map[string]Hist, len(p.urls))
	for i := range p.urls {
		d[i] = histDelta(a.hists[i], b.hists[i])
	}
	r.Times = attribute(d, p.leader)
}

// stallOver is the wait, in seconds, that the half-rate target allows a
// hold (5 ms).
const stallOver = 0.005

// attribute summarises per-member histogram deltas; leader is the member
// that took the writes (the only one in single mode).
func attribute(d []map[string]Hist, leader int) *ServerTimes {
	l := d[leader]
	t := &ServerTimes{
		HoldMs: l[mHold].Dist(1000), QueueMs: l[mQueue].Dist(1000), ApplyMs: l[mApply].Dist(1000),
		CommitWaitMs: l[mCommitWait].Dist(1000), FsyncMs: l[mFsync].Dist(1000), GroupSize: l[mGroup].Dist(1),
		SchedMs: l[mSched].Dist(1000), GCPauseMs: l[mGCPause].Dist(1000), BatchMs: l[mBatch].Dist(1000), BatchOps: l[mBatchOps].Dist(1),
		CommitMs: l[mCommit].Dist(1000), RoundTripMs: l[mRTT].Dist(1000),
	}
	t.FsyncStallMs = l[mFsync].TimeOver(stallOver) * 1000
	var f Hist
	for i, m := range d {
		if i != leader {
			f = f.Add(m[mFsync])
		}
	}
	t.FollowerFsyncMs = f.Dist(1000)
	return t
}
