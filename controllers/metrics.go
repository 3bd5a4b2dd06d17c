package controllers

import (
	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	showtimeSeats = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_seats",
		Help: "Seats of a showtime by state, as last read from its shard.",
	}, []string{"namespace", "showtime", "state"})

	showtimePhase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_phase",
		Help: "1 for the showtime's current phase, 0 for the others.",
	}, []string{"namespace", "showtime", "phase"})

	showtimeShardReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_shard_ready",
		Help: "1 when the showtime's shard is ready and answering, else 0.",
	}, []string{"namespace", "showtime"})

	showtimeOnSaleWindow = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_sale_window_open",
		Help: "1 between the showtime's sales.opensAt and sales.closesAt, else 0.",
	}, []string{"namespace", "showtime"})

	showtimeOpens = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_opens_timestamp_seconds",
		Help: "When the showtime's sale opens (Unix seconds).",
	}, []string{"namespace", "showtime"})

	showtimeSoldOut = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_sold_out_timestamp_seconds",
		Help: "When the showtime was first seen sold out (Unix seconds); absent until then.",
	}, []string{"namespace", "showtime"})

	showtimeFrozen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_frozen",
		Help: "1 while the showtime's Frozen condition is True (a freeze window or its own sale freeze is in force), 0 while False; absent while Unknown.",
	}, []string{"namespace", "showtime"})

	rolloutRollbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boxoffice_rollout_rollbacks_total",
		Help: "Rollouts that rolled every moved showtime back, by rollout and reason.",
	}, []string{"rollout", "reason"})

	freezeWindowActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_freeze_window_active",
		Help: "1 while the FreezeWindow is in one of its periods, else 0.",
	}, []string{"window"})

	shardMembers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_showtime_shard_members",
		Help: "Members of a replicated shard by state: ready, not_ready, and quorum (the majority needed to take writes).",
	}, []string{"namespace", "showtime", "state"})

	shardLeaderChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boxoffice_showtime_shard_leader_changes_total",
		Help: "Changes of a replicated shard's leader the operator saw.",
	}, []string{"namespace", "showtime"})

	shardMemberRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boxoffice_showtime_shard_member_restarts_total",
		Help: "Members of a replicated shard the operator restarted to move them to the StatefulSet's revision, by role.",
	}, []string{"namespace", "showtime", "role"})

	shardHandoverSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "boxoffice_showtime_shard_handover_seconds",
		Help:    "From the operator's deletion of a replicated shard leader's pod until another member reported that it leads (an upper bound on the write pause of the hand-over).",
		Buckets: []float64{.025, .05, .1, .2, .3, .5, 1, 2, 5},
	})

	shardMemberReplacements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boxoffice_showtime_shard_member_replacements_total",
		Help: "Members of a replicated shard the operator replaced because their node was lost.",
	}, []string{"namespace", "showtime"})

	frontendReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boxoffice_frontend_replicas",
		Help: "Front-end replicas by kind: desired (what the autoscaler asks for), current, ready, min (the autoscaler's floor now) and max (its ceiling).",
	}, []string{"namespace", "showtime", "kind"})
)

var allPhases = []boxv1.ShowtimePhase{boxv1.PhasePending, boxv1.PhaseProvisioning, boxv1.PhaseReady,
	boxv1.PhaseOnSale, boxv1.PhaseSoldOut, boxv1.PhaseClosed, boxv1.PhaseDegraded}

func init() {
	metrics.Registry.MustRegister(showtimeSeats, showtimePhase, showtimeShardReady, showtimeOnSaleWindow,
		showtimeOpens, showtimeSoldOut, showtimeFrozen, frontendReplicas, freezeWindowActive, rolloutRollbacks,
		shardMembers, shardLeaderChanges, shardMemberReplacements, shardMemberRestarts, shardHandoverSeconds)
}

