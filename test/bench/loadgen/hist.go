package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Hist is one Prometheus histogram as scraped: cumulative counts per upper
// bound (the last bound is +Inf), the sample count and sum.
type Hist struct {
	Upper []float64
	Cum   []float64
	Count float64
	Sum   float64
}

// Sub is h minus an earlier scrape of the same histogram: what was observed
// between the two. A histogram that was not there before is taken whole.
func (h Hist) Sub(prev Hist) Hist {
	if len(prev.Cum) != len(h.Cum) {
		return h
	}
	d := Hist{Upper: h.Upper, Cum: make([]float64, len(h.Cum)), Count: h.Count - prev.Count, Sum: h.Sum - prev.Sum}
	for i := range h.Cum {
		d.Cum[i] = h.Cum[i] - prev.Cum[i]
	}
	return d
}

// Add merges another member's histogram with the same buckets into h.
func (h Hist) Add(o Hist) Hist {
	if len(h.Cum) == 0 {
		return o
	}
	if len(o.Cum) != len(h.Cum) {
		return h
	}
	s := Hist{Upper: h.Upper, Cum: make([]float64, len(h.Cum)), Count: h.Count + o.Count, Sum: h.Sum + o.Sum}
	for i := range h.Cum {
		s.Cum[i] = h.Cum[i] + o.Cum[i]
	}
	return s
}

// Quantile estimates the q-quantile as Prometheus's histogram_quantile
// does: linear interpolation inside the bucket holding the rank, the first
// bucket starting at 0, a rank in the +Inf bucket answered with the highest
// finite bound. NaN when nothing was observed.
func (h Hist) Quantile(q float64) float64 {
	if h.Count <= 0 || len(h.Cum) == 0 {
		return math.NaN()
	}
	rank := q * h.Count
	i := sort.SearchFloat64s(h.Cum, rank)
	if i >= len(h.Cum) {
		i = len(h.Cum) - 1
	}
	if math.IsInf(h.Upper[i], 1) {
		if i == 0 {
			return math.NaN()
		}
		return h.Upper[i-1]
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h.Upper[i-1], h.Cum[i-1]
	}
	in := h.Cum[i] - below
	if in <= 0 {
		return h.Upper[i]
	}
	return lower + (h.Upper[i]-lower)*(rank-below)/in
}

// TimeOver is a lower bound, in the histogram's unit, on the time its
// observations lasted beyond over: each observation in a bucket whose lower
// bound is at or above over counts as that bound minus over. For fsyncs and
// over = 5 ms, it is time during which a write that arrived would have
// waited more than 5 ms for an fsync already under way.
func (h Hist) TimeOver(over float64) float64 {
	t := 0.0
	for i := 1; i < len(h.Cum); i++ {
		if lo := h.Upper[i-1]; lo >= over {
			t += (h.Cum[i] - h.Cum[i-1]) * (lo - over)
		}
	}
	return t
}

// Dist summarises a histogram for the report: count, mean, p50 and p99, in
// the histogram's unit times scale (1000 for seconds shown as ms).
type Dist struct {
	N    float64 `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	// Over is the share of observations above the highest finite bound
	// (the p99 is then a lower bound).
	Over float64 `json:"over,omitempty"`
	// MaxLo and MaxHi bound the largest observation: the bucket it fell in.
	// Above the highest finite bound, MaxAbove is set and MaxHi is 0 (JSON
	// has no +Inf: a Dist travels from a run to the report as JSON).
	MaxLo    float64 `json:"maxLo,omitempty"`
	MaxHi    float64 `json:"maxHi,omitempty"`
	MaxAbove bool    `json:"maxAbove,omitempty"`
}

func (h Hist) Dist(scale float64) Dist {
	if h.Count <= 0 {
		return Dist{}
	}
	d := Dist{N: h.Count, Mean: h.Sum / h.Count * scale, P50: h.Quantile(.5) * scale, P99: h.Quantile(.99) * scale}
	if n := len(h.Cum); n >= 2 {
		d.Over = (h.Cum[n-1] - h.Cum[n-2]) / h.Count
	}
	for i := len(h.Cum) - 1; i >= 0; i-- {
		below := 0.0
		if i > 0 {
			below = h.Cum[i-1]
		}
		if h.Cum[i] > below {
			if math.IsInf(h.Upper[i], 1) {
				d.MaxAbove = true
			} else {
				d.MaxHi = h.Upper[i] * scale
			}
			if i > 0 {
				d.MaxLo = h.Upper[i-1] * scale
			}
			break
		}
	}
	return d
}

// fmtMax is where a histogram's largest observation lies, in ms.
func fmtMax(d Dist) string {
	switch {
	case d.N == 0:
		return "-"
	case d.MaxAbove:
		return fmt.Sprintf("over %.3g ms", d.MaxLo)
	default:
		return fmt.Sprintf("%.3g-%.3g ms", d.MaxLo, d.MaxHi)
	}
}

// parseHists reads the histograms of a Prometheus text exposition, keyed by
// name and, for labelled series, name{label="value",...} (labels sorted).
func parseHists(r io.Reader) (map[string]Hist, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	out := map[string]Hist{}
	for name, f := range fams {
		if f.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range f.GetMetric() {
			out[seriesKey(name, m.GetLabel())] = fromDTO(m.GetHistogram())
		}
	}
	return out, nil
}

func seriesKey(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	var ls []string
	for _, l := range labels {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	slices.Sort(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func fromDTO(h *dto.Histogram) Hist {
	var out Hist
	for _, b := range h.GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue
		}
		out.Upper = append(out.Upper, b.GetUpperBound())
		out.Cum = append(out.Cum, float64(b.GetCumulativeCount()))
	}
	out.Count = float64(h.GetSampleCount())
	out.Sum = h.GetSampleSum()
	out.Upper = append(out.Upper, math.Inf(1))
	out.Cum = append(out.Cum, out.Count)
	return out
}

// scrapeHists fetches base/metrics (a shard's own registry; not behind the
// bearer token) and returns its histograms.
func scrapeHists(base string) (map[string]Hist, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(strings.TrimRight(base, "/") + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", base, resp.Status)
	}
	return parseHists(resp.Body)
}

// histDelta is after minus before, per series present after.
func histDelta(before, after map[string]Hist) map[string]Hist {
	d := make(map[string]Hist, len(after))
	for k, h := range after {
		d[k] = h.Sub(before[k])
	}
	return d
}
