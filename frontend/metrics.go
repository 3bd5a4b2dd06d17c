package frontend

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	reg                *prometheus.Registry
	streams            prometheus.GaugeFunc
	streamsDropped     prometheus.Counter
	streamResumes      *prometheus.CounterVec
	requests           *prometheus.CounterVec
	upstreamLatency    *prometheus.HistogramVec
	upstreamRetries    *prometheus.CounterVec
	upstreamHedges     *prometheus.CounterVec
	upstreamLeaderAsks prometheus.Counter
	upstreamConnected  prometheus.Gauge
	upstreamReconnects prometheus.Counter
	upstreamEvents     *prometheus.CounterVec
	fanoutDelay        prometheus.Histogram
	seatVersion        prometheus.Gauge
	rateLimited        prometheus.Counter
	sessionsLimited    prometheus.Counter
	refused            *prometheus.CounterVec
	paidAfterExpiry    prometheus.Counter
	paidWithoutSeat    *prometheus.CounterVec
}

func newMetrics(streams func() float64) *metrics {
	const ns = "boxoffice_frontend"
	m := &metrics{reg: prometheus.NewRegistry()}
	m.streams = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "streams_connected",
		Help: "Browser event streams connected to this pod."}, streams)
	m.streamsDropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "streams_dropped_total",
		Help: "Browser streams disconnected because their buffer was full."})
	m.streamResumes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "stream_resumes_total",
		Help: "Browser streams that came back with Last-Event-ID, by how they were served (frames or snapshot)."}, []string{"from"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
		Help: "Buyer API requests by route and result (HTTP status, or error code)."}, []string{"route", "result"})
	m.upstreamLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "upstream_request_duration_seconds",
		Help:    "Latency of one request to the shard, by operation and status (error when none).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"op", "status"})
	m.upstreamRetries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_retries_total",
		Help: "Shard requests retried because the shard was unreachable or not ready."}, []string{"op"})
	m.upstreamHedges = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_hedged_writes_total",
		Help: "Write tries abandoned on a leader that stopped answering and sent, with the same Idempotency-Key, to the member that leads in a newer term."}, []string{"op"})
	m.upstreamLeaderAsks = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "upstream_leader_asks_total",
		Help: "Rounds of GET /v1/status to the other shard members made while a write try to the believed leader had not answered."})
	m.upstreamConnected = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "upstream_stream_connected",
		Help: "1 while the event stream from the shard is connected."})
	m.upstreamReconnects = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "upstream_stream_reconnects_total",
		Help: "Times the event stream from the shard was re-established."})
	m.upstreamEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_events_total",
		Help: "Events received from the shard, by type."}, []string{"event"})
	m.fanoutDelay = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "fanout_delay_seconds",
		Help:    "Time from a change reaching this pod to its write to a browser stream.",
		Buckets: []float64{.005, .01, .025, .05, .1, .15, .2, .3, .5, 1, 2, 5}})
	m.seatVersion = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "seat_version",
		Help: "Seat-map version of this pod's in-memory copy."})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rate_limited_total",
		Help: "Requests refused by the per-client rate limit."})
	m.sessionsLimited = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "new_sessions_limited_total",
		Help: "New session cookies refused by the per-address limit (API requests answered 429, pages served without a cookie)."})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_refused_total",
		Help: "Buyer requests refused by a guard, by reason (client_seats, client_streams, cross_origin, content_type)."}, []string{"reason"})
	m.paidAfterExpiry = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "paid_after_expiry_total",
		Help: "Payments whose callback arrived after their hold expired (the payment service was told to refund), once per hold and order on this pod."})
	m.paidWithoutSeat = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "paid_without_seat_total",
		Help: "Paid callbacks that could not be confirmed and were answered final with action refund, by the shard's error code."}, []string{"reason"})
	m.reg.MustRegister(m.refused, m.paidAfterExpiry, m.paidWithoutSeat,
		m.streams, m.streamsDropped, m.streamResumes, m.requests, m.upstreamLatency,
		m.upstreamRetries, m.upstreamHedges, m.upstreamLeaderAsks, m.upstreamConnected, m.upstreamReconnects, m.upstreamEvents, m.fanoutDelay,
		m.seatVersion, m.rateLimited, m.sessionsLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
