package controllers

import (
	"sync"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// waitingRoomMetrics exports each showtime's status.waitingRoom as
// boxoffice_showtime_waitingroom_* (the operator's copies of what the shard
// reports; the shard's own are boxoffice_shard_waitingroom_*). A showtime's
// series exist while its room is on and the shard has reported it, so a
// room that was never configured shows no zeros that an alert could read
// as "nobody waits".
type waitingRoomMetrics struct {
	mu    sync.Mutex
	rooms map[types.NamespacedName]boxv1.WaitingRoomStatus
}

var (
	roomLabels = []string{"namespace", "showtime"}
	roomGauges = []struct {
		desc *prometheus.Desc
		get  func(*boxv1.WaitingRoomStatus) float64
	}{
		{wrDesc("waiting", "Buyers in line, the pre-queue included, as last read from the shard."),
			func(w *boxv1.WaitingRoomStatus) float64 { return float64(w.Waiting) }},
		{wrDesc("pre_queued", "Buyers in the pre-queue (drawn at opensAt)."),
			func(w *boxv1.WaitingRoomStatus) float64 { return float64(w.PreQueued) }},
		{wrDesc("active", "Buyers admitted now."),
			func(w *boxv1.WaitingRoomStatus) float64 { return float64(w.Active) }},
		{wrDesc("wait_median_seconds", "Median wait of everyone admitted so far (an upper bound)."),
			func(w *boxv1.WaitingRoomStatus) float64 { return float64(w.MedianWaitSeconds) }},
		{wrDesc("wait_p99_seconds", "99th percentile wait of everyone admitted so far (an upper bound)."),
			func(w *boxv1.WaitingRoomStatus) float64 { return float64(w.P99WaitSeconds) }},
		{wrDesc("admissions_per_minute", "Admission rate measured over the last 64 admissions (0 until measured)."),
			func(w *boxv1.WaitingRoomStatus) float64 { return float64(w.AdmissionsPerMinute) }},
		{wrDesc("sold_out", "1 once every seat is sold and the room closed."),
			func(w *boxv1.WaitingRoomStatus) float64 { return boolFloat(w.SoldOut) }},
		{wrDesc("seats_may_return", "1 while no seat is free but some are held (admission pauses)."),
			func(w *boxv1.WaitingRoomStatus) float64 { return boolFloat(w.SeatsMayReturn) }},
	}
	roomAdmittedDesc = wrDesc("admitted_total", "Buyers admitted so far.")

	roomMetrics = &waitingRoomMetrics{rooms: map[types.NamespacedName]boxv1.WaitingRoomStatus{}}
)

func wrDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("boxoffice_showtime_waitingroom_"+name, help, roomLabels, nil)
}

func boolFloat(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

func init() { metrics.Registry.MustRegister(roomMetrics) }

// Describe implements prometheus.Collector.
func (m *waitingRoomMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range roomGauges {
		ch <- g.desc
	}
	ch <- roomAdmittedDesc
}

// Collect implements prometheus.Collector.
func (m *waitingRoomMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.rooms {
		for _, g := range roomGauges {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.get(&w), key.Namespace, key.Name)
		}
		ch <- prometheus.MustNewConstMetric(roomAdmittedDesc, prometheus.CounterValue, float64(w.Admitted), key.Namespace, key.Name)
	}
}

// record keeps a showtime's room as its status shows it, or forgets it
// when the room is off or not reported yet.
func (m *waitingRoomMetrics) record(key types.NamespacedName, w *boxv1.WaitingRoomStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w == nil || !w.Reported {
		delete(m.rooms, key)
		return
	}
	m.rooms[key] = *w
}
