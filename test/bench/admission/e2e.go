package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// baselineLabel marks the baseline Showtime, which the Showtime webhook's
	// objectSelector excludes.
	baselineLabel = "bench.boxoffice.dev/no-webhook"
	showtimeHook  = "vshowtime.boxoffice.dev"
	deniedPrefix  = `admission webhook "` + showtimeHook + `" denied the request`
	warmupRounds  = 50
)

// excludeBaseline adds to the Showtime webhook installed from config/webhook
// an objectSelector that leaves out objects labelled baselineLabel, so that
// one API server serves both the webhook's cases and the baseline.
func excludeBaseline(ctx context.Context, c client.Client) error {
	l := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := c.List(ctx, l); err != nil {
		return err
	}
	for i := range l.Items {
		vwc := &l.Items[i]
		for j := range vwc.Webhooks {
			if vwc.Webhooks[j].Name != showtimeHook {
				continue
			}
			if vwc.Webhooks[j].ObjectSelector != nil && len(vwc.Webhooks[j].ObjectSelector.MatchLabels)+len(vwc.Webhooks[j].ObjectSelector.MatchExpressions) > 0 {
				return fmt.Errorf("webhook %s already has an objectSelector; the baseline needs its own", showtimeHook)
			}
			vwc.Webhooks[j].ObjectSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: baselineLabel, Operator: metav1.LabelSelectorOpDoesNotExist}}}
			return c.Update(ctx, vwc)
		}
	}
	return fmt.Errorf("webhook %s not installed from config/webhook", showtimeHook)
}

// warnings keeps the last warning the API server sent back.
type warnings struct {
	mu   sync.Mutex
	last string
	n    int
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last, w.n = text, w.n+1
}

func (w *warnings) take() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	last, n := w.last, w.n
	w.last, w.n = "", 0
	return last, n
}

type e2eCase struct {
	name, what string
	obj        *boxv1.Showtime
	// check says what is wrong with an answer, given the error and the
	// warnings that came with it.
	check func(err error, warning string) error
	lat   []time.Duration
}

// endToEnd times dry-run Showtime updates sent to the API server, which calls
// the webhook over TLS, and returns the p99 of the denied case.
func endToEnd(ctx context.Context, cfg *rest.Config, scheme *k8sruntime.Scheme, frozen, baseline *boxv1.Showtime, o options) (time.Duration, error) {
	r, err := newE2ERun(ctx, cfg, scheme, o.windows)
	if err != nil {
		return 0, err
	}
	for _, st := range []*boxv1.Showtime{frozen, baseline} {
		if err := r.c.Get(ctx, client.ObjectKeyFromObject(st), st); err != nil {
			return 0, err
		}
	}
	denied := frozen.DeepCopy()
	denied.Spec.Title = "changed"
	baseEdit := baseline.DeepCopy()
	baseEdit.Spec.Title = "changed"
	cases := r.cases(denied, frozen, baseline)

	if err := r.waitReady(denied, baseEdit, o.startupTime); err != nil {
		return 0, err
	}
	// Warm up connections, caches and the webhook's compiled windows.
	for range warmupRounds {
		for _, tc := range cases {
			_, w, err := r.do(tc.obj)
			if e := tc.check(err, w); e != nil {
				return 0, fmt.Errorf("%s: %v", tc.name, e)
			}
		}
	}
	rounds, elapsed, err := r.measure(cases, o.n, o.e2eTime)
	if err != nil {
		return 0, err
	}
	return r.print(cases, rounds, elapsed, o), nil
}

// e2eRun sends the end-to-end measurement's requests.
type e2eRun struct {
	ctx     context.Context
	c       client.Client
	warn    *warnings
	windows int // freeze windows a denial must name
	msgLen  int // length of the last denial's message
}

