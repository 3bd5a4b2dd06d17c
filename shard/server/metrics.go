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
	reg        *prometheus.Registry
	holds      *prometheus.CounterVec
	confirms   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	requests   *prometheus.CounterVec
	fsync      prometheus.Histogram
	groupSize  prometheus.Histogram
	batchSize  prometheus.Histogram
	queueWait  prometheus.Histogram
	applyTime  prometheus.Histogram
	commitWait prometheus.Histogram
	recovery   prometheus.Gauge
	epoch      prometheus.Gauge
	streamDrop prometheus.Counter
	snapshots  *prometheus.CounterVec
	early      prometheus.Counter

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
	m.holds = prometheus.NewCounterVec(prometheus.CounterOpts{Name: shardapi.MetricHoldsTotal,
		Help: "Hold requests answered by the state machine, by result (replay: answered again from the idempotency table)."}, []string{"result"})
	m.confirms = prometheus.NewCounterVec(prometheus.CounterOpts{Name: shardapi.MetricConfirmsTotal,
		Help: "Confirm requests answered by the state machine, by result (replay: answered again from the idempotency table)."}, []string{"result"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: shardapi.MetricRequestDurationSeconds,
		Help:    "HTTP request latency by route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}, []string{"route"})
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricWalFsyncDurationSeconds,
		Help:    "Time to write and fsync one group of log records.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5}})
	m.groupSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricWalGroupSize,
		Help: "Commands per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricBatchOperations,
		Help: "Operations per POST /v2/batch request.", Buckets: prometheus.ExponentialBuckets(1, 2, 9)})
	m.queueWait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricWriterQueueWaitSeconds,
		Help:    "Time a write waits from its handler handing it over until the writer (in cluster mode the Raft loop) takes it: CPU contention and writer backlog.",
		Buckets: fineBuckets})
	m.applyTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricWriterApplySeconds,
		Help:    "Time the writer spends applying one command to the seat map and framing its log record (single mode).",
		Buckets: fineBuckets})
	m.commitWait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: shardapi.MetricWriterCommitWaitSeconds,
		Help:    "Time from a command's apply until it is answered: waiting for the group in progress plus its own group's write and fsync (single mode).",
		Buckets: fineBuckets})
	m.recovery = prometheus.NewGauge(prometheus.GaugeOpts{Name: shardapi.MetricRecoveryDurationSeconds,
		Help: "Time spent loading the snapshot and replaying the log at start-up."})
	m.epoch = prometheus.NewGauge(prometheus.GaugeOpts{Name: shardapi.MetricEpoch,
		Help: "Owner epoch of this shard process (incremented on every start)."})
	m.streamDrop = prometheus.NewCounter(prometheus.CounterOpts{Name: shardapi.MetricStreamClientsDroppedTotal,
		Help: "Event-stream clients disconnected for falling behind or writing too slowly."})
	m.snapshots = prometheus.NewCounterVec(prometheus.CounterOpts{Name: shardapi.MetricSnapshotsTotal,
		Help: "Snapshots written, by result."}, []string{"result"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: shardapi.MetricRequestsTotal,
		Help: "HTTP answers by route and status class (2xx, 4xx, 5xx): 5xx on write routes is the write error ratio."},
		[]string{"route", "code"})
	m.reg.MustRegister(m.requests)
	m.early = prometheus.NewCounter(prometheus.CounterOpts{Name: shardapi.MetricEarlyConflictsTotal,
		Help: "Conflicts answered before the group's fsync because they read only seats already on disk."})
	m.reg.MustRegister(m.early)
	for st := seats.Free; st <= seats.Sold; st++ {
		st := st
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricSeats,
			Help: "Seats by state (durable view).", ConstLabels: prometheus.Labels{"state": st.String()}},
			func() float64 { _, c := s.hub.snapshotCounts(); return float64(c[st]) }))
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricStreamClients,
			Help: "Connected event-stream clients."}, func() float64 { return float64(s.hub.clientCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricWalBytes,
			Help: "Bytes in log segments."}, func() float64 {
			if l := s.walLog.Load(); l != nil {
				return float64(l.Bytes())
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricVersion,
			Help: "Durable seat-map version."}, func() float64 { v, _ := s.hub.snapshotCounts(); return float64(v) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricReady,
			Help: "1 when the shard accepts writes (0 while starting or stopping, while a log write is stalled, or when the data volume is full)."},
			func() float64 { return b2f(s.Ready()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricWalWriteStalled,
			Help: "1 while a log write (one group's write and fsync) has run longer than the stall timeout: the shard is not ready."},
			func() float64 { return b2f(s.stalledFor() > 0) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricWalWriteAgeSeconds,
			Help: "How long the log write in progress has run (0 when none is)."}, func() float64 {
			if t := s.writeStart.Load(); t != 0 {
				return time.Since(time.Unix(0, t)).Seconds()
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricVolumeFreeBytes,
			Help: "Free space on the data volume (-1 unknown)."}, func() float64 { return float64(s.freeBytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricVolumeLow,
			Help: "1 when the data volume has less than two log segments' worth free: new segments are not reserved."},
			func() float64 { return b2f(s.lowSpace.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: shardapi.MetricVolumeFull,
			Help: "1 when the data volume is below the free space writes need: writes are refused (503) and the shard is not ready."},
			func() float64 { return b2f(s.fullSpace.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: shardapi.MetricPaidAfterExpiryTotal,
			Help: "Confirms with an order id answered hold_expired (a payment after its hold ended), counted once per hold and order id; kept in the data directory across restarts."},
			func() float64 { return float64(s.reportTotals().PaidAfterExpiryTotal) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: shardapi.MetricWalDamagedRecordsTotal,
			Help: "Damaged last log records dropped at start-up that may have been acknowledged; kept in the data directory across restarts."},
			func() float64 { return float64(s.reportTotals().LogWarningsTotal) }),
		m.holds, m.confirms, m.latency, m.fsync, m.groupSize, m.batchSize, m.queueWait, m.applyTime, m.commitWait, m.recovery, m.epoch, m.streamDrop, m.snapshots,
		// go_sched_latencies_seconds: how long goroutines wait runnable
		// for a CPU; with the writer histograms it tells CPU starvation
		// from the shard's own work.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)})),
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
