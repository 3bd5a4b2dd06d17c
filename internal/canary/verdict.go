package canary

import (
	"fmt"
	"strconv"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

// Reasons of an Inconclusive check, used as the condition's reason.
const (
	ReasonTooFewWrites          = "TooFewWrites"
	ReasonTooFewHolds           = "TooFewHolds"
	ReasonTooFewRequests        = "TooFewRequests"
	ReasonPrometheusUnavailable = "PrometheusUnavailable"
)

// Check is the outcome of one check: its result, what it found (for
// people) and, when not Passed, a one-word reason.
type Check struct {
	Result boxv1.AnalysisResult
	Reason string
	Note   string
}

func passed(format string, args ...any) Check {
	return Check{Result: boxv1.AnalysisPassed, Note: fmt.Sprintf(format, args...)}
}

func failed(reason, format string, args ...any) Check {
	return Check{Result: boxv1.AnalysisFailed, Reason: reason, Note: fmt.Sprintf(format, args...)}
}

func inconclusive(reason, format string, args ...any) Check {
	return Check{Result: boxv1.AnalysisInconclusive, Reason: reason, Note: fmt.Sprintf(format, args...)}
}

// Verdict folds checks into one result: Failed when any failed (the notes
// are then the failing check's alone), else Inconclusive when any had too
// little evidence, else Passed. reason is the first failing or inconclusive
// check's reason. No checks at all is Passed: there was nothing to judge.
func Verdict(checks []Check) (result boxv1.AnalysisResult, reason string, notes []string) {
	for _, c := range checks {
		if c.Result == boxv1.AnalysisFailed {
			return boxv1.AnalysisFailed, c.Reason, []string{c.Note}
		}
	}
	result = boxv1.AnalysisPassed
	for _, c := range checks {
		if c.Note != "" {
			notes = append(notes, c.Note)
		}
		if c.Result == boxv1.AnalysisInconclusive && result != boxv1.AnalysisInconclusive {
			result, reason = boxv1.AnalysisInconclusive, c.Reason
		}
	}
	return result, reason, notes
}

// ShardSample is what an upgraded shard's /metrics says.
type ShardSample struct {
	// Writes are holds and confirms answered; ServerErrors those of them
	// that are not business answers of the shard contract.
	Writes, ServerErrors float64
	// HoldCount holds measured; HoldP99 their 99th percentile.
	HoldCount float64
	HoldP99   time.Duration
}

// ShardLimits are the thresholds a shard is judged against.
type ShardLimits struct {
	MaxErrorRatio   float64
	MinWrites       float64
	MaxLatencyRatio float64
	LatencyFloor    time.Duration
	// StableP99 is the stable shards' p99 hold latency; 0 when unknown.
	StableP99 time.Duration
}

// JudgeShard checks the write error ratio and the p99 hold latency. Fewer
// writes (or holds) than MinWrites is Inconclusive: no evidence, no pass.
func JudgeShard(m ShardSample, l ShardLimits) []Check {
	var out []Check
	if m.Writes < l.MinWrites {
		out = append(out, inconclusive(ReasonTooFewWrites, "%.0f writes, fewer than the %.0f needed to judge the error ratio", m.Writes, l.MinWrites))
	} else if ratio := m.ServerErrors / m.Writes; ratio > l.MaxErrorRatio {
		out = append(out, failed("WriteErrors", "write error ratio %.3f (%.0f server errors in %.0f holds and confirms) above %s",
			ratio, m.ServerErrors, m.Writes, decimal(l.MaxErrorRatio)))
	} else {
		out = append(out, passed("write errors %.0f/%.0f", m.ServerErrors, m.Writes))
	}
	switch {
	case m.HoldCount < l.MinWrites:
		out = append(out, inconclusive(ReasonTooFewHolds, "%.0f holds, fewer than the %.0f needed to judge the p99 hold latency", m.HoldCount, l.MinWrites))
	case l.StableP99 <= 0:
		out = append(out, passed("p99 hold %s (no stable baseline)", Round(m.HoldP99)))
	default:
		limit := max(time.Duration(float64(l.StableP99)*l.MaxLatencyRatio), l.LatencyFloor)
		if m.HoldP99 > limit {
			out = append(out, failed("HoldLatency", "p99 hold latency %s above %s (%s x stable p99 %s, floor %s)",
				Round(m.HoldP99), Round(limit), decimal(l.MaxLatencyRatio), Round(l.StableP99), l.LatencyFloor))
		} else {
			out = append(out, passed("p99 hold %s (stable %s)", Round(m.HoldP99), Round(l.StableP99)))
		}
	}
	return out
}

// JudgePrometheus judges the optional query: Failed above the threshold; a
// query that could not run (err) is Inconclusive, never a pass.
func JudgePrometheus(value float64, err error, threshold float64, thresholdText string) Check {
	switch {
	case err != nil:
		return inconclusive(ReasonPrometheusUnavailable, "prometheus check not run: %v", err)
	case value > threshold:
		return failed("PrometheusThreshold", "prometheus query value %g above threshold %s", value, thresholdText)
	default:
		return passed("prometheus %g <= %s", value, thresholdText)
	}
}

// FrontendSample is what the front-end pods of one showtime (on one
// version) say in their /metrics, summed over the pods.
type FrontendSample struct {
	// Requests answered to buyers; ServerErrors those answered 5xx.
	Requests, ServerErrors float64
	// Retries of shard requests (the shard unreachable or not ready).
	Retries float64
	// UpstreamCount shard requests measured; UpstreamP99 their p99.
	UpstreamCount float64
	UpstreamP99   time.Duration
}

// FrontendLimits are the thresholds a front end is judged against.
type FrontendLimits struct {
	MinRequests     float64
	MaxErrorRatio   float64
	MaxRetryRatio   float64
	MaxLatencyRatio float64
	LatencyFloor    time.Duration
	// Stable is the front ends still on the stable version; nil when none
	// could be read (ratios are then judged against the thresholds alone).
	Stable *FrontendSample
}

// JudgeFrontend checks an upgraded front end's answer error ratio, its
// shard retries per request and its p99 shard latency against the stable
// front ends'. A ratio above its threshold fails only when it is also worse
// than the stable version's (a shard in trouble raises both alike). Fewer
// requests than MinRequests is Inconclusive.
func JudgeFrontend(c FrontendSample, l FrontendLimits) []Check {
	if c.Requests < l.MinRequests {
		return []Check{inconclusive(ReasonTooFewRequests, "front end answered %.0f buyer requests, fewer than the %.0f needed to judge it", c.Requests, l.MinRequests)}
	}
	var out []Check
	stable := func(f func(FrontendSample) float64) (float64, string) {
		if l.Stable == nil || l.Stable.Requests == 0 {
			return -1, "no stable baseline"
		}
		v := f(*l.Stable)
		return v, "stable " + strconv.FormatFloat(v, 'f', 3, 64)
	}
	ratio := c.ServerErrors / c.Requests
	sv, sNote := stable(func(s FrontendSample) float64 { return s.ServerErrors / s.Requests })
	if ratio > l.MaxErrorRatio && ratio > sv {
		out = append(out, failed("FrontendErrors", "front-end answer error ratio %.3f (%.0f 5xx in %.0f requests) above %s (%s)",
			ratio, c.ServerErrors, c.Requests, decimal(l.MaxErrorRatio), sNote))
	} else {
		out = append(out, passed("front-end 5xx %.0f/%.0f", c.ServerErrors, c.Requests))
	}
	retries := c.Retries / c.Requests
	sv, sNote = stable(func(s FrontendSample) float64 { return s.Retries / s.Requests })
	if retries > l.MaxRetryRatio && retries > sv {
		out = append(out, failed("FrontendRetries", "front-end shard retries %.3f per request (%.0f in %.0f requests) above %s (%s)",
			retries, c.Retries, c.Requests, decimal(l.MaxRetryRatio), sNote))
	} else {
		out = append(out, passed("front-end retries %.0f", c.Retries))
	}
	if l.Stable != nil && l.Stable.UpstreamCount > 0 && c.UpstreamCount > 0 {
		limit := max(time.Duration(float64(l.Stable.UpstreamP99)*l.MaxLatencyRatio), l.LatencyFloor)
		if c.UpstreamP99 > limit {
			out = append(out, failed("FrontendLatency", "front-end p99 shard latency %s above %s (%s x stable p99 %s, floor %s)",
				Round(c.UpstreamP99), Round(limit), decimal(l.MaxLatencyRatio), Round(l.Stable.UpstreamP99), l.LatencyFloor))
		} else {
			out = append(out, passed("front-end p99 %s (stable %s)", Round(c.UpstreamP99), Round(l.Stable.UpstreamP99)))
		}
	} else if c.UpstreamCount > 0 {
		out = append(out, passed("front-end p99 %s (no stable baseline)", Round(c.UpstreamP99)))
	}
	return out
}

// Round shortens a duration for people: ms precision above a second, 10µs
// above a millisecond, µs below.
func Round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func decimal(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
