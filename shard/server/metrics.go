package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"regexp"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

type metrics struct {
	reg      *prometheus.Registry
	holds    *prometheus.CounterVec
	confirms *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// holdLatency is latency's hold route, also fed by the holds a batch
	// carries (the canary analysis reads it).
	holdLatency prometheus.Observer
	requests    *prometheus.CounterVec
	fsync       prometheus.Histogram
	groupSize   prometheus.Histogram
	batchSize   prometheus.Histogram
	queueWait   prometheus.Histogram
	applyTime   prometheus.Histogram
	commitWait  prometheus.Histogram
	recovery    prometheus.Gauge
	epoch       prometheus.Gauge
	streamDrop  prometheus.Counter
	snapshots   *prometheus.CounterVec
	early       prometheus.Counter

	holdResult    [16]prometheus.Counter
	confirmResult [16]prometheus.Counter
	// Answers replayed from the idempotency table: a retry, not a new hold
	// or sale, so they are kept out of the business results.
	holdReplay    prometheus.Counter
	confirmReplay prometheus.Counter

	clusterMetrics
}

// resultReplay is the result label of an answer replayed from the
// idempotency table, whatever the first answer was.
const resultReplay = shardapi.ResultReplay

var routes = []string{"seats", "hold", "get_hold", "extend", "await_payment", "confirm", "release", "status", "events", "batch"}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.newRequestMetrics()
	m.newWriteMetrics()
	m.holds = counterVec(shardapi.MetricHoldsTotal,
		"Hold requests answered by the state machine, by result (replay: answered again from the idempotency table).", "result")
	m.confirms = counterVec(shardapi.MetricConfirmsTotal,
		"Confirm requests answered by the state machine, by result (replay: answered again from the idempotency table).", "result")
	m.recovery = gauge(shardapi.MetricRecoveryDurationSeconds, "Time spent loading the snapshot and replaying the log at start-up.")
	m.epoch = gauge(shardapi.MetricEpoch, "Owner epoch of this shard process (incremented on every start).")
	m.streamDrop = counter(shardapi.MetricStreamClientsDroppedTotal,
		"Event-stream clients disconnected for falling behind or writing too slowly.")
	m.snapshots = counterVec(shardapi.MetricSnapshotsTotal, "Snapshots written, by result.", "result")
	m.early = counter(shardapi.MetricEarlyConflictsTotal,
		"Conflicts answered before the group's fsync because they read only seats already on disk.")
	m.reg.MustRegister(m.requests, m.early)
	m.reg.MustRegister(seatGauges(s)...)
	m.reg.MustRegister(stateGauges(s)...)
	m.reg.MustRegister(
		m.holds, m.confirms, m.latency, m.fsync, m.groupSize, m.batchSize, m.queueWait, m.applyTime, m.commitWait, m.recovery, m.epoch, m.streamDrop, m.snapshots,
		// go_sched_latencies_seconds: how long goroutines wait runnable
		// for a CPU; with the writer histograms it tells CPU starvation
		// from the shard's own work. go_sched_pauses_total_gc_seconds:
		// how long the garbage collector stopped the world (every request
		// waits through such a pause).
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/total/gc):seconds$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for c := seats.OK; c <= seats.LastCode; c++ {
		m.holdResult[c] = m.holds.WithLabelValues(c.String())
		m.confirmResult[c] = m.confirms.WithLabelValues(c.String())
	}
	m.holdReplay = m.holds.WithLabelValues(resultReplay)
	m.confirmReplay = m.confirms.WithLabelValues(resultReplay)
	return m
}

// newRequestMetrics makes the HTTP answers' counter and latency histogram.
func (m *metrics) newRequestMetrics() {
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: shardapi.MetricRequestDurationSeconds,
		Help:    "HTTP request latency by route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}, []string{"route"})
	m.holdLatency = m.latency.WithLabelValues("hold")
	m.requests = counterVec(shardapi.MetricRequestsTotal,
		"HTTP answers by route and status class (2xx, 4xx, 5xx): 5xx on write routes is the write error ratio.", "route", "code")
}

// newWriteMetrics makes the histograms of a write's way through the writer
// and the log.
func (m *metrics) newWriteMetrics() {
	m.fsync = histogram(shardapi.MetricWalFsyncDurationSeconds, "Time to write and fsync one group of log records.",
		[]float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5})
	m.groupSize = histogram(shardapi.MetricWalGroupSize, "Commands per group commit.", prometheus.ExponentialBuckets(1, 2, 12))
	m.batchSize = histogram(shardapi.MetricBatchOperations, "Operations per POST /v2/batch request.", prometheus.ExponentialBuckets(1, 2, 9))
	m.queueWait = histogram(shardapi.MetricWriterQueueWaitSeconds,
		"Time a write waits from its handler handing it over until the writer (in cluster mode the Raft loop) takes it: CPU contention and writer backlog.",
		fineBuckets)
	m.applyTime = histogram(shardapi.MetricWriterApplySeconds,
		"Time the writer spends applying one command to the seat map and framing its log record (single mode).",
		fineBuckets)
	m.commitWait = histogram(shardapi.MetricWriterCommitWaitSeconds,
		"Time from a command's apply until it is answered: waiting for the group in progress plus its own group's write and fsync (single mode).",
		fineBuckets)
}

