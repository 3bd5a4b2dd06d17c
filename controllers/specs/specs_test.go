package specs

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/frontend"
	"boxoffice.dev/boxoffice/shard"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
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
	st.Spec.Shard.Replicas = 1 // a single shard cannot be evicted during the sale
	o, c := st.Spec.Sales.OpensAt.Time, st.Spec.Sales.ClosesAt.Time
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{o.Add(-time.Nanosecond), false}, {o, true}, {c.Add(-time.Nanosecond), true}, {c, false}} {
		if got := OnSale(st, tc.at); got != tc.want {
			t.Errorf("OnSale(%s) = %v, want %v", tc.at, got, tc.want)
		}
		pdb := ShardPDB(st, Options{}, tc.at)
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
	st.Spec.Shard.Replicas = 1 // contract v1 flags only
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

func TestVersionFromImage(t *testing.T) {
	long := "v1." + strings.Repeat("9", 80)
	for _, tc := range []struct{ image, want string }{
		{"registry.example/boxoffice:v1.2.3", "v1.2.3"},
		{"boxoffice:1.0", "1.0"},
		{"ghcr.io/acme/boxoffice:2026.11.25_rc-1", "2026.11.25_rc-1"},
		{"localhost:5000/boxoffice", ""},       // a registry port is not a tag
		{"localhost:5000/boxoffice:v2", "v2"},  // but a tag after it is
		{"registry.example/boxoffice", ""},     // no tag
		{"boxoffice@sha256:0123abcd", ""},      // digest only
		{"boxoffice:v3@sha256:0123abcd", "v3"}, // tag and digest: the tag
		{"boxoffice:_internal.", "internal"},   // trimmed to alphanumeric ends
		{"boxoffice:" + long, long[:63]},
		{"boxoffice:" + strings.Repeat("9", 62) + ".x", strings.Repeat("9", 62)},
		{"boxoffice:", ""},
		{"boxoffice:---", ""},
		{"", ""},
	} {
		got := VersionFromImage(tc.image)
		if got != tc.want {
			t.Errorf("VersionFromImage(%q) = %q, want %q", tc.image, got, tc.want)
		}
		if got != "" {
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
				t.Errorf("VersionFromImage(%q) = %q is not a label value: %v", tc.image, got, errs)
			}
		}
	}
}

// The version label is on every applied object's own metadata, per its
// component's image, and never on a pod template, claim template or selector.
func TestVersionLabelOnObjectsOnly(t *testing.T) {
	st := showtime()
	st.Spec.Frontend.Image = "registry.example/boxoffice-frontend:v2.0.1"
	o := Options{DefaultImage: "registry.example/boxoffice:v1.2.3"}
	now := st.Spec.Sales.OpensAt.Time
	cm, err := SeatMapConfigMap(st, o)
	if err != nil {
		t.Fatal(err)
	}
	sts := ShardStatefulSet(st, o)
	dep := FrontendDeployment(st, o)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"seat-map configmap", cm.Labels, "v1.2.3"},
		{"shard service", ShardService(st, o).Labels, "v1.2.3"},
		{"shard statefulset", sts.Labels, "v1.2.3"},
		{"shard pdb", ShardPDB(st, o, now).Labels, "v1.2.3"},
		{"shard networkpolicy", ShardNetworkPolicy(st, o).Labels, "v1.2.3"},
		{"frontend deployment", dep.Labels, "v2.0.1"},
		{"frontend service", FrontendService(st, o).Labels, "v2.0.1"},
		{"frontend pdb", FrontendPDB(st, o).Labels, "v2.0.1"},
		{"frontend hpa", FrontendHPA(st, o, now).Labels, "v2.0.1"},
	} {
		if got := tc.labels[boxv1.LabelVersion]; got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, boxv1.LabelVersion, got, tc.want)
		}
	}
	for name, labels := range map[string]map[string]string{
		"shard pod template":        sts.Spec.Template.Labels,
		"shard claim template":      sts.Spec.VolumeClaimTemplates[0].Labels,
		"shard selector":            sts.Spec.Selector.MatchLabels,
		"shard service selector":    ShardService(st, o).Spec.Selector,
		"shard pdb selector":        ShardPDB(st, o, now).Spec.Selector.MatchLabels,
		"shard networkpolicy pods":  ShardNetworkPolicy(st, o).Spec.PodSelector.MatchLabels,
		"frontend pod template":     dep.Spec.Template.Labels,
		"frontend selector":         dep.Spec.Selector.MatchLabels,
		"frontend service selector": FrontendService(st, o).Spec.Selector,
		"frontend pdb selector":     FrontendPDB(st, o).Spec.Selector.MatchLabels,
		"generated secret":          RandomSecret(st, "s", boxv1.ComponentShard, boxv1.TokenSecretKey, "x").Labels,
	} {
		if v, ok := labels[boxv1.LabelVersion]; ok {
			t.Errorf("%s has %s=%q; it must not", name, boxv1.LabelVersion, v)
		}
	}

	// A digest-pinned image has no version to show.
	o.DefaultImage = "registry.example/boxoffice@sha256:0123abcd"
	if v, ok := ShardStatefulSet(st, o).Labels[boxv1.LabelVersion]; ok {
		t.Errorf("digest-pinned shard has %s=%q", boxv1.LabelVersion, v)
	}
}

