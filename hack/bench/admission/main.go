// Command admission measures the Showtime freeze webhook's decision latency
// with 100 active FreezeWindows.
//
// What it measures: the validator's ValidateUpdate (the code the webhook
// server runs for each AdmissionReview, after decoding) for a Showtime
// update, reading the windows, the namespace and nothing else from a real
// informer cache synced against an envtest kube-apiserver. It does not
// measure TLS, JSON decoding of the AdmissionReview or the API server's
// round trip to the webhook. Two cases: a title change that is denied (every
// window matches and is named in the message) and a rollback that is allowed.
//
// Needs KUBEBUILDER_ASSETS (hack/envtest-bins.sh prints it).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/webhooks"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func main() {
	windows := flag.Int("windows", 100, "active FreezeWindows")
	n := flag.Int("n", 5000, "admission decisions per case")
	root := flag.String("root", ".", "repository root (for config/crd/bases)")
	flag.Parse()
	if err := run(*root, *windows, *n); err != nil {
		fmt.Fprintln(os.Stderr, "bench-admission:", err)
		os.Exit(1)
	}
}

func run(root string, nWindows, n int) error {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return fmt.Errorf("KUBEBUILDER_ASSETS is not set (hack/envtest-bins.sh prints it)")
	}
	scheme := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(boxv1.AddToScheme(scheme))
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench", Labels: map[string]string{"tier": "gold"}}}
	if err := c.Create(ctx, ns); err != nil {
		return err
	}
	now := time.Now()
	zones := []string{"UTC", "Asia/Bangkok", "Europe/Paris", "America/New_York", "Asia/Tokyo"}
	for i := range nWindows {
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
			return err
		}
	}
	opens := now.Add(10 * 24 * time.Hour)
	old := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: "standup", Namespace: "bench", Labels: map[string]string{"venue": "hall-1"}},
		Spec: boxv1.ShowtimeSpec{Title: "Stand-up", StartsAt: metav1.NewTime(opens.Add(72 * time.Hour)),
			SeatMap: boxv1.SeatMap{Sections: []boxv1.SeatSection{{Name: "stalls", Rows: []boxv1.SeatRow{{Names: "A-Z", Seats: "1-40"}}}}},
			Sales:   boxv1.Sales{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(48 * time.Hour))},
			Shard:   boxv1.ShardSpec{Image: "registry.example/boxoffice:v3"}},
		Status: boxv1.ShowtimeStatus{Versions: boxv1.VersionHistory{Shard: boxv1.ImageHistory{Current: "registry.example/boxoffice:v3", Previous: "registry.example/boxoffice:v2"}}},
	}

	ca, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return fmt.Errorf("cache did not sync")
	}
	// Prime the informers the validator uses, then wait until all windows are in.
	if err := ca.List(ctx, &boxv1.FreezeWindowList{}); err != nil {
		return err
	}
	if err := ca.Get(ctx, client.ObjectKey{Name: "bench"}, &corev1.Namespace{}); err != nil {
		return err
	}
	for {
		l := &boxv1.FreezeWindowList{}
		if err := ca.List(ctx, l); err != nil {
			return err
		}
		if len(l.Items) == nWindows {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	v := webhooks.NewShowtimeValidator(ca, events.NewFakeRecorder(1), webhooks.Config{
		BreakGlassGroups: []string{"sre"}, OperatorUsernames: []string{"system:serviceaccount:boxoffice-system:boxoffice-controller-manager"}})
	actx := admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Update, UserInfo: authenticationv1.UserInfo{Username: "bob", Groups: []string{"devs"}}}})

	denied := old.DeepCopy()
	denied.Spec.Title = "changed"
	rollback := old.DeepCopy()
	rollback.Spec.Shard.Image = "registry.example/boxoffice:v2"

	fmt.Printf("admission latency: Showtime update, %d active FreezeWindows from an informer cache, in-process validator (no TLS or API server round trip), GOMAXPROCS=%d\n",
		nWindows, runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		name    string
		st      *boxv1.Showtime
		wantErr bool
	}{{"denied edit", denied, true}, {"allowed rollback", rollback, false}} {
		// Warm up the caches of compiled schedules and time zones.
		for range 50 {
			_, _ = v.ValidateUpdate(actx, old, tc.st)
		}
		lat := make([]time.Duration, n)
		var msgLen int
		for i := range n {
			t0 := time.Now()
			_, err := v.ValidateUpdate(actx, old, tc.st)
			lat[i] = time.Since(t0)
			if (err != nil) != tc.wantErr {
				return fmt.Errorf("%s: unexpected result %v", tc.name, err)
			}
			if err != nil {
				msgLen = len(err.Error())
			}
		}
		slices.Sort(lat)
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
		verdict := "OK"
		if p(0.99) > 10*time.Millisecond {
			verdict = "OVER the 10ms target"
		}
		fmt.Printf("  %-17s n=%d p50=%v p90=%v p99=%v max=%v (p99 target <= 10ms: %s)", tc.name, n, p(0.5), p(0.9), p(0.99), lat[len(lat)-1], verdict)
		if msgLen > 0 {
			fmt.Printf(" message=%d bytes", msgLen)
		}
		fmt.Println()
	}
	return nil
}