// seatGauges count the durable seats in each state.
func seatGauges(s *Server) []prometheus.Collector {
	var gs []prometheus.Collector
	for st := seats.Free; st <= seats.Sold; st++ {
		gs = append(gs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricSeats,
			Help: "Seats by state (durable view).", ConstLabels: prometheus.Labels{"state": st.String()}},
			func() float64 { _, c := s.hub.snapshotCounts(); return float64(c[st]) }))
	}
	return gs
}

// stateGauges read the server's state when scraped: stream clients, the
// log, readiness, the data volume and the durable report totals.
func stateGauges(s *Server) []prometheus.Collector {
	return []prometheus.Collector{
		gaugeFunc(shardapi.MetricStreamClients, "Connected event-stream clients.",
			func() float64 { return float64(s.hub.clientCount()) }),
		gaugeFunc(shardapi.MetricWalBytes, "Bytes in log segments.", func() float64 {
			if l := s.walLog.Load(); l != nil {
				return float64(l.Bytes())
			}
			return 0
		}),
		gaugeFunc(shardapi.MetricVersion, "Durable seat-map version.",
			func() float64 { v, _ := s.hub.snapshotCounts(); return float64(v) }),
		gaugeFunc(shardapi.MetricReady,
			"1 when the shard accepts writes (0 while starting or stopping, while a log write is stalled, or when the data volume is full).",
			func() float64 { return b2f(s.Ready()) }),
		gaugeFunc(shardapi.MetricWalWriteStalled,
			"1 while a log write (one group's write and fsync) has run longer than the stall timeout: the shard is not ready.",
			func() float64 { return b2f(s.stalledFor() > 0) }),
		gaugeFunc(shardapi.MetricWalWriteAgeSeconds, "How long the log write in progress has run (0 when none is).", func() float64 {
			if t := s.writeStart.Load(); t != 0 {
				return time.Since(time.Unix(0, t)).Seconds()
			}
			return 0
		}),
		gaugeFunc(shardapi.MetricVolumeFreeBytes, "Free space on the data volume (-1 unknown).",
			func() float64 { return float64(s.freeBytes.Load()) }),
		gaugeFunc(shardapi.MetricVolumeLow,
			"1 when the data volume has less than two log segments' worth free: new segments are not reserved.",
			func() float64 { return b2f(s.lowSpace.Load()) }),
		gaugeFunc(shardapi.MetricVolumeFull,
			"1 when the data volume is below the free space writes need: writes are refused (503) and the shard is not ready.",
			func() float64 { return b2f(s.fullSpace.Load()) }),
		counterFunc(shardapi.MetricPaidAfterExpiryTotal,
			"Confirms with an order id answered hold_expired (a payment after its hold ended), counted once per hold and order id; kept in the data directory across restarts.",
			func() float64 { return float64(s.reportTotals().PaidAfterExpiryTotal) }),
		counterFunc(shardapi.MetricWalDamagedRecordsTotal,
			"Damaged last log records dropped at start-up that may have been acknowledged; kept in the data directory across restarts.",
			func() float64 { return float64(s.reportTotals().LogWarningsTotal) }),
	}
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

func histogram(name, help string, buckets []float64) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
}

func gaugeFunc(name, help string, f func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

func counterFunc(name, help string, f func() float64) prometheus.CounterFunc {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
}

// fineBuckets resolve the parts of a write's time, from a microsecond of
// CPU to a second of stalled disk.
var fineBuckets = []float64{.000005, .00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// codeCounters are route's answers counted by status class, index = code/100.
func (m *metrics) codeCounters(route string) *[6]prometheus.Counter {
	var c [6]prometheus.Counter
	for i := 1; i <= 5; i++ {
		c[i] = m.requests.WithLabelValues(route, strconv.Itoa(i)+"xx")
	}
	c[0] = c[5]
	return &c
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// reportTotals are the durable totals (zero before recovery).
func (s *Server) reportTotals() reportState {
	r := s.rep.Load()
	if r == nil {
		return reportState{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return reportState{PaidAfterExpiryTotal: r.st.PaidAfterExpiryTotal, LogWarningsTotal: r.st.LogWarningsTotal}
}
