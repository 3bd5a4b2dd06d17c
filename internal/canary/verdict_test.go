package canary

import (
	"errors"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

var shardLimits = ShardLimits{MaxErrorRatio: 0.01, MinWrites: 10, MaxLatencyRatio: 2, LatencyFloor: 25 * time.Millisecond, StableP99: 20 * time.Millisecond}

func TestJudgeShard(t *testing.T) {
	cases := []struct {
		name   string
		m      ShardSample
		l      ShardLimits
		want   boxv1.AnalysisResult
		reason string
		note   string
	}{
		{"healthy", ShardSample{Writes: 150, HoldCount: 100, HoldP99: 3 * time.Millisecond}, shardLimits,
			boxv1.AnalysisPassed, "", "write errors 0/150; p99 hold 3ms (stable 20ms)"},
		{"no writes at all is no evidence", ShardSample{}, shardLimits,
			boxv1.AnalysisInconclusive, ReasonTooFewWrites, "0 writes, fewer than the 10 needed to judge the error ratio"},
		{"fewer writes than the minimum", ShardSample{Writes: 9, HoldCount: 9}, shardLimits,
			boxv1.AnalysisInconclusive, ReasonTooFewWrites, "9 writes, fewer than the 10"},
		{"exactly the minimum is judged", ShardSample{Writes: 10, HoldCount: 10, HoldP99: time.Millisecond}, shardLimits,
			boxv1.AnalysisPassed, "", "write errors 0/10"},
		{"enough writes, too few holds", ShardSample{Writes: 50, HoldCount: 3, HoldP99: time.Millisecond}, shardLimits,
			boxv1.AnalysisInconclusive, ReasonTooFewHolds, "3 holds, fewer than the 10"},
		{"errors fail even with too few holds", ShardSample{Writes: 50, ServerErrors: 5, HoldCount: 3}, shardLimits,
			boxv1.AnalysisFailed, "WriteErrors", "write error ratio 0.100 (5 server errors in 50 holds and confirms) above 0.01"},
		{"ratio at the limit passes", ShardSample{Writes: 100, ServerErrors: 1, HoldCount: 100, HoldP99: time.Millisecond}, shardLimits,
			boxv1.AnalysisPassed, "", "write errors 1/100"},
		{"slow above ratio x stable", ShardSample{Writes: 100, HoldCount: 100, HoldP99: 41 * time.Millisecond}, shardLimits,
			boxv1.AnalysisFailed, "HoldLatency", "p99 hold latency 41ms above 40ms (2 x stable p99 20ms, floor 25ms)"},
		{"slow but under the floor", ShardSample{Writes: 100, HoldCount: 100, HoldP99: 24 * time.Millisecond},
			ShardLimits{MaxErrorRatio: 0.01, MinWrites: 10, MaxLatencyRatio: 2, LatencyFloor: 25 * time.Millisecond, StableP99: time.Millisecond},
			boxv1.AnalysisPassed, "", "p99 hold 24ms (stable 1ms)"},
		{"no baseline", ShardSample{Writes: 100, HoldCount: 100, HoldP99: time.Second},
			ShardLimits{MaxErrorRatio: 0.01, MinWrites: 10, MaxLatencyRatio: 2},
			boxv1.AnalysisPassed, "", "p99 hold 1s (no stable baseline)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason, notes := Verdict(JudgeShard(c.m, c.l))
			msg := strings.Join(notes, "; ")
			if got != c.want || reason != c.reason || !strings.Contains(msg, c.note) {
				t.Fatalf("got %s (%s) %q; want %s (%s) containing %q", got, reason, msg, c.want, c.reason, c.note)
			}
		})
	}
}

func TestJudgePrometheus(t *testing.T) {
	cases := []struct {
		name string
		v    float64
		err  error
		want boxv1.AnalysisResult
		note string
		reas string
	}{
		{"under", 0.1, nil, boxv1.AnalysisPassed, "prometheus 0.1 <= 0.5", ""},
		{"at", 0.5, nil, boxv1.AnalysisPassed, "prometheus 0.5 <= 0.5", ""},
		{"over", 0.9, nil, boxv1.AnalysisFailed, "prometheus query value 0.9 above threshold 0.5", "PrometheusThreshold"},
		{"cannot run: inconclusive, never passed", 0, errors.New("the query returned no sample"), boxv1.AnalysisInconclusive,
			"prometheus check not run: the query returned no sample", ReasonPrometheusUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := JudgePrometheus(c.v, c.err, 0.5, "0.5")
			if got.Result != c.want || got.Note != c.note || got.Reason != c.reas {
				t.Fatalf("got %+v; want %s %q %q", got, c.want, c.note, c.reas)
			}
		})
	}
}

