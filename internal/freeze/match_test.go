package freeze

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
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

}

// TestSaleFreezeDurations: only an absent before/after takes the default;
// 0s is zero, and enabled: false switches the freeze off whatever the
// durations. The fields are what a Showtime carries as JSON, so the table
// also checks they survive a Go client's round trip (0s is not dropped and
// re-defaulted by the API server).
func TestSaleFreezeDurations(t *testing.T) {
	opens := utc("2026-11-25T03:00:00Z")
	tests := []struct {
		name       string
		json       string // spec.sales.freeze as stored
		ok         bool
		start, end time.Time
		frozenAt   []time.Duration // offsets from opensAt that are frozen
		freeAt     []time.Duration // offsets that are not
	}{
		{name: "absent: defaults", json: `{}`, ok: true,
			start: opens.Add(-30 * time.Minute), end: opens.Add(2 * time.Hour),
			frozenAt: []time.Duration{-30 * time.Minute, 0, 2*time.Hour - time.Second},
			freeAt:   []time.Duration{-31 * time.Minute, 2 * time.Hour}},
		{name: "CRD defaults filled in", json: `{"enabled":true,"before":"30m","after":"2h"}`, ok: true,
			start: opens.Add(-30 * time.Minute), end: opens.Add(2 * time.Hour)},
		{name: "before 0s is zero, after absent is 2h", json: `{"before":"0s"}`, ok: true,
			start: opens, end: opens.Add(2 * time.Hour),
			frozenAt: []time.Duration{0, time.Hour}, freeAt: []time.Duration{-time.Second}},
		{name: "after 0s is zero, before absent is 30m", json: `{"after":"0s"}`, ok: true,
			start: opens.Add(-30 * time.Minute), end: opens,
			frozenAt: []time.Duration{-time.Minute}, freeAt: []time.Duration{0, time.Minute}},
		{name: "both 0s: an empty window, not the defaults", json: `{"before":"0s","after":"0s"}`, ok: true,
			start: opens, end: opens,
			freeAt: []time.Duration{-time.Minute, 0, time.Minute}},
		{name: "custom", json: `{"before":"1h","after":"0s"}`, ok: true,
			start: opens.Add(-time.Hour), end: opens},
		{name: "custom both", json: `{"before":"2h30m","after":"45m"}`, ok: true,
			start: opens.Add(-150 * time.Minute), end: opens.Add(45 * time.Minute)},
		{name: "disabled", json: `{"enabled":false}`,
			freeAt: []time.Duration{-time.Minute, 0, time.Minute}},
		{name: "disabled with durations", json: `{"enabled":false,"before":"1h","after":"1h"}`,
			freeAt: []time.Duration{0}},
		{name: "enabled absent with 0s durations", json: `{"before":"0s","after":"0s"}`, ok: true,
			start: opens, end: opens},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f boxv1.SaleFreeze
			if err := json.Unmarshal([]byte(tc.json), &f); err != nil {
				t.Fatal(err)
			}
			// A Go client writing the object back sends what it read.
			out, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			var back, in map[string]any
			_ = json.Unmarshal(out, &back)
			_ = json.Unmarshal([]byte(tc.json), &in)
			if !reflect.DeepEqual(slices.Sorted(maps.Keys(back)), slices.Sorted(maps.Keys(in))) {
				t.Errorf("round trip %s -> %s: fields dropped or added", tc.json, out)
			}

			st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n"}}
			st.Spec.Sales.OpensAt = metav1.NewTime(opens)
			st.Spec.Sales.Freeze = f
			start, end, ok := SaleFreezeWindow(st)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && (!start.Equal(tc.start) || !end.Equal(tc.end)) {
				t.Errorf("window [%s, %s), want [%s, %s)", start, end, tc.start, tc.end)
			}
			for _, d := range tc.frozenAt {
				if _, hit := SaleHit(st, opens.Add(d)); !hit {
					t.Errorf("not frozen at opensAt%+v", d)
				}
			}
			for _, d := range tc.freeAt {
				if _, hit := SaleHit(st, opens.Add(d)); hit {
					t.Errorf("frozen at opensAt%+v", d)
				}
			}
		})
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

func TestEndStringNamesTheZoneOnce(t *testing.T) {
	end := time.Date(2026, 12, 1, 11, 23, 0, 0, time.UTC)
	if got := (Hit{End: end}).EndString(); got != "2026-12-01 11:23 UTC (+00:00)" {
		t.Fatalf("UTC: %q", got)
	}
	bkk, err := time.LoadLocation("Asia/Bangkok")
	if err != nil {
		t.Skip(err)
	}
	if got := (Hit{End: end, Location: bkk}).EndString(); got != "2026-12-01 18:23 +07 (+07:00) Asia/Bangkok" {
		t.Fatalf("Bangkok: %q", got)
	}
}
