package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kinds of freeze in `freeze list`.
const (
	KindFreezeWindow = "FreezeWindow"
	KindSaleFreeze   = "SaleFreeze"
)

// FreezeEntry is one freeze in `freeze list`: a FreezeWindow, or one
// showtime's own sale freeze (spec.sales.freeze around its opensAt).
type FreezeEntry struct {
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	Showtime  string     `json:"showtime,omitempty"`
	Reason    string     `json:"reason"`
	Active    bool       `json:"active"`
	Until     *time.Time `json:"until,omitempty"`
	NextStart *time.Time `json:"nextStart,omitempty"`
	NextEnd   *time.Time `json:"nextEnd,omitempty"`
	TimeZone  string     `json:"timeZone"`
	Scope     string     `json:"scope"`
	Error     string     `json:"error,omitempty"`
}

// FreezeList lists the freezes active now or starting later, active first,
// then by next start: every FreezeWindow, and the sale freeze of every
// showtime the caller may list (all namespaces, or namespace when listing
// across namespaces is not allowed). It is never nil.
func FreezeList(ctx context.Context, c client.Reader, namespace string, now time.Time) ([]FreezeEntry, error) {
	list := &boxv1.FreezeWindowList{}
	if err := c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing freeze windows: %w", err)
	}
	out := []FreezeEntry{}
	for i := range list.Items {
		if e, ok := windowEntry(&list.Items[i], now); ok {
			out = append(out, e)
		}
	}
	sts, err := listShowtimes(ctx, c, namespace)
	if err != nil {
		return nil, err
	}
	for i := range sts {
		if e, ok := saleEntry(&sts[i], now); ok {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Active != out[j].Active {
			return out[i].Active
		}
		a, b := out[i].NextStart, out[j].NextStart
		switch {
		case a == nil && b == nil:
			return out[i].Name < out[j].Name
		case a == nil:
			return false
		case b == nil:
			return true
		}
		return a.Before(*b)
	})
	return out, nil
}

// listShowtimes lists the showtimes of every namespace, or of namespace when
// the caller may not list across namespaces.
func listShowtimes(ctx context.Context, c client.Reader, namespace string) ([]boxv1.Showtime, error) {
	list := &boxv1.ShowtimeList{}
	err := c.List(ctx, list)
	if apierrors.IsForbidden(err) && namespace != "" {
		err = c.List(ctx, list, client.InNamespace(namespace))
	}
	if err != nil {
		return nil, fmt.Errorf("listing showtimes for their sale freezes: %w", err)
	}
	return list.Items, nil
}

// windowEntry is a FreezeWindow's entry; ok is false once it is over for good.
func windowEntry(w *boxv1.FreezeWindow, now time.Time) (FreezeEntry, bool) {
	e := FreezeEntry{Kind: KindFreezeWindow, Name: w.Name, Reason: w.Spec.Reason, TimeZone: w.Spec.TimeZone, Scope: scopeString(w)}
	if e.TimeZone == "" {
		e.TimeZone = "UTC"
	}
	sched, err := freeze.CompileWindow(w)
	if err != nil {
		e.Error = err.Error()
		return e, true
	}
	st := sched.At(now)
	if !st.Active && st.Next.IsZero() {
		return e, false
	}
	e.Active = st.Active
	if st.Active {
		end := st.End
		e.Until = &end
	}
	if !st.Next.IsZero() {
		next := st.Next
		e.NextStart = &next
		if ns := sched.At(next); ns.Active {
			ne := ns.End
			e.NextEnd = &ne
		}
	}
	return e, true
}

// saleEntry is a showtime's own sale freeze; ok is false when it is disabled,
// empty or over.
func saleEntry(st *boxv1.Showtime, now time.Time) (FreezeEntry, bool) {
	start, end, ok := freeze.SaleFreezeWindow(st)
	if !ok || !start.Before(end) || !now.Before(end) {
		return FreezeEntry{}, false
	}
	id := st.Namespace + "/" + st.Name
	e := FreezeEntry{
		Kind: KindSaleFreeze, Name: id, Showtime: id, TimeZone: "UTC", Scope: "showtime " + id,
		Reason: fmt.Sprintf("own sale freeze around opensAt %s (spec.sales.freeze)", st.Spec.Sales.OpensAt.UTC().Format(time.RFC3339)),
	}
	if now.Before(start) {
		e.NextStart, e.NextEnd = &start, &end
	} else {
		e.Active, e.Until = true, &end
	}
	return e, true
}

func scopeString(w *boxv1.FreezeWindow) string {
	var parts []string
	if s := w.Spec.NamespaceSelector; s != nil && (len(s.MatchLabels) > 0 || len(s.MatchExpressions) > 0) {
		parts = append(parts, "namespaces "+metav1.FormatLabelSelector(s))
	}
	if s := w.Spec.ShowtimeSelector; s != nil && (len(s.MatchLabels) > 0 || len(s.MatchExpressions) > 0) {
		parts = append(parts, "showtimes "+metav1.FormatLabelSelector(s))
	}
	if len(parts) == 0 {
		return "all showtimes"
	}
	return strings.Join(parts, ", ")
}

// WriteFreezeList renders freezes for people, times in each one's time zone.
func WriteFreezeList(w io.Writer, entries []FreezeEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "No active or upcoming freeze windows or sale freezes.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tSTATE\tUNTIL\tNEXT\tZONE\tSCOPE\tREASON")
	for _, e := range entries {
		loc, err := time.LoadLocation(e.TimeZone)
		if err != nil {
			loc = time.UTC
		}
		f := func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return t.In(loc).Format("2006-01-02 15:04 MST")
		}
		state := "upcoming"
		if e.Active {
			state = "ACTIVE"
		}
		if e.Error != "" {
			state = "INVALID: " + e.Error
		}
		next := f(e.NextStart)
		if e.NextEnd != nil {
			next += " to " + f(e.NextEnd)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Kind, e.Name, state, f(e.Until), next, e.TimeZone, e.Scope, e.Reason)
	}
	_ = tw.Flush()
}
