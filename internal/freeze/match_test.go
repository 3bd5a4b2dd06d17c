package freeze

import (
	"context"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func window(name, reason string, spec boxv1.FreezeWindowSpec) boxv1.FreezeWindow {
	spec.Reason = reason
	return boxv1.FreezeWindow{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func TestActiveWindowsOverlapAndSelectors(t *testing.T) {
	now := utc("2026-11-11T03:00:00Z")
	promo := window("promo-1111", "11.11 sale", cronSpec("Asia/Bangkok", "0 0 11 11 *", 24*time.Hour))
	monthEnd := window("month-end", "month-end close", lastDaysSpec("UTC", 3))
	release := window("release-freeze", "release freeze", oneOffSpec("2026-11-10T00:00:00Z", "2026-11-12T12:00:00Z"))
	release.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}
	vip := window("vip-only", "VIP drop", oneOffSpec("2026-11-10T00:00:00Z", "2026-11-12T12:00:00Z"))
	vip.Spec.ShowtimeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "vip", Operator: metav1.LabelSelectorOpExists}}}
	ws := []boxv1.FreezeWindow{vip, monthEnd, release, promo}

	hits := ActiveWindows(ws, map[string]string{"tier": "gold"}, map[string]string{"vip": "yes"}, now)
	names := []string{}
	for _, h := range hits {
		names = append(names, h.Window)
	}
	if strings.Join(names, ",") != "promo-1111,release-freeze,vip-only" {
		t.Fatalf("hits = %v", names)
	}
	// Each overlapping window keeps its own end and zone.
	if !hits[0].End.Equal(utc("2026-11-11T17:00:00Z")) || hits[0].Location.String() != "Asia/Bangkok" {
		t.Errorf("promo hit %+v", hits[0])
	}
	if got := hits[0].String(); !strings.Contains(got, `FreezeWindow "promo-1111" (reason: 11.11 sale) until 2026-11-12 00:00 +07 (+07:00) Asia/Bangkok`) {
		t.Errorf("message %q", got)
	}
	if !hits[1].End.Equal(utc("2026-11-12T12:00:00Z")) {
		t.Errorf("release hit %+v", hits[1])
	}

	// Selectors: another namespace, a showtime without the label.
	hits = ActiveWindows(ws, map[string]string{"tier": "silver"}, nil, now)
	if len(hits) != 1 || hits[0].Window != "promo-1111" {
		t.Fatalf("hits = %+v", hits)
	}

	b := Boundaries(ws, map[string]string{"tier": "gold"}, nil, now)
	if len(b) != 3 {
		t.Fatalf("boundaries %v", b)
	}
}

func TestSaleFreeze(t *testing.T) {
	opens := utc("2026-11-25T03:00:00Z")
	st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n"}}
	st.Spec.Sales.OpensAt = metav1.NewTime(opens)
	st.Spec.Sales.ClosesAt = metav1.NewTime(opens.Add(48 * time.Hour))

	start, end, ok := SaleFreezeWindow(st)
	if !ok || !start.Equal(opens.Add(-30*time.Minute)) || !end.Equal(opens.Add(2*time.Hour)) {
		t.Fatalf("default window %s %s %v", start, end, ok)
	}
	if _, ok := SaleHit(st, opens.Add(-31*time.Minute)); ok {
		t.Error("frozen before the window")
	}
	h, ok := SaleHit(st, opens.Add(-30*time.Minute))
	if !ok || !h.Sale() || !strings.Contains(h.String(), "sale freeze (spec.sales.freeze, 30m before to 2h after opensAt 2026-11-25T03:00:00Z) until 2026-11-25 05:00 UTC") {
		t.Errorf("hit %v %q", ok, h.String())
	}
	if _, ok := SaleHit(st, opens.Add(2*time.Hour)); ok {
		t.Error("frozen at the end")
	}

	st.Spec.Sales.Freeze = boxv1.SaleFreeze{Before: metav1.Duration{Duration: time.Hour}, After: metav1.Duration{Duration: 0}}
	start, end, _ = SaleFreezeWindow(st)
	if !start.Equal(opens.Add(-time.Hour)) || !end.Equal(opens) {
		t.Errorf("custom window %s %s", start, end)
	}
	off := false
	st.Spec.Sales.Freeze.Enabled = &off
	if _, _, ok := SaleFreezeWindow(st); ok {
		t.Error("disabled sale freeze applies")
	}
}

func TestBlockingReadsWindowsAndNamespace(t *testing.T) {
	s := runtime.NewScheme()
	_ = boxv1.AddToScheme(s)
	_ = corev1.AddToScheme(s)
	w := window("gold", "gold freeze", oneOffSpec("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"))
	w.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(&w,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"tier": "gold"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b"}}).Build()
	now := utc("2026-01-01T12:00:00Z")
	hits, err := Blocking(context.Background(), c, "a", nil, now)
	if err != nil || len(hits) != 1 || hits[0].Window != "gold" {
		t.Fatalf("a: %v %+v", err, hits)
	}
	hits, err = Blocking(context.Background(), c, "b", nil, now)
	if err != nil || len(hits) != 0 {
		t.Fatalf("b: %v %+v", err, hits)
	}
	hits, err = Blocking(context.Background(), c, "a", nil, now.Add(24*time.Hour))
	if err != nil || len(hits) != 0 {
		t.Fatalf("after: %v %+v", err, hits)
	}
}
