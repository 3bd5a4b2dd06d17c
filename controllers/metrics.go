package controllers

import (
	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
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
)

var allPhases = []boxv1.ShowtimePhase{boxv1.PhasePending, boxv1.PhaseProvisioning, boxv1.PhaseReady,
	boxv1.PhaseOnSale, boxv1.PhaseSoldOut, boxv1.PhaseClosed, boxv1.PhaseDegraded}

func init() {
	metrics.Registry.MustRegister(showtimeSeats, showtimePhase)
}

func recordSeatMetrics(st *boxv1.Showtime) {
	s := st.Status.Seats
	for state, v := range map[string]int32{"free": s.Available, "held": s.Held, "awaiting_payment": s.AwaitingPayment, "sold": s.Sold} {
		showtimeSeats.WithLabelValues(st.Namespace, st.Name, state).Set(float64(v))
	}
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

func forgetMetrics(key types.NamespacedName) {
	showtimeSeats.DeletePartialMatch(prometheus.Labels{"namespace": key.Namespace, "showtime": key.Name})
	showtimePhase.DeletePartialMatch(prometheus.Labels{"namespace": key.Namespace, "showtime": key.Name})
}
