// Command admission measures the Showtime freeze webhook's admission latency
// with 100 active FreezeWindows, in two ways, against one envtest
// kube-apiserver and etcd on loopback.
//
// In-process: the validator's ValidateUpdate (the code the webhook server
// runs for each AdmissionReview, after decoding) for a Showtime update,
// reading the windows and the namespace from a real informer cache. No TLS,
// no AdmissionReview encoding or decoding, no API server. Two cases: a title
// change that is denied (every window matches and is named in the message)
// and a rollback that is allowed.
//
// End to end: the webhook configuration from config/webhook installed by
// envtest (WebhookInstallOptions), served over TLS by a controller-runtime
// manager set up with webhooks.Setup, as in internal/webhooks' suite. A
// client sends dry-run (dryRun=All) Showtime updates to the API server and
// times each from the request until the API server's answer: the API server's
// authentication, decoding, CRD schema and CEL validation and dry-run update
// path, its AdmissionReview call to the webhook over TLS and the webhook's
// decoding and decision. Three cases, interleaved request by request so that
// a busy machine slows them alike:
//
//   - denied: a title change, denied by the webhook (all windows named);
//   - allowed: raising spec.frontend.autoscaling.maxReplicas, a scale-up the
//     freeze allows (with a warning naming the windows);
//   - baseline: the same scale-up of an identical Showtime, in the same
//     namespace and selected by the same windows, that the API server does not
//     send to the webhook. The only change made to config/webhook is an
//     objectSelector on the Showtime webhook excluding the label
//     bench.boxoffice.dev/no-webhook, which only the baseline Showtime
//     carries; the API server evaluates it for all three cases.
//
// It prints p50, p90, p99 and max of each case, the webhook's added p99
// (difference and ratio to the baseline) and whether the end-to-end p99 of
// the denied case meets the 10 ms target. It asserts no times. Every loop is
// bounded by a count and a time limit.
//
// Needs KUBEBUILDER_ASSETS (hack/envtest-bins.sh prints it).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/testenv"
	"boxoffice.dev/boxoffice/internal/webhooks"
	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

const (
	operatorUser    = "system:serviceaccount:boxoffice-system:boxoffice-controller-manager"
	breakGlassGroup = "sre"
	namespace       = "bench"
	target          = 10 * time.Millisecond
)