// newE2ERun makes a client of its own: no client-side rate limiting,
// warnings kept rather than logged.
func newE2ERun(ctx context.Context, cfg *rest.Config, scheme *k8sruntime.Scheme, windows int) (*e2eRun, error) {
	ccfg := rest.CopyConfig(cfg)
	ccfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	warn := &warnings{}
	ccfg.WarningHandler, ccfg.WarningHandlerWithContext = nil, warn
	c, err := client.New(ccfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	return &e2eRun{ctx: ctx, c: c, warn: warn, windows: windows}, nil
}

// do sends obj as a dry-run update and returns how long the answer took, the
// warning that came with it and its error.
func (r *e2eRun) do(obj *boxv1.Showtime) (time.Duration, string, error) {
	o := obj.DeepCopy()
	r.warn.take()
	t0 := time.Now()
	err := r.c.Update(r.ctx, o, client.DryRunAll)
	d := time.Since(t0)
	w, _ := r.warn.take()
	return d, w, err
}

// deniedCheck wants a denial by the Showtime webhook that names every
// window.
func (r *e2eRun) deniedCheck(err error, _ string) error {
	if err == nil {
		return fmt.Errorf("allowed, want denied")
	}
	msg := err.Error()
	if !strings.Contains(msg, deniedPrefix) {
		return fmt.Errorf("want a denial by %s, got %v", showtimeHook, err)
	}
	if got := strings.Count(msg, `FreezeWindow "`); got != r.windows {
		return fmt.Errorf("denial names %d of %d windows", got, r.windows)
	}
	r.msgLen = len(msg)
	return nil
}

// cases are the three measured updates: the denied edit, the allowed
// scale-up, and the same scale-up of the baseline the webhook never sees.
func (r *e2eRun) cases(denied, frozen, baseline *boxv1.Showtime) []*e2eCase {
	scaleUp := frozen.DeepCopy()
	scaleUp.Spec.Frontend.Autoscaling.MaxReplicas = 60
	baseScaleUp := baseline.DeepCopy()
	baseScaleUp.Spec.Frontend.Autoscaling.MaxReplicas = 60
	return []*e2eCase{
		{name: "denied edit", what: "title change, denied by the webhook (message names every window)", obj: denied, check: r.deniedCheck},
		{name: "allowed scale-up", what: "spec.frontend.autoscaling.maxReplicas 50 -> 60, allowed by the webhook with a warning", obj: scaleUp,
			check: func(err error, warning string) error {
				if err != nil {
					return err
				}
				if !strings.Contains(warning, "allowed during the freeze as a scale-up") {
					return fmt.Errorf("no scale-up warning from the webhook (got %q)", warning)
				}
				return nil
			}},
		{name: "baseline", what: "the same scale-up of an identical Showtime the webhook's objectSelector excludes (no webhook call)", obj: baseScaleUp,
			check: func(err error, warning string) error {
				if err != nil {
					return err
				}
				if warning != "" {
					return fmt.Errorf("unexpected warning %q: did the webhook see the baseline?", warning)
				}
				return nil
			}},
	}
}

// waitReady waits until the webhook's cache holds every window and the API
// server applies the objectSelector: the denial names all windows, and a
// title change of the baseline Showtime, which the webhook would deny,
// passes.
func (r *e2eRun) waitReady(denied, baseEdit *boxv1.Showtime, startupTime time.Duration) error {
	deadline := time.Now().Add(startupTime)
	for {
		_, _, errDenied := r.do(denied)
		_, _, errBase := r.do(baseEdit)
		e := r.deniedCheck(errDenied, "")
		if e == nil && errBase == nil {
			return nil
		}
		if e == nil {
			e = fmt.Errorf("baseline still goes to the webhook: %v", errBase)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("end to end not ready after %v: %v", startupTime, e)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// measure times up to n rounds of the cases, within limit. They are
// interleaved, with the order rotated each round, so that noise from a busy
// machine falls on all cases alike.
func (r *e2eRun) measure(cases []*e2eCase, n int, limit time.Duration) (int, time.Duration, error) {
	for _, tc := range cases {
		tc.lat = make([]time.Duration, 0, n)
	}
	start := time.Now()
	stop := start.Add(limit)
	rounds := 0
	for rounds < n && time.Now().Before(stop) {
		for k := range cases {
			tc := cases[(rounds+k)%len(cases)]
			d, w, err := r.do(tc.obj)
			if e := tc.check(err, w); e != nil {
				return 0, 0, fmt.Errorf("%s: %v", tc.name, e)
			}
			tc.lat = append(tc.lat, d)
		}
		rounds++
	}
	return rounds, time.Since(start), nil
}

// print prints the cases' latencies and what the webhook adds to the
// baseline's p99, and returns the denied case's p99.
func (r *e2eRun) print(cases []*e2eCase, rounds int, elapsed time.Duration, o options) time.Duration {
	fmt.Printf("end to end: dry-run (dryRun=All) Showtime updates from a client to the envtest kube-apiserver on loopback, timed from request to the API server's answer,\n")
	fmt.Printf("  through its AdmissionReview call over TLS to the webhook served by a controller-runtime manager (webhooks.Setup); %d rounds of the three cases interleaved in %v", rounds, elapsed.Round(time.Millisecond))
	if rounds < o.n {
		fmt.Printf(" (time limit %v reached before -n %d)", o.e2eTime, o.n)
	}
	fmt.Println()
	st := make([]stats, len(cases))
	for i, tc := range cases {
		st[i] = summarize(tc.lat)
		fmt.Printf("  %-17s %s  %s", tc.name, st[i], tc.what)
		if i == 0 {
			fmt.Printf(", message=%d bytes", r.msgLen)
		}
		fmt.Println()
	}
	fmt.Printf("  baseline: same API server, namespace, CRD validation, dry-run path, client and request body as the allowed scale-up but for the name and one label; the webhook call is what it lacks\n")
	base := st[2].p99
	for i, tc := range cases[:2] {
		fmt.Printf("  webhook's added p99, %-17s p99 %s - baseline p99 %s = %s (%.2fx the baseline)\n",
			tc.name+":", ms(st[i].p99), ms(base), ms(st[i].p99-base), float64(st[i].p99)/float64(base))
	}
	return st[0].p99
}
