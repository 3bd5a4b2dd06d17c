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
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
	}
	m.streams = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "streams_connected",
		Help: "Browser event streams connected to this pod."}, streams)
	m.streamsDropped = counter("streams_dropped_total",
		"Browser streams disconnected because their buffer was full.")
	m.streamResumes = counterVec("stream_resumes_total",
		"Browser streams that came back with Last-Event-ID, by how they were served (frames or snapshot).", "from")
	m.requests = counterVec("requests_total",
		"Buyer API requests by route and result (HTTP status, or error code).", "route", "result")
	m.upstreamLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "upstream_request_duration_seconds",
		Help:    "Latency of one request to the shard, by operation and status (error when none).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"op", "status"})
	m.upstreamRetries = counterVec("upstream_retries_total",
		"Shard requests retried because the shard was unreachable or not ready.", "op")
	m.upstreamConnected = gauge("upstream_stream_connected",
		"1 while the event stream from the shard is connected.")
	m.upstreamReconnects = counter("upstream_stream_reconnects_total",
		"Times the event stream from the shard was re-established.")
	m.upstreamEvents = counterVec("upstream_events_total",
		"Events received from the shard, by type.", "event")
	m.fanoutDelay = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "fanout_delay_seconds",
		Help:    "Time from a change reaching this pod to its write to a browser stream.",
		Buckets: []float64{.005, .01, .025, .05, .1, .15, .2, .3, .5, 1, 2, 5}})
	m.seatVersion = gauge("seat_version",
		"Seat-map version of this pod's in-memory copy.")
	m.rateLimited = counter("rate_limited_total",
		"Requests refused by the per-client rate limit.")
	m.sessionsLimited = counter("new_sessions_limited_total",
		"New session cookies refused by the per-address limit (API requests answered 429, pages served without a cookie).")
	m.refused = counterVec("requests_refused_total",
		"Buyer requests refused by a guard, by reason (client_seats, client_streams, cross_origin, content_type).", "reason")
	m.paidAfterExpiry = counter("paid_after_expiry_total",
		"Payments whose callback arrived after their hold expired (the payment service was told to refund), once per hold and order on this pod.")
	m.paidWithoutSeat = counterVec("paid_without_seat_total",
		"Paid callbacks that could not be confirmed and were answered final with action refund, by the shard's error code.", "reason")
	m.reg.MustRegister(m.refused, m.paidAfterExpiry, m.paidWithoutSeat,
		m.streams, m.streamsDropped, m.streamResumes, m.requests, m.upstreamLatency,
		m.upstreamRetries, m.upstreamConnected, m.upstreamReconnects, m.upstreamEvents, m.fanoutDelay,
		m.seatVersion, m.rateLimited, m.sessionsLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