type options struct {
	root        string
	windows     int
	n           int           // end-to-end requests per case
	e2eTime     time.Duration // time limit of the end-to-end measurement
	inprocN     int           // in-process decisions per case
	inprocTime  time.Duration // time limit per in-process case
	startupTime time.Duration // time limit of each wait during setup
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", ".", "repository root (for config/crd/bases and config/webhook)")
	flag.IntVar(&o.windows, "windows", 100, "active FreezeWindows")
	flag.IntVar(&o.n, "n", 2000, "end-to-end requests per case (through the API server and the webhook)")
	flag.DurationVar(&o.e2eTime, "e2e-time", 75*time.Second, "time limit of the end-to-end measurement (all cases); fewer than -n requests are made if it is reached")
	flag.IntVar(&o.inprocN, "inproc-n", 5000, "in-process validator decisions per case")
	flag.DurationVar(&o.inprocTime, "inproc-time", 10*time.Second, "time limit of each in-process case")
	flag.DurationVar(&o.startupTime, "startup-time", 30*time.Second, "time limit of each wait during setup")
	flag.Parse()
	if o.windows < 1 || o.n < 1 || o.inprocN < 1 {
		fmt.Fprintln(os.Stderr, "bench-admission: -windows, -n and -inproc-n must be at least 1")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-admission:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	// Errors only: the manager's start-up chatter would bury the figures.
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))

	env, err := testenv.Start(testenv.Options{Root: o.root, Webhooks: true, WebhookHost: "127.0.0.1"})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	cfg, scheme := env.Config, env.Scheme
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The benchmark's client is envtest's admin: not the operator (exempt
	// from freezes) and not allowed to break glass.
	c := env.Client
	if err := excludeBaseline(ctx, c); err != nil {
		return err
	}
	mgrDone, err := env.StartWebhooks(ctx, operatorUser, func(mgr ctrl.Manager) error {
		return webhooks.Setup(mgr, webhooks.Config{
			BreakGlassGroups:  []string{breakGlassGroup},
			OperatorUsernames: []string{operatorUser},
			DefaultImage:      "registry.example/boxoffice:v3",
		})
	}, o.startupTime)
	if err != nil {
		return err
	}
	// Stop the manager before envtest removes its serving certificate.
	defer func() {
		cancel()
		select {
		case <-mgrDone:
		case <-time.After(10 * time.Second):
		}
	}()

	// The namespace and the Showtimes come first: with the windows in place
	// the webhook would refuse to create a Showtime they select.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"tier": "gold"}}}
	if err := c.Create(ctx, ns); err != nil {
		return err
	}
	now := time.Now()
	frozen := newShowtime("standup", now)
	baseline := newShowtime("standup-baseline", now)
	baseline.Labels[baselineLabel] = "true"
	for _, st := range []*boxv1.Showtime{frozen, baseline} {
		if err := c.Create(ctx, st); err != nil {
			return fmt.Errorf("creating showtime %s: %w", st.Name, err)
		}
	}
	if err := createWindows(ctx, c, o.windows, now); err != nil {
		return err
	}

	fmt.Printf("admission latency of the Showtime freeze webhook, %d active FreezeWindows selecting the showtime, GOMAXPROCS=%d, load average %s\n",
		o.windows, runtime.GOMAXPROCS(0), loadAverage())
	if err := inProcess(ctx, cfg, scheme, newShowtime("standup", now), o); err != nil {
		return err
	}
	p99, err := endToEnd(ctx, cfg, scheme, frozen, baseline, o)
	if err != nil {
		return err
	}
	verdict := "met"
	if p99 > target {
		verdict = "NOT met"
	}
	fmt.Printf("target p99 <= 10 ms with %d active windows: %s (%s end to end, denied update)\n", o.windows, verdict, ms(p99))
	return nil
}

// newShowtime is the benchmark's Showtime: on sale in ten days (so its own
// sale freeze is not in force), selected by every window through its venue
// label, with autoscaling spelled out so that raising maxReplicas is the
// only change of the allowed update.
func newShowtime(name string, now time.Time) *boxv1.Showtime {
	opens := now.Add(10 * 24 * time.Hour)
	return &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"venue": "hall-1"}},
		Spec: boxv1.ShowtimeSpec{Title: "Stand-up", StartsAt: metav1.NewTime(opens.Add(72 * time.Hour)),
			SeatMap:  boxv1.SeatMap{Sections: []boxv1.SeatSection{{Name: "stalls", Rows: []boxv1.SeatRow{{Names: "A-Z", Seats: "1-40"}}}}},
			Sales:    boxv1.Sales{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(48 * time.Hour))},
			Shard:    boxv1.ShardSpec{Image: "registry.example/boxoffice:v3"},
			Frontend: boxv1.FrontendSpec{Autoscaling: boxv1.FrontendAutoscaling{MinReplicas: 2, MaxReplicas: 50, TargetCPUUtilizationPercentage: 60}}},
	}
}

// createWindows creates n windows that are all in force now and select the
// benchmark's namespace and Showtimes: one-off, hourly and daily, in several
// time zones.
func createWindows(ctx context.Context, c client.Client, n int, now time.Time) error {
	zones := []string{"UTC", "Asia/Bangkok", "Europe/Paris", "America/New_York", "Asia/Tokyo"}
	for i := range n {
		fw := &boxv1.FreezeWindow{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("window-%03d", i)},
			Spec: boxv1.FreezeWindowSpec{Reason: fmt.Sprintf("promotion %d", i), TimeZone: zones[i%len(zones)],
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}},
				ShowtimeSelector:  &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "venue", Operator: metav1.LabelSelectorOpExists}}},
			}}
		switch i % 3 {
		case 0: // one-off around now
			fw.Spec.OneOff = &boxv1.OneOffPeriod{Start: metav1.NewTime(now.Add(-time.Hour)), End: metav1.NewTime(now.Add(time.Duration(i+1) * time.Hour))}
		case 1: // hourly, lasting 2h: always active, overlapping periods
			fw.Spec.Recurring = &boxv1.RecurringPeriod{Schedule: fmt.Sprintf("%d * * * *", i%60), Duration: &metav1.Duration{Duration: 2 * time.Hour}}
		default: // daily, lasting 25h: always active
			fw.Spec.Recurring = &boxv1.RecurringPeriod{Schedule: fmt.Sprintf("0 %d * * *", i%24), Duration: &metav1.Duration{Duration: 25 * time.Hour}}
		}
		if err := c.Create(ctx, fw); err != nil {
			return fmt.Errorf("creating %s: %w", fw.Name, err)
		}
	}
	return nil
}

