package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// recoverCluster starts a cluster member: the Raft log is replayed into the
// machine and the raft loop runs. Readiness (/readyz) then follows the
// member's place in the cluster; the API answers from the start.
func (s *Server) recoverCluster() error {
	t0 := time.Now()
	if err := s.startCluster(); err != nil {
		return err
	}
	// Late payments are recorded by every member as it applies the
	// committed confirm, so each member's reports (and /v1/status) hold them.
	r, err := loadReports(s.cfg.DataDir)
	if err != nil {
		s.Close(context.Background())
		return err
	}
	s.rep.Store(r)
	s.epoch.Store(s.node.term.Load())
	s.met.recovery.Set(time.Since(t0).Seconds())
	s.checkSpace()
	go s.watchSpace()
	s.started.Store(true)
	s.ready.Store(true)
	return nil
}

// checkSingleDir refuses a cluster member's data directory in single mode.
func checkSingleDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, identityFile)); err == nil {
		return fmt.Errorf("data directory %s belongs to a cluster member (%s): start it with --id and --peers", dir, identityFile)
	}
	return nil
}

// failStop stops serving after a write to the Raft log failed.
func (s *Server) failStop(err error) {
	if s.broken.Swap(true) {
		return
	}
	s.ready.Store(false)
	s.log.Error("raft log write failed; the member stops (nothing of this write was acknowledged)", "err", err)
	select {
	case s.fatal <- err:
	default:
	}
}

// caughtUp is /readyz in cluster mode: a leader is known, this member is
// part of a majority (the leader, or a follower that hears from it) and has
// applied what it knows to be committed.
func (n *Node) caughtUp() bool {
	lead := n.lead.Load()
	if lead == 0 || n.stopped.Load() || n.joinState.Load() == "joining" {
		return false
	}
	return n.appliedA.Load() >= n.commit.Load()
}