func TestJudgeFrontend(t *testing.T) {
	stable := &FrontendSample{Requests: 1000, ServerErrors: 2, Retries: 10, UpstreamCount: 1000, UpstreamP99: 10 * time.Millisecond}
	limits := func(s *FrontendSample) FrontendLimits {
		return FrontendLimits{MinRequests: 20, MaxErrorRatio: 0.01, MaxRetryRatio: 0.05, MaxLatencyRatio: 2, LatencyFloor: 25 * time.Millisecond, Stable: s}
	}
	cases := []struct {
		name   string
		c      FrontendSample
		l      FrontendLimits
		want   boxv1.AnalysisResult
		reason string
		note   string
	}{
		{"healthy", FrontendSample{Requests: 100, UpstreamCount: 100, UpstreamP99: 12 * time.Millisecond}, limits(stable),
			boxv1.AnalysisPassed, "", "front-end 5xx 0/100; front-end retries 0; front-end p99 12ms (stable 10ms)"},
		{"too few requests", FrontendSample{Requests: 19, ServerErrors: 19}, limits(stable),
			boxv1.AnalysisInconclusive, ReasonTooFewRequests, "front end answered 19 buyer requests, fewer than the 20"},
		{"answers 5xx", FrontendSample{Requests: 100, ServerErrors: 30}, limits(stable),
			boxv1.AnalysisFailed, "FrontendErrors", "front-end answer error ratio 0.300 (30 5xx in 100 requests) above 0.01 (stable 0.002)"},
		{"5xx but the stable ones as bad", FrontendSample{Requests: 100, ServerErrors: 30},
			limits(&FrontendSample{Requests: 100, ServerErrors: 40}), boxv1.AnalysisPassed, "", "front-end 5xx 30/100"},
		{"5xx without a baseline", FrontendSample{Requests: 100, ServerErrors: 30}, limits(nil),
			boxv1.AnalysisFailed, "FrontendErrors", "(no stable baseline)"},
		{"retries storm", FrontendSample{Requests: 100, Retries: 60}, limits(stable),
			boxv1.AnalysisFailed, "FrontendRetries", "front-end shard retries 0.600 per request (60 in 100 requests) above 0.05 (stable 0.010)"},
		{"slow against stable", FrontendSample{Requests: 100, UpstreamCount: 100, UpstreamP99: 80 * time.Millisecond}, limits(stable),
			boxv1.AnalysisFailed, "FrontendLatency", "front-end p99 shard latency 80ms above 25ms (2 x stable p99 10ms, floor 25ms)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason, notes := Verdict(JudgeFrontend(c.c, c.l))
			msg := strings.Join(notes, "; ")
			if got != c.want || reason != c.reason || !strings.Contains(msg, c.note) {
				t.Fatalf("got %s (%s) %q; want %s (%s) containing %q", got, reason, msg, c.want, c.reason, c.note)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	p := Check{Result: boxv1.AnalysisPassed, Note: "ok"}
	i := Check{Result: boxv1.AnalysisInconclusive, Reason: "TooFewWrites", Note: "few"}
	i2 := Check{Result: boxv1.AnalysisInconclusive, Reason: "PrometheusUnavailable", Note: "no prom"}
	f := Check{Result: boxv1.AnalysisFailed, Reason: "WriteErrors", Note: "bad"}
	cases := []struct {
		name   string
		in     []Check
		want   boxv1.AnalysisResult
		reason string
		notes  string
	}{
		{"nothing to judge", nil, boxv1.AnalysisPassed, "", ""},
		{"all passed", []Check{p, p}, boxv1.AnalysisPassed, "", "ok; ok"},
		{"one inconclusive never passes", []Check{p, i}, boxv1.AnalysisInconclusive, "TooFewWrites", "ok; few"},
		{"first inconclusive reason", []Check{i2, i}, boxv1.AnalysisInconclusive, "PrometheusUnavailable", "no prom; few"},
		{"failed wins, alone in notes", []Check{i, p, f}, boxv1.AnalysisFailed, "WriteErrors", "bad"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason, notes := Verdict(c.in)
			if got != c.want || reason != c.reason || strings.Join(notes, "; ") != c.notes {
				t.Fatalf("got %s %s %q", got, reason, notes)
			}
		})
	}
}