// inProcess times the validator alone, reading from its own informer cache.
func inProcess(ctx context.Context, cfg *rest.Config, scheme *k8sruntime.Scheme, old *boxv1.Showtime, o options) error {
	ca, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return fmt.Errorf("cache did not sync")
	}
	// Prime the informers the validator uses, then wait until all windows are in.
	if err := ca.Get(ctx, client.ObjectKey{Name: namespace}, &corev1.Namespace{}); err != nil {
		return err
	}
	deadline := time.Now().Add(o.startupTime)
	for {
		l := &boxv1.FreezeWindowList{}
		if err := ca.List(ctx, l); err != nil {
			return err
		}
		if len(l.Items) == o.windows {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("in-process cache holds %d of %d windows after %v", len(l.Items), o.windows, o.startupTime)
		}
		time.Sleep(50 * time.Millisecond)
	}

	v := webhooks.NewShowtimeValidator(ca, events.NewFakeRecorder(1), webhooks.Config{
		BreakGlassGroups: []string{breakGlassGroup}, OperatorUsernames: []string{operatorUser}})
	actx := admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Update, UserInfo: authenticationv1.UserInfo{Username: "bob", Groups: []string{"devs"}}}})

	old.Status.Versions = boxv1.VersionHistory{Shard: boxv1.ImageHistory{Current: "registry.example/boxoffice:v3", Previous: "registry.example/boxoffice:v2"}}
	denied := old.DeepCopy()
	denied.Spec.Title = "changed"
	rollback := old.DeepCopy()
	rollback.Spec.Shard.Image = "registry.example/boxoffice:v2"

	fmt.Printf("in-process: the validator's ValidateUpdate alone, windows from an informer cache (no TLS, no AdmissionReview decoding, no API server)\n")
	for _, tc := range []struct {
		name    string
		st      *boxv1.Showtime
		wantErr bool
	}{{"denied edit", denied, true}, {"allowed rollback", rollback, false}} {
		// Warm up the caches of compiled schedules and time zones.
		for range 50 {
			_, _ = v.ValidateUpdate(actx, old, tc.st)
		}
		lat := make([]time.Duration, 0, o.inprocN)
		var msgLen int
		stop := time.Now().Add(o.inprocTime)
		for len(lat) < o.inprocN && time.Now().Before(stop) {
			t0 := time.Now()
			_, err := v.ValidateUpdate(actx, old, tc.st)
			lat = append(lat, time.Since(t0))
			if (err != nil) != tc.wantErr {
				return fmt.Errorf("%s: unexpected result %v", tc.name, err)
			}
			if err != nil {
				msgLen = len(err.Error())
			}
		}
		s := summarize(lat)
		fmt.Printf("  %-17s %s", tc.name, s)
		if len(lat) < o.inprocN {
			fmt.Printf(" (time limit %v reached)", o.inprocTime)
		}
		if msgLen > 0 {
			fmt.Printf(" message=%d bytes", msgLen)
		}
		fmt.Println()
	}
	return nil
}

// stats are the percentiles of one case.
type stats struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func summarize(lat []time.Duration) stats {
	s := slices.Clone(lat)
	slices.Sort(s)
	p := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))] }
	return stats{n: len(s), p50: p(0.5), p90: p(0.9), p99: p(0.99), max: s[len(s)-1]}
}

func (s stats) String() string {
	return fmt.Sprintf("n=%-5d p50=%-9s p90=%-9s p99=%-9s max=%s", s.n, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
