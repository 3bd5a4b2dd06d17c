package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"boxoffice.dev/boxoffice/controllers/specs"
	"boxoffice.dev/boxoffice/internal/canary"
	"boxoffice.dev/boxoffice/shard/shardapi"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/utils/ptr"
)

// ShardMetrics is what a rollout reads from a shard's /metrics.
type ShardMetrics struct {
	// Writes are holds and confirms answered, ServerErrors those of them
	// whose result is not a business answer of the shard contract.
	Writes, ServerErrors float64
	// HoldP99 is the 99th percentile of the hold route's latency; HoldCount
	// the number of hold requests it is computed from.
	HoldP99   time.Duration
	HoldCount float64
	// RecoverySeconds is the time the shard spent replaying its log.
	RecoverySeconds float64
}

// ShardProber reads what the rollout judges a shard and a front end on.
type ShardProber interface {
	Status(ctx context.Context, podIP, token string) (*shardapi.Status, error)
	Metrics(ctx context.Context, podIP string) (*ShardMetrics, error)
	FrontendMetrics(ctx context.Context, podIP string) (*FrontendMetrics, error)
}

// HTTPShardProber speaks to shards and front ends at their pod IP.
type HTTPShardProber struct {
	HTTP *http.Client
	// Port of the shard; tests point it at an httptest server.
	Port int
	// FrontendPort of the front end (its /metrics).
	FrontendPort int
}

// NewHTTPShardProber returns a prober with short timeouts.
func NewHTTPShardProber(port int) *HTTPShardProber {
	return &HTTPShardProber{HTTP: NewHTTPShardClient(port).HTTP, Port: port, FrontendPort: specs.FrontendPort}
}

