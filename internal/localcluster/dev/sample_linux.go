package dev

import (
	"context"
	"fmt"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/localcluster/network"
)

// applySample applies the sample Showtime opening now with demo payments,
// waits until it is Ready, and prints where to book.
func (d *devSession) applySample(ctx context.Context) error {
	objs, err := readObjects(d.o.Sample)
	if err != nil || len(objs) != 1 {
		return fmt.Errorf("sample %s: want one Showtime (%v)", d.o.Sample, err)
	}
	u := objs[0]
	if u.GetNamespace() == "" {
		u.SetNamespace("default")
	}
	opens := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	_ = unstructured.SetNestedField(u.Object, opens, "spec", "sales", "opensAt")
	closes, _, _ := unstructured.NestedString(u.Object, "spec", "sales", "closesAt")
	if t, err := time.Parse(time.RFC3339, closes); err != nil || t.Before(time.Now().Add(24*time.Hour)) {
		_ = unstructured.SetNestedField(u.Object, time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339), "spec", "sales", "closesAt")
		_ = unstructured.SetNestedField(u.Object, time.Now().Add(30*24*time.Hour+time.Hour).UTC().Format(time.RFC3339), "spec", "startsAt")
	}
	_ = unstructured.SetNestedField(u.Object, true, "spec", "frontend", "payments", "demo")
	// The page is served over plain HTTP here: a Secure cookie would be
	// refused by browsers on any host but localhost.
	_ = unstructured.SetNestedField(u.Object, true, "spec", "frontend", "plainHTTP")
	dc, err := dynamic.NewForConfig(d.cfg)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := applyObj(ctx, dc, showtimeGV, u); err != nil {
		return fmt.Errorf("applying the sample: %w", err)
	}
	d.logf("applied Showtime %s/%s (on sale from %s, demo payments); waiting until it is Ready", u.GetNamespace(), u.GetName(), opens)
	var phase string
	err = wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := dc.Resource(showtimeGV).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase, _, _ = unstructured.NestedString(got.Object, "status", "phase")
		return phase == "Ready" || phase == "OnSale", nil
	})
	if err != nil {
		return fmt.Errorf("the sample Showtime is not Ready after 5 minutes (phase %q): see kubectl describe showtime and %s/logs", phase, d.o.StateDir)
	}
	readyIn := time.Since(began).Round(100 * time.Millisecond)
	sample := boxv1.NamedShowtime(u.GetNamespace(), u.GetName())
	name := sample.FrontendName()
	ips := d.readyAddresses(ctx, u.GetNamespace(), name)
	var fwd string
	if d.o.ExposePort > 0 {
		addr := fmt.Sprintf("127.0.0.1:%d", d.o.ExposePort)
		if err := network.Forward(ctx, addr, func() []string { return d.readyAddresses(ctx, u.GetNamespace(), name) }, 8080); err != nil {
			d.logf("no forward on %s: %v", addr, err)
		} else {
			fwd = "http://" + addr + "/"
		}
	}
	fmt.Printf("\nBox office is running on the local cluster (Showtime %s %s after apply).\n\n", phase, readyIn)
	fmt.Printf("  Booking page:   ")
	if len(ips) > 0 {
		fmt.Printf("http://%s:8080/", ips[0])
	}
	if fwd != "" {
		fmt.Printf("   (forwarded: %s)", fwd)
	}
	fmt.Printf("\n  kubectl:        export KUBECONFIG=%s PATH=%s:$PATH\n", d.cp.Kubeconfig, d.cp.Bins)
	fmt.Printf(`
  Try next:
    kubectl get showtimes                      # phase, seats available / held / sold
    kubectl get pods,svc,pvc -o wide           # shard and front-end pods with their IPs
    kubectl describe showtime %[1]s
    kubectl delete pod %[4]s     # the member comes back on its volume; the others sell on
    kubectl get showtime %[1]s -o jsonpath='{.status.shard.members[?(@.role=="leader")].node}'
                                               # the leader's node: kill or cut it (Faults below);
                                               # writes pause about a second, MEMBERS shows 2/3
    kubectl label showtime %[1]s tier=headline   # refused: the sale freeze (webhook)
    book seats in the page, then kubectl get showtimes again
  Logs: manager %[2]s/logs/manager.log, pods %[2]s/pods/*/<container>.log
%[3]s
  Ctrl-C stops everything and removes what it made.

`, u.GetName(), d.o.StateDir, d.faults, sample.ShardPodName(0))
	return nil
}

// readyAddresses are a Service's ready endpoint IPs.
func (d *devSession) readyAddresses(ctx context.Context, ns, svc string) []string {
	l, err := d.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil
	}
	return network.ReadyAddresses(l.Items)
}
