package specs

import (
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func showtime() *boxv1.Showtime {
	opens := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	return &boxv1.Showtime{
		ObjectMeta: metav1.ObjectMeta{Name: "gig", Namespace: "venues"},
		Spec: boxv1.ShowtimeSpec{Sales: boxv1.Sales{
			OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(24 * time.Hour)),
		}},
	}
}

func TestOnSaleBoundaries(t *testing.T) {
	st := showtime()
	o, c := st.Spec.Sales.OpensAt.Time, st.Spec.Sales.ClosesAt.Time
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{o.Add(-time.Nanosecond), false}, {o, true}, {c.Add(-time.Nanosecond), true}, {c, false}} {
		if got := OnSale(st, tc.at); got != tc.want {
			t.Errorf("OnSale(%s) = %v, want %v", tc.at, got, tc.want)
		}
		pdb := ShardPDB(st, tc.at)
		want := 1
		if tc.want {
			want = 0
		}
		if got := pdb.Spec.MaxUnavailable.IntValue(); got != want {
			t.Errorf("PDB maxUnavailable at %s = %d, want %d", tc.at, got, want)
		}
	}
}

func TestFrontendFloor(t *testing.T) {
	st := showtime()
	o := st.Spec.Sales.OpensAt.Time
	if got := FrontendFloor(st, o); got != 2 {
		t.Fatalf("default floor %d, want 2", got)
	}
	st.Spec.Frontend.Autoscaling = boxv1.FrontendAutoscaling{MinReplicas: 3, MaxReplicas: 10,
		PreScale: &boxv1.PreScale{Replicas: 50, Lead: metav1.Duration{Duration: time.Hour}, Hold: metav1.Duration{Duration: time.Hour}}}
	cases := []struct {
		at   time.Time
		want int32
	}{
		{o.Add(-time.Hour - time.Nanosecond), 3},
		{o.Add(-time.Hour), 10}, // pre-scale replicas capped by maxReplicas
		{o.Add(time.Hour - time.Nanosecond), 10},
		{o.Add(time.Hour), 3},
	}
	for _, c := range cases {
		if got := FrontendFloor(st, c.at); got != c.want {
			t.Errorf("floor at %s = %d, want %d", c.at, got, c.want)
		}
	}
}

func TestShardArgsFollowContract(t *testing.T) {
	st := showtime()
	args := ShardArgs(st, Options{})
	want := []string{"shard", "--showtime=venues/gig", "--seat-map=/etc/boxoffice/seatmap/seatmap.yaml",
		"--data-dir=/var/lib/boxoffice", "--listen=:7070", "--token-file=/etc/boxoffice/token/token",
		"--hold-ttl=10m0s", "--max-seats-per-holder=8"}
	if len(args) != len(want) {
		t.Fatalf("args %v, want %v", args, want)
	}
	for i := range want {
		if args[i] != want[i] {
			t.Errorf("arg %d = %q, want %q", i, args[i], want[i])
		}
	}
}

func TestTokensAreRandom(t *testing.T) {
	a, _ := NewToken()
	b, _ := NewToken()
	if a == b || len(a) != 43 {
		t.Fatalf("tokens %q %q", a, b)
	}
}