func (n *Node) close(ctx context.Context) error {
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HandOver moves leadership to the most up-to-date follower when this member
// leads, and waits (bounded by ctx) until another member leads. Single mode
// and followers return at once.
func (s *Server) HandOver(ctx context.Context) {
	n := s.node
	if n == nil || n.lead.Load() != n.raftID {
		return
	}
	t0 := time.Now()
	var target uint64
	f := func() {
		var best uint64
		st := n.rn.Status()
		for id, pr := range st.Progress {
			if id != n.raftID && slices.Contains(n.conf.GetVoters(), id) && pr.Match >= best {
				best, target = pr.Match, id
			}
		}
		if target != 0 {
			n.rn.TransferLeader(target)
		}
	}
	select {
	case n.ctrl <- f:
	case <-n.done:
		return
	}
	// Until another member leads (not merely until this one stopped leading:
	// clients are redirected to the new leader's URL).
	for lead := n.lead.Load(); lead == n.raftID || lead == 0; lead = n.lead.Load() {
		select {
		case <-ctx.Done():
			s.log.Warn("leadership hand-over did not finish in time", "waited", time.Since(t0).String(), "target", slotOf(target))
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.log.Info("leadership handed over", "to", slotOf(n.lead.Load()), "duration", time.Since(t0).String())
}

// writeSubmitError answers a write or current read that was not served.
func writeSubmitError(w http.ResponseWriter, err error) {
	status, b := renderSubmitError(nil, err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, b)
}

// renderSubmitError appends the answer to a request the writer (or the raft
// loop) did not take or could not answer: 421 not_leader, else 503.
func renderSubmitError(b []byte, err error) (int, []byte) {
	var nl *NotLeaderError
	if errors.As(err, &nl) {
		e := shardapi.Error{Code: shardapi.CodeNotLeader,
			Message: "this member is not the leader; send the request to the leader", Leader: &nl.Leader}
		return e.Code.HTTPStatus(), e.AppendJSON(b)
	}
	e := shardapi.Error{Code: shardapi.CodeNotReady, Message: err.Error()}
	return e.Code.HTTPStatus(), e.AppendJSON(b)
}

// appendClusterStatus adds the cluster fields to /v1/status.
func (s *Server) appendClusterStatus(b []byte) []byte {
	n := s.node
	b = append(b, `,"role":`...)
	if n == nil {
		return shardapi.AppendString(b, shardapi.RoleSingle)
	}
	b = shardapi.AppendString(b, n.role.Load().(string))
	b = append(b, `,"term":`...)
	b = strconv.AppendUint(b, n.term.Load(), 10)
	b = append(b, `,"leader":`...)
	b = shardapi.AppendString(b, n.leaderURL())
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(n.cfg.ID), 10)
	b = append(b, `,"raftID":`...)
	b = strconv.AppendUint(b, n.raftID, 10)
	b = append(b, `,"commitIndex":`...)
	b = strconv.AppendUint(b, n.commit.Load(), 10)
	b = append(b, `,"appliedIndex":`...)
	b = strconv.AppendUint(b, n.appliedA.Load(), 10)
	if j := n.joinState.Load().(string); j != "" {
		b = append(b, `,"joining":true`...)
	}
	if ms := n.members.Load(); ms != nil && n.lead.Load() == n.raftID {
		b = append(b, `,"members":[`...)
		for i, m := range *ms {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = strconv.AppendInt(b, int64(m.ID), 10)
			b = append(b, `,"url":`...)
			b = shardapi.AppendString(b, m.URL)
			b = append(b, `,"match":`...)
			b = strconv.AppendUint(b, m.Match, 10)
			b = append(b, `,"healthy":`...)
			b = strconv.AppendBool(b, m.Healthy)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return b
}

func sortMembers(ms []memberStatus) {
	slices.SortFunc(ms, func(a, b memberStatus) int { return a.ID - b.ID })
}

// clusterMetrics are registered only in cluster mode.
type clusterMetrics struct {
	raftRole          prometheus.Gauge
	raftTerm          prometheus.Gauge
	raftLeaderChanges prometheus.Counter
	raftCommit        prometheus.Gauge
	raftApplied       prometheus.Gauge
	raftMatch         *prometheus.GaugeVec
	raftCommitLatency prometheus.Histogram
	raftAppendRTT     prometheus.Histogram
	peerRejected      *prometheus.CounterVec
}

func (m *metrics) registerCluster() {
	m.raftRole = prometheus.NewGauge(prometheus.GaugeOpts{Name: shardapi.MetricRaftRole,
		Help: "This member's role: 0 follower, 1 candidate, 2 leader."})
	m.raftTerm = prometheus.NewGauge(prometheus.GaugeOpts{Name: shardapi.MetricRaftTerm, Help: "Current Raft term."})
	m.raftLeaderChanges = prometheus.NewCounter(prometheus.CounterOpts{Name: shardapi.MetricRaftLeaderChangesTotal,
		Help: "Times this member saw the leader change."})
	m.raftCommit = prometheus.NewGauge(prometheus.GaugeOpts{Name: shardapi.MetricRaftCommitIndex, Help: "Highest Raft index known committed."})
	m.raftApplied = prometheus.NewGauge(prometheus.GaugeOpts{Name: shardapi.MetricRaftAppliedIndex, Help: "Highest Raft index applied to the seats."})
	m.raftMatch = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: shardapi.MetricRaftMemberMatchIndex,
		Help: "On the leader: the highest index known stored on each member."}, []string{"member"})
	m.raftCommitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricRaftProposalCommitSeconds,
		Help:    "Time from proposing a write on the leader to applying it committed.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}})
	m.raftAppendRTT = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricRaftAppendRoundTripSeconds,
		Help:    "On the leader: from sending a follower entries until it acknowledges storing them (network both ways plus the follower's log write and fsync, which the follower's wal_fsync_duration_seconds shows); one append per follower timed at a time.",
		Buckets: fineBuckets})
	m.peerRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: shardapi.MetricPeerRequestsRejectedTotal,
		Help: "Peer requests refused (unauthorized, invalid, too_large); the connection is closed."}, []string{"reason"})
	m.reg.MustRegister(m.raftRole, m.raftTerm, m.raftLeaderChanges, m.raftCommit, m.raftApplied, m.raftMatch,
		m.raftCommitLatency, m.raftAppendRTT, m.peerRejected)
}

func (n *Node) isLeaderNow() bool { return n.lead.Load() == n.raftID }
