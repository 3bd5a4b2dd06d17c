package freeze

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Sale freeze defaults, as the CRD defaults them.
const (
	DefaultSaleBefore = 30 * time.Minute
	DefaultSaleAfter  = 2 * time.Hour
)

// Hit is one freeze in force.
type Hit struct {
	// Window is the FreezeWindow's name; empty for a showtime's sale freeze.
	Window string
	Reason string
	// End is when this freeze stops applying.
	End time.Time
	// Location is the window's time zone, used to show End.
	Location *time.Location
}

// Sale reports whether the hit is the showtime's own sale freeze.
func (h Hit) Sale() bool { return h.Window == "" }

// EndString shows End in the window's time zone with its offset and name.
func (h Hit) EndString() string {
	loc := h.Location
	if loc == nil {
		loc = time.UTC
	}
	t := h.End.In(loc)
	s := t.Format("2006-01-02 15:04 MST (-07:00)")
	if abbr, _ := t.Zone(); abbr != loc.String() {
		s += " " + loc.String() // "+07 (+07:00) Asia/Bangkok", but not "UTC (+00:00) UTC"
	}
	return s
}

// String names the freeze, its reason and its end.
func (h Hit) String() string {
	if h.Sale() {
		return fmt.Sprintf("the showtime's own sale freeze (%s) until %s", h.Reason, h.EndString())
	}
	return fmt.Sprintf("FreezeWindow %q (reason: %s) until %s", h.Window, h.Reason, h.EndString())
}

// compiled is a window ready to evaluate, cached per generation.
type compiled struct {
	sched *Schedule
	nsSel labels.Selector
	stSel labels.Selector
	err   error

	// The last state computed and the instant it was computed at. It holds
	// for any later instant before its boundary: inside a merged period the
	// end and the next start do not move, and between periods neither does
	// the next start. Admission then costs a comparison per window, not a
	// walk through the cron schedule.
	mu     sync.Mutex
	state  State
	from   time.Time
	cached bool
}

func (c *compiled) at(now time.Time) State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached && !now.Before(c.from) {
		if b := c.state.Boundary(); b.IsZero() || now.Before(b) {
			return c.state
		}
	}
	c.state, c.from, c.cached = c.sched.At(now), now, true
	return c.state
}

type cacheKey struct {
	uid types.UID
	gen int64
}

var (
	compiledMu    sync.RWMutex
	compiledCache = map[cacheKey]*compiled{}
)

func compile(w *boxv1.FreezeWindow) *compiled {
	// Spec changes bump the generation; status and label changes do not
	// change what compiles.
	key := cacheKey{uid: w.UID, gen: w.Generation}
	cacheable := w.UID != "" && w.Generation > 0
	if cacheable {
		compiledMu.RLock()
		c, ok := compiledCache[key]
		compiledMu.RUnlock()
		if ok {
			return c
		}
	}
	c := &compiled{}
	c.sched, c.err = Compile(&w.Spec)
	if c.err == nil {
		c.nsSel, c.err = selector(w.Spec.NamespaceSelector, "spec.namespaceSelector")
	}
	if c.err == nil {
		c.stSel, c.err = selector(w.Spec.ShowtimeSelector, "spec.showtimeSelector")
	}
	if cacheable {
		compiledMu.Lock()
		if len(compiledCache) > 10000 {
			clear(compiledCache)
		}
		compiledCache[key] = c
		compiledMu.Unlock()
	}
	return c
}

func selector(s *metav1.LabelSelector, field string) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return sel, nil
}

// Validate compiles a window's spec, schedule and selectors.
func Validate(w *boxv1.FreezeWindow) error {
	_, err := CompileWindow(w)
	return err
}

// CompileWindow compiles a window's schedule and checks its selectors.
func CompileWindow(w *boxv1.FreezeWindow) (*Schedule, error) {
	c := compile(w)
	return c.sched, c.err
}

// Selects reports whether the window applies to a showtime with these labels
// in a namespace with these labels. Empty selectors select everything.
func Selects(w *boxv1.FreezeWindow, nsLabels, stLabels map[string]string) bool {
	c := compile(w)
	return c.err == nil && c.nsSel.Matches(labels.Set(nsLabels)) && c.stSel.Matches(labels.Set(stLabels))
}

