package v1alpha1

import (
	"maps"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestOwnedObjectNames pins every name a Showtime's objects carry. Pods,
// the plugin, dashboards and users' scripts find objects by these names, so
// a change here must be a deliberate one.
func TestOwnedObjectNames(t *testing.T) {
	st := NamedShowtime("venues", "gig")
	for _, tc := range []struct{ what, got, want string }{
		{"ID", st.ID(), "venues/gig"},
		{"ShardName", st.ShardName(), "gig-shard"},
		{"ShardPodName(0)", st.ShardPodName(0), "gig-shard-0"},
		{"ShardPodName(2)", st.ShardPodName(2), "gig-shard-2"},
		{"ShardDomain", st.ShardDomain(), "gig-shard.venues.svc"},
		{"ShardPodHost(1)", st.ShardPodHost(1), "gig-shard-1.gig-shard.venues.svc"},
		{"ShardClaimName(0)", st.ShardClaimName(0), "data-gig-shard-0"},
		{"SeatMapName", st.SeatMapName(), "gig-seatmap"},
		{"TokenSecretName", st.TokenSecretName(), "gig-shard-token"},
		{"PeerTokenSecretName", st.PeerTokenSecretName(), "gig-shard-peer-token"},
		{"FrontendName", st.FrontendName(), "gig-frontend"},
		{"SessionSecretName", st.SessionSecretName(), "gig-frontend-session"},
		{"GeneratedPaymentSecretName", st.GeneratedPaymentSecretName(), "gig-payment-callback"},
		{"PaymentSecretName (generated)", st.PaymentSecretName(), "gig-payment-callback"},
		{"TokenSecretKey", TokenSecretKey, "token"},
		{"PeerTokenSecretKey", PeerTokenSecretKey, "token"},
		{"SessionKeyKey", SessionKeyKey, "key"},
		{"SessionPreviousKeyKey", SessionPreviousKeyKey, "previous"},
		{"PaymentSecretKey", PaymentSecretKey, "secret"},
		{"SeatMapKey", SeatMapKey, "seatmap.yaml"},
		{"ShowKey", ShowKey, "show.json"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
}

func TestPaymentSecretName(t *testing.T) {
	st := NamedShowtime("venues", "gig")
	st.Spec.Frontend.Payments.CallbackSecretName = "psp"
	if got := st.PaymentSecretName(); got != "psp" {
		t.Errorf("named secret: %q, want psp", got)
	}
	st.Spec.Frontend.Payments.Demo = true
	if got := st.PaymentSecretName(); got != "" {
		t.Errorf("demo mode: %q, want none", got)
	}
}

func TestShardPodNamesAndOrdinals(t *testing.T) {
	st := NamedShowtime("venues", "gig")
	if got := st.ShardPodNames(); !slices.Equal(got, []string{"gig-shard-0", "gig-shard-1", "gig-shard-2"}) {
		t.Errorf("default members %v", got)
	}
	st.Spec.Shard.Replicas = 1
	if got := st.ShardPodNames(); !slices.Equal(got, []string{"gig-shard-0"}) {
		t.Errorf("single shard %v", got)
	}
	for pod, want := range map[string]int{"gig-shard-0": 0, "gig-shard-4": 4, "gig-shard-04": -1, "gig-shard-x": -1,
		"gig-shard--1": -1, "other-shard-1": -1, "gig-shard-": -1, "gig-frontend-0": -1} {
		if got := st.ShardOrdinal(pod); got != want {
			t.Errorf("ShardOrdinal(%q) = %d, want %d", pod, got, want)
		}
	}
}

func TestLabels(t *testing.T) {
	st := NamedShowtime("venues", "gig")
	sel := map[string]string{
		"app.kubernetes.io/name":     "boxoffice-shard",
		"app.kubernetes.io/instance": "gig",
		"boxoffice.dev/showtime":     "gig",
	}
	if got := st.SelectorLabels(ComponentShard); !maps.Equal(got, sel) {
		t.Errorf("selector labels %v, want %v", got, sel)
	}
	full := map[string]string{
		"app.kubernetes.io/name":       "boxoffice-frontend",
		"app.kubernetes.io/instance":   "gig",
		"boxoffice.dev/showtime":       "gig",
		"app.kubernetes.io/component":  "frontend",
		"app.kubernetes.io/part-of":    "boxoffice",
		"app.kubernetes.io/managed-by": "boxoffice-operator",
	}
	if got := st.OwnedLabels(ComponentFrontend); !maps.Equal(got, full) {
		t.Errorf("owned labels %v, want %v", got, full)
	}
}

func TestDefaults(t *testing.T) {
	st := NamedShowtime("venues", "gig")
	st.Spec.Sales.OpensAt = metav1.NewTime(time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	if st.ShardReplicas() != 3 || !st.Replicated() {
		t.Errorf("replicas %d, replicated %v; want 3, true", st.ShardReplicas(), st.Replicated())
	}
	if st.HoldTTL() != 10*time.Minute || st.PaymentTTL() != 15*time.Minute || st.MaxSeatsPerHolder() != 8 {
		t.Errorf("sales defaults %v %v %d", st.HoldTTL(), st.PaymentTTL(), st.MaxSeatsPerHolder())
	}
	if st.MaxHoldLifetime() != 20*time.Minute {
		t.Errorf("max hold lifetime %v, want twice holdTTL", st.MaxHoldLifetime())
	}
	st.Spec.Sales.HoldTTL.Duration = 90 * time.Minute
	if st.MaxHoldLifetime() != 2*time.Hour {
		t.Errorf("max hold lifetime %v, want the 2h cap", st.MaxHoldLifetime())
	}
	st.Spec.Sales.MaxHoldLifetime = &metav1.Duration{Duration: time.Minute}
	if st.MaxHoldLifetime() != 90*time.Minute {
		t.Errorf("max hold lifetime %v, want never below holdTTL", st.MaxHoldLifetime())
	}
	w := st.WaitingRoom()
	if w.MaxActiveBuyers != 200 || w.IdleTimeout.Duration != 3*time.Minute || w.PreQueue == nil || w.PreQueue.Duration != 30*time.Minute {
		t.Errorf("waiting room defaults %+v", w)
	}
	if minR, maxR, cpu := st.FrontendAutoscaling(); minR != 2 || maxR != 50 || cpu != 60 {
		t.Errorf("autoscaling defaults %d %d %d", minR, maxR, cpu)
	}
	st.Spec.Frontend.Autoscaling.MinReplicas, st.Spec.Frontend.Autoscaling.MaxReplicas = 80, 10
	if minR, maxR, _ := st.FrontendAutoscaling(); minR != 80 || maxR != 80 {
		t.Errorf("ceiling below floor: %d..%d, want 80..80", minR, maxR)
	}
	if _, _, ok := st.PreScaleWindow(); ok {
		t.Error("a pre-scale window without preScale")
	}
	st.Spec.Frontend.Autoscaling.PreScale = &PreScale{Replicas: 20}
	start, end, ok := st.PreScaleWindow()
	if !ok || !start.Equal(st.Spec.Sales.OpensAt.Add(-30*time.Minute)) || !end.Equal(st.Spec.Sales.OpensAt.Add(2*time.Hour)) {
		t.Errorf("pre-scale window %v..%v (%v)", start, end, ok)
	}
	l := st.ClientLimits()
	if *l.NewSessionsPerMinute != 60 || *l.NewSessionBurst != 20 || *l.SeatsPerHoldTTL != 32 || *l.StreamsPerClient != 8 {
		t.Errorf("client limit defaults %+v", l)
	}
	off := int32(0)
	st.Spec.Frontend.ClientLimits.StreamsPerClient = &off
	if l := st.ClientLimits(); *l.StreamsPerClient != 0 {
		t.Errorf("0 (off) became %d", *l.StreamsPerClient)
	}
}