func (p *HTTPShardProber) getPort(ctx context.Context, podIP string, port int, path, token string) ([]byte, error) {
	u := "http://" + net.JoinHostPort(podIP, strconv.Itoa(port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return body, nil
}

// Status implements ShardProber.
func (p *HTTPShardProber) Status(ctx context.Context, podIP, token string) (*shardapi.Status, error) {
	api := shardapi.Client{HTTP: p.HTTP, Token: token, MaxAnswer: 8 << 20}
	s, err := api.Status(ctx, shardBase(podIP, p.Port))
	if err != nil {
		return nil, err
	}
	if s.LogFormat == 0 {
		s.LogFormat = 1 // shards from before the field existed know format 1
	}
	return s, nil
}

// Metrics implements ShardProber.
func (p *HTTPShardProber) Metrics(ctx context.Context, podIP string) (*ShardMetrics, error) {
	api := shardapi.Client{HTTP: p.HTTP, MaxAnswer: 8 << 20}
	body, err := api.Metrics(ctx, shardBase(podIP, p.Port))
	if err != nil {
		return nil, err
	}
	return ParseShardMetrics(body)
}

// FrontendMetrics implements ShardProber.
func (p *HTTPShardProber) FrontendMetrics(ctx context.Context, podIP string) (*FrontendMetrics, error) {
	body, err := p.getPort(ctx, podIP, p.FrontendPort, "/metrics", "")
	if err != nil {
		return nil, err
	}
	return ParseFrontendMetrics(body)
}

// businessResults are the results of the shard contract that answer the
// buyer (a conflict, a bad request): the shard worked. Any other result label
// is a server error.
var businessResults = map[string]bool{
	shardapi.ResultOK: true, string(shardapi.CodeInvalidRequest): true, string(shardapi.CodeUnknownSeat): true,
	string(shardapi.CodeHoldNotFound): true, string(shardapi.CodeSeatsUnavailable): true,
	string(shardapi.CodeHoldExpired): true, string(shardapi.CodeHoldSold): true,
	string(shardapi.CodeTooManySeats): true, string(shardapi.CodeIdempotencyMismatch): true,
	// The waiting room refusing a hold or extension without a live admission.
	string(shardapi.CodeAdmissionRequired): true, string(shardapi.CodeAdmissionEnded): true,
	// An answer replayed from the idempotency table (a client retrying).
	shardapi.ResultReplay: true,
}

// Metric names the analysis reads.
const (
	metricHolds    = shardapi.MetricHoldsTotal
	metricConfirms = shardapi.MetricConfirmsTotal
	metricLatency  = shardapi.MetricRequestDurationSeconds
	metricRecovery = shardapi.MetricRecoveryDurationSeconds
)

// ParseShardMetrics reads the Prometheus text exposition of a shard.
func ParseShardMetrics(body []byte) (*ShardMetrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parsing /metrics: %w", err)
	}
	m := &ShardMetrics{}
	for _, name := range []string{metricHolds, metricConfirms} {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, s := range f.GetMetric() {
			v := s.GetCounter().GetValue()
			m.Writes += v
			if !businessResults[labelValue(s, "result")] {
				m.ServerErrors += v
			}
		}
	}
	if f := fams[metricLatency]; f != nil {
		for _, s := range f.GetMetric() {
			if labelValue(s, "route") != "hold" || s.GetHistogram() == nil {
				continue
			}
			h := s.GetHistogram()
			m.HoldCount = float64(h.GetSampleCount())
			m.HoldP99 = histogramQuantile(0.99, h)
		}
	}
	if f := fams[metricRecovery]; f != nil && len(f.GetMetric()) > 0 {
		m.RecoverySeconds = f.GetMetric()[0].GetGauge().GetValue()
	}
	return m, nil
}

// Front-end metric names the analysis reads.
const (
	metricFrontendRequests = "boxoffice_frontend_requests_total"
	metricFrontendRetries  = "boxoffice_frontend_upstream_retries_total"
	metricFrontendUpstream = "boxoffice_frontend_upstream_request_duration_seconds"
)

// FrontendMetrics is what a rollout reads from front-end pods' /metrics,
// summable over pods.
type FrontendMetrics struct {
	// Requests answered to buyers, ServerErrors those answered 5xx.
	Requests, ServerErrors float64
	// Retries of shard requests.
	Retries float64
	// Upstream is the shard request latency histogram of every operation:
	// cumulative counts by upper bound.
	Upstream map[float64]float64
	// UpstreamCount is the number of shard requests measured.
	UpstreamCount float64
}

// ParseFrontendMetrics reads the Prometheus text exposition of a front end.
func ParseFrontendMetrics(body []byte) (*FrontendMetrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parsing /metrics: %w", err)
	}
	m := &FrontendMetrics{Upstream: map[float64]float64{}}
	if f := fams[metricFrontendRequests]; f != nil {
		for _, s := range f.GetMetric() {
			v := s.GetCounter().GetValue()
			m.Requests += v
			if strings.HasPrefix(labelValue(s, "result"), "5") {
				m.ServerErrors += v
			}
		}
	}
	if f := fams[metricFrontendRetries]; f != nil {
		for _, s := range f.GetMetric() {
			m.Retries += s.GetCounter().GetValue()
		}
	}
	if f := fams[metricFrontendUpstream]; f != nil {
		for _, s := range f.GetMetric() {
			h := s.GetHistogram()
			if h == nil {
				continue
			}
			m.UpstreamCount += float64(h.GetSampleCount())
			for _, b := range h.GetBucket() {
				m.Upstream[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
	}
	return m, nil
}

// Add sums another pod's metrics into m.
func (m *FrontendMetrics) Add(o *FrontendMetrics) {
	m.Requests += o.Requests
	m.ServerErrors += o.ServerErrors
	m.Retries += o.Retries
	m.UpstreamCount += o.UpstreamCount
	if m.Upstream == nil {
		m.Upstream = map[float64]float64{}
	}
	for le, n := range o.Upstream {
		m.Upstream[le] += n
	}
}

// Sample is what the verdict arithmetic judges: the p99 of the merged
// shard latency histogram, interpolated as histogram_quantile does.
func (m *FrontendMetrics) Sample() canary.FrontendSample {
	h := &dto.Histogram{}
	count := uint64(m.UpstreamCount)
	h.SampleCount = &count
	for le, n := range m.Upstream {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: ptr.To(le), CumulativeCount: ptr.To(uint64(n))})
	}
	return canary.FrontendSample{
		Requests: m.Requests, ServerErrors: m.ServerErrors, Retries: m.Retries,
		UpstreamCount: m.UpstreamCount, UpstreamP99: histogramQuantile(0.99, h),
	}
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// histogramQuantile interpolates linearly inside the bucket that holds the
// quantile, as PromQL's histogram_quantile does. A quantile in the +Inf
// bucket is reported as the highest finite bound.
func histogramQuantile(q float64, h *dto.Histogram) time.Duration {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return 0
	}
	type bucket struct{ upper, count float64 }
	var bs []bucket
	for _, b := range h.GetBucket() {
		bs = append(bs, bucket{b.GetUpperBound(), float64(b.GetCumulativeCount())})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].upper < bs[j].upper })
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.upper, 1) {
				return seconds(lower)
			}
			if b.count == below {
				return seconds(b.upper)
			}
			return seconds(lower + (b.upper-lower)*(rank-below)/(b.count-below))
		}
		lower, below = b.upper, b.count
	}
	return seconds(lower)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// PrometheusQuerier runs an instant query and returns the first sample's value.
type PrometheusQuerier interface {
	Query(ctx context.Context, baseURL, query string) (float64, error)
}

// HTTPPrometheus queries Prometheus's HTTP API.
type HTTPPrometheus struct{ HTTP *http.Client }

// Query implements PrometheusQuerier.
func (p HTTPPrometheus) Query(ctx context.Context, baseURL, query string) (float64, error) {
	hc := p.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	u := strings.TrimRight(baseURL, "/") + "/api/v1/query?query=" + url.QueryEscape(query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
		return 0, fmt.Errorf("decoding the answer: %w", err)
	}
	if out.Status != "success" {
		return 0, fmt.Errorf("query failed: %s", out.Error)
	}
	var pair []any
	switch out.Data.ResultType {
	case "scalar":
		if err := json.Unmarshal(out.Data.Result, &pair); err != nil {
			return 0, err
		}
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(out.Data.Result, &vec); err != nil {
			return 0, err
		}
		if len(vec) == 0 {
			return 0, errors.New("the query returned no sample")
		}
		pair = vec[0].Value
	default:
		return 0, fmt.Errorf("unsupported result type %q", out.Data.ResultType)
	}
	if len(pair) != 2 {
		return 0, errors.New("malformed sample")
	}
	s, _ := pair[1].(string)
	return strconv.ParseFloat(s, 64)
}