// ActiveWindows returns the windows that select the showtime and are in a
// period at now, sorted by name. Windows that do not compile are skipped (the
// FreezeWindow controller reports them as not Valid and admission refuses them).
func ActiveWindows(ws []boxv1.FreezeWindow, nsLabels, stLabels map[string]string, now time.Time) []Hit {
	var hits []Hit
	for i := range ws {
		w := &ws[i]
		c := compile(w)
		if c.err != nil || !c.nsSel.Matches(labels.Set(nsLabels)) || !c.stSel.Matches(labels.Set(stLabels)) {
			continue
		}
		if s := c.at(now); s.Active {
			hits = append(hits, Hit{Window: w.Name, Reason: w.Spec.Reason, End: s.End, Location: c.sched.Location})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].Window < hits[j].Window })
	return hits
}

// Boundaries are the next instants at which any selecting window starts or ends.
func Boundaries(ws []boxv1.FreezeWindow, nsLabels, stLabels map[string]string, now time.Time) []time.Time {
	var out []time.Time
	for i := range ws {
		c := compile(&ws[i])
		if c.err != nil || !c.nsSel.Matches(labels.Set(nsLabels)) || !c.stSel.Matches(labels.Set(stLabels)) {
			continue
		}
		if b := c.at(now).Boundary(); !b.IsZero() {
			out = append(out, b)
		}
	}
	return out
}

// SaleFreezeWindow is [opensAt-before, opensAt+after); ok is false when the
// sale freeze is disabled. The API server fills in absent fields from the
// CRD's defaults; a field still absent here (an object built in Go without
// them) takes the same defaults. A zero duration is zero: before and after
// both 0s is an empty window, which freezes nothing.
func SaleFreezeWindow(st *boxv1.Showtime) (start, end time.Time, ok bool) {
	f := st.Spec.Sales.Freeze
	if f.Enabled != nil && !*f.Enabled {
		return time.Time{}, time.Time{}, false
	}
	before, after := DefaultSaleBefore, DefaultSaleAfter
	if f.Before != nil {
		before = f.Before.Duration
	}
	if f.After != nil {
		after = f.After.Duration
	}
	opens := st.Spec.Sales.OpensAt.Time
	return opens.Add(-before), opens.Add(after), true
}

// SaleHit is the showtime's sale freeze when now is inside it.
func SaleHit(st *boxv1.Showtime, now time.Time) (Hit, bool) {
	start, end, ok := SaleFreezeWindow(st)
	if !ok || now.Before(start) || !now.Before(end) {
		return Hit{}, false
	}
	reason := fmt.Sprintf("spec.sales.freeze, %s before to %s after opensAt %s",
		shortDuration(st.Spec.Sales.OpensAt.Sub(start)), shortDuration(end.Sub(st.Spec.Sales.OpensAt.Time)),
		st.Spec.Sales.OpensAt.UTC().Format(time.RFC3339))
	return Hit{Reason: reason, End: end, Location: time.UTC}, true
}

func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ForShowtime is every freeze in force on a showtime at now: the selecting
// windows, then its own sale freeze.
func ForShowtime(ws []boxv1.FreezeWindow, nsLabels map[string]string, st *boxv1.Showtime, now time.Time) []Hit {
	hits := ActiveWindows(ws, nsLabels, st.Labels, now)
	if h, ok := SaleHit(st, now); ok {
		hits = append(hits, h)
	}
	return hits
}

// Blocking lists the FreezeWindows and returns those in force now on a
// showtime with stLabels in namespace; empty means changes may proceed. It
// is what anything that promotes or changes a showtime's version (a rollout)
// asks before acting. It does not include a showtime's own sale freeze: use
// ForShowtime with the Showtime for that.
func Blocking(ctx context.Context, r client.Reader, namespace string, stLabels map[string]string, now time.Time) ([]Hit, error) {
	list := &boxv1.FreezeWindowList{}
	if err := r.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing freeze windows: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	nsLabels, err := NamespaceLabels(ctx, r, namespace)
	if err != nil {
		return nil, err
	}
	return ActiveWindows(list.Items, nsLabels, stLabels, now), nil
}

// BlockingShowtime is Blocking plus the showtime's own sale freeze.
func BlockingShowtime(ctx context.Context, r client.Reader, st *boxv1.Showtime, now time.Time) ([]Hit, error) {
	hits, err := Blocking(ctx, r, st.Namespace, st.Labels, now)
	if err != nil {
		return nil, err
	}
	if h, ok := SaleHit(st, now); ok {
		hits = append(hits, h)
	}
	return hits, nil
}

// NamespaceLabels reads a namespace's labels; a namespace that is not found
// has none.
func NamespaceLabels(ctx context.Context, r client.Reader, namespace string) (map[string]string, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	if ns.Labels == nil {
		// The API server always sets kubernetes.io/metadata.name; keep that
		// selectable even from a client that strips labels.
		return map[string]string{corev1.LabelMetadataName: namespace}, nil
	}
	return ns.Labels, nil
}