func recordSeatMetrics(st *boxv1.Showtime) {
	s := st.Status.Seats
	for state, v := range map[string]int32{"free": s.Available, "held": s.Held, "awaiting_payment": s.AwaitingPayment, "sold": s.Sold} {
		showtimeSeats.WithLabelValues(st.Namespace, st.Name, state).Set(float64(v))
	}
}

// recordMemberMetrics publishes a replicated shard's members by state.
func recordMemberMetrics(st *boxv1.Showtime, v clusterView) {
	shardMembers.WithLabelValues(st.Namespace, st.Name, "ready").Set(float64(v.Ready))
	shardMembers.WithLabelValues(st.Namespace, st.Name, "not_ready").Set(float64(v.Replicas - v.Ready))
	shardMembers.WithLabelValues(st.Namespace, st.Name, "quorum").Set(float64(v.Replicas/2 + 1))
}

func recordPhaseMetric(st *boxv1.Showtime) {
	for _, p := range allPhases {
		v := 0.0
		if p == st.Status.Phase {
			v = 1
		}
		showtimePhase.WithLabelValues(st.Namespace, st.Name, string(p)).Set(v)
	}
}

// recordShowtimeMetrics publishes what the alerts and the dashboard read.
func recordShowtimeMetrics(st *boxv1.Showtime, shardReady, saleOpen bool, maxReplicas int32) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	showtimeShardReady.WithLabelValues(st.Namespace, st.Name).Set(b(shardReady))
	showtimeOnSaleWindow.WithLabelValues(st.Namespace, st.Name).Set(b(saleOpen))
	showtimeOpens.WithLabelValues(st.Namespace, st.Name).Set(float64(st.Spec.Sales.OpensAt.Unix()))
	// The reconcile sets Frozen before it records these.
	switch c := meta.FindStatusCondition(st.Status.Conditions, boxv1.ConditionFrozen); {
	case c != nil && c.Status == metav1.ConditionTrue:
		showtimeFrozen.WithLabelValues(st.Namespace, st.Name).Set(1)
	case c != nil && c.Status == metav1.ConditionFalse:
		showtimeFrozen.WithLabelValues(st.Namespace, st.Name).Set(0)
	default:
		showtimeFrozen.DeleteLabelValues(st.Namespace, st.Name)
	}
	if t := st.Status.SoldOutAt; t != nil {
		// From the status, so a restarted or newly elected manager reports
		// the same moment.
		showtimeSoldOut.WithLabelValues(st.Namespace, st.Name).Set(float64(t.Unix()))
	}
	roomMetrics.record(types.NamespacedName{Namespace: st.Namespace, Name: st.Name}, st.Status.WaitingRoom)
	f := st.Status.Frontend
	frontendReplicas.WithLabelValues(st.Namespace, st.Name, "desired").Set(float64(f.DesiredReplicas))
	frontendReplicas.WithLabelValues(st.Namespace, st.Name, "current").Set(float64(f.Replicas))
	frontendReplicas.WithLabelValues(st.Namespace, st.Name, "ready").Set(float64(f.ReadyReplicas))
	frontendReplicas.WithLabelValues(st.Namespace, st.Name, "min").Set(float64(f.MinReplicas))
	frontendReplicas.WithLabelValues(st.Namespace, st.Name, "max").Set(float64(maxReplicas))
}

func forgetMetrics(key types.NamespacedName) {
	l := prometheus.Labels{"namespace": key.Namespace, "showtime": key.Name}
	for _, v := range []*prometheus.GaugeVec{showtimeSeats, showtimePhase, showtimeShardReady, showtimeOnSaleWindow,
		showtimeOpens, showtimeSoldOut, showtimeFrozen, frontendReplicas, shardMembers} {
		v.DeletePartialMatch(l)
	}
	shardLeaderChanges.DeletePartialMatch(l)
	shardMemberReplacements.DeletePartialMatch(l)
	shardMemberRestarts.DeletePartialMatch(l)
	roomMetrics.record(key, nil)
}