// TestShowFile: the booking page's show comes from a file in the seat-map
// ConfigMap (so a fixed title reaches the pages without a restart), in the
// JSON the front end reads.
func TestShowFile(t *testing.T) {
	st := showtime()
	st.Spec.Title = "Stand-up 10, night 1"
	st.Spec.StartsAt = metav1.NewTime(time.Date(2026, 12, 5, 20, 0, 0, 0, time.FixedZone("+07", 7*3600)))
	st.Spec.Venue = boxv1.Venue{Name: "Riverside Hall, Bangkok", TimeZone: "Asia/Bangkok"}
	cm, err := SeatMapConfigMap(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got frontend.ShowInfo
	if err := json.Unmarshal([]byte(cm.Data[boxv1.ShowKey]), &got); err != nil {
		t.Fatal(err)
	}
	want := frontend.ShowInfo{Title: "Stand-up 10, night 1", StartsAt: "2026-12-05T13:00:00Z", Venue: "Riverside Hall, Bangkok", TimeZone: "Asia/Bangkok"}
	if got != want {
		t.Fatalf("show file %s, want %+v", cm.Data[boxv1.ShowKey], want)
	}
	if !slices.Contains(FrontendArgs(st, Options{}), "--show-file=/etc/boxoffice/seatmap/show.json") {
		t.Fatalf("front-end args %q do not name the show file", FrontendArgs(st, Options{}))
	}
	before := FrontendArgs(st, Options{})
	st.Spec.Title = "Stand-up 10, night 1 (moved)"
	if !slices.Equal(before, FrontendArgs(st, Options{})) {
		t.Fatal("a new title changes the front end's command line, which would restart every front-end pod")
	}
}

// TestFrontendArgsCarryShowtimeRules: the sale rules and client limits of
// the Showtime reach the front end as flags it accepts, with defaults when
// unset, 0 kept as "off", and the operator's trusted-proxy hops unless the
// Showtime names its own.
func TestFrontendArgsCarryShowtimeRules(t *testing.T) {
	has := func(t *testing.T, args []string, want ...string) {
		t.Helper()
		joined := " " + strings.Join(args, " ") + " "
		for _, w := range want {
			if !strings.Contains(joined, " "+w+" ") {
				t.Errorf("args lack %q: %v", w, args)
			}
		}
	}
	st := showtime()
	args := FrontendArgs(st, Options{FrontendTrustedProxyHops: 2})
	has(t, args, "--hold-ttl=10m0s", "--max-hold-lifetime=20m0s", "--payment-ttl=15m0s",
		"--max-seats-per-holder=8", "--client-seats=32", "--max-client-streams=8",
		"--new-session-rate=1", "--new-session-burst=20", "--trusted-proxy-hops=2",
		"--session-previous-key-file=/etc/boxoffice/session/previous")
	for _, a := range args {
		if a == "--insecure-cookies" {
			t.Error("cookies are Secure unless the Showtime says plainHTTP")
		}
	}

	zero, one, hops := int32(0), int32(30), int32(1)
	st.Spec.Sales.HoldTTL = metav1.Duration{Duration: 90 * time.Minute}
	st.Spec.Sales.PaymentTTL = metav1.Duration{Duration: 5 * time.Minute}
	st.Spec.Sales.MaxSeatsPerHolder = 4
	st.Spec.Frontend.ClientLimits = boxv1.ClientLimits{NewSessionsPerMinute: &one, SeatsPerHoldTTL: &zero, StreamsPerClient: &zero}
	st.Spec.Frontend.TrustedProxyHops = &hops
	st.Spec.Frontend.PlainHTTP = true
	has(t, FrontendArgs(st, Options{FrontendTrustedProxyHops: 2}),
		"--hold-ttl=1h30m0s", "--max-hold-lifetime=2h0m0s", "--payment-ttl=5m0s", "--max-seats-per-holder=4",
		"--client-seats=0", "--max-client-streams=0", "--new-session-rate=0.5", "--trusted-proxy-hops=1",
		"--insecure-cookies")
}

// TestFrontendArgsParse: the front end accepts every flag the operator
// passes, so a Showtime's rules cannot be lost to a misspelt flag.
func TestFrontendArgsParse(t *testing.T) {
	st := showtime()
	st.Spec.Frontend.PlainHTTP = true
	args := FrontendArgs(st, Options{FrontendTrustedProxyHops: 1})
	c, err := frontend.ParseFlags(args[1:], io.Discard)
	if err != nil {
		t.Fatalf("front end refuses the operator's flags %v: %v", args, err)
	}
	if c.HoldTTL != 10*time.Minute || c.PaymentTTL != 15*time.Minute || c.ClientSeats != 32 ||
		c.TrustedProxyHops != 1 || !c.InsecureCookies || c.NewSessionRate != 1 {
		t.Fatalf("parsed %+v", c)
	}
}

// With the waiting room on, the shard gets its flags with the CRD's
// defaults filled in, and the shard's own flag parser accepts them.
func TestShardArgsWaitingRoom(t *testing.T) {
	st := showtime()
	if slices.Contains(ShardArgs(st, Options{}), "--waiting-room") {
		t.Fatal("--waiting-room with the room off")
	}
	st.Spec.Sales.WaitingRoom.Enabled = true
	args := ShardArgs(st, Options{})
	opens := "--opens-at=" + st.Spec.Sales.OpensAt.UTC().Format(time.RFC3339)
	for _, want := range []string{"--waiting-room", opens, "--waiting-room-max-active=200",
		"--waiting-room-idle-timeout=3m0s", "--waiting-room-pre-queue=30m0s"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	st.Spec.Sales.WaitingRoom = boxv1.WaitingRoom{Enabled: true, MaxActiveBuyers: 50,
		IdleTimeout: metav1.Duration{Duration: 90 * time.Second}, PreQueue: &metav1.Duration{}}
	args = ShardArgs(st, Options{})
	for _, want := range []string{"--waiting-room-max-active=50", "--waiting-room-idle-timeout=1m30s", "--waiting-room-pre-queue=0s"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	// The pod's ordinal comes from the downward API in a cluster.
	for i, a := range args {
		args[i] = strings.ReplaceAll(strings.ReplaceAll(a, "$(POD_ORDINAL)", "0"), "$(POD_NAME)", "gig-shard-0")
	}
	o, err := shard.ParseFlags(args[1:], func(string) string { return "" }, io.Discard)
	if err != nil || !o.Room.Enabled || o.Room.MaxActive != 50 || o.Room.PreQueue != 0 {
		t.Fatalf("the shard does not take the operator's room flags: %+v %v", o, err)
	}
}
