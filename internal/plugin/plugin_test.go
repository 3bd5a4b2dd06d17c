package plugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

var now = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)

func fixture(t *testing.T) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = boxv1.AddToScheme(s)
	st := &boxv1.Showtime{
		ObjectMeta: metav1.ObjectMeta{Name: "standup", Namespace: "venues", Generation: 3},
		Spec: boxv1.ShowtimeSpec{
			Title: "Stand-up 10, night 1",
			Sales: boxv1.Sales{OpensAt: metav1.NewTime(now.Add(10 * time.Minute)), ClosesAt: metav1.NewTime(now.Add(48 * time.Hour))},
		},
		Status: boxv1.ShowtimeStatus{
			Phase: boxv1.PhaseReady, ObservedGeneration: 3,
			Seats:    boxv1.SeatCounts{Total: 252, Available: 120, Held: 12, AwaitingPayment: 3, Sold: 117},
			Shard:    boxv1.ShardStatus{Pod: "standup-shard-0", Image: "reg/boxoffice:v1.3.0", Ready: true, Epoch: 4, Version: 81234},
			Frontend: boxv1.FrontendStatus{Replicas: 20, ReadyReplicas: 20, Image: "reg/boxoffice:v1.2.3", PreScaled: true},
			Rollout:  &boxv1.ShowtimeRolloutStatus{Name: "canary-130", Step: 1, State: boxv1.ShowtimeBaking, Message: "ready on the target"},
		},
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: st.FrontendName(), Namespace: st.Namespace},
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](20), MaxReplicas: 50},
		Status:     autoscalingv2.HorizontalPodAutoscalerStatus{DesiredReplicas: 20},
	}
	ro := &boxv1.ShardRollout{
		ObjectMeta: metav1.ObjectMeta{Name: "canary-130"},
		Spec: boxv1.ShardRolloutSpec{Target: boxv1.RolloutTarget{ShardImage: "reg/boxoffice:v1.3.0"},
			Steps: []boxv1.RolloutStep{{Count: ptr.To[int32](1)}, {Percent: ptr.To[int32](100)}}},
		Status: boxv1.ShardRolloutStatus{
			Phase: boxv1.RolloutProgressing, Reason: "Baking", Message: "step 1: baking until 2026-11-25T02:01:00Z",
			CurrentStep: 1, Steps: 2, StepTarget: 1, Total: 2, InProgress: 1, BakeUntil: ptr.To(metav1.NewTime(now.Add(time.Minute))),
			Showtimes: []boxv1.RolloutShowtime{
				{Namespace: "venues", Name: "standup", State: boxv1.ShowtimeBaking, Step: 1, WritePause: "1.2s", Analysis: boxv1.AnalysisPassed, Message: "ready, 0 restarts; write errors 0/150"},
				{Namespace: "venues", Name: "standup-2", State: boxv1.ShowtimePending},
			},
		},
	}
	fw := &boxv1.FreezeWindow{
		ObjectMeta: metav1.ObjectMeta{Name: "singles-day"},
		Spec: boxv1.FreezeWindowSpec{Reason: "11.11 sale", TimeZone: "Asia/Bangkok",
			OneOff: &boxv1.OneOffPeriod{Start: metav1.NewTime(now.Add(24 * time.Hour)), End: metav1.NewTime(now.Add(48 * time.Hour))}},
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "venues"}}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(st, hpa, ro, fw, ns).WithStatusSubresource(st, ro).Build()
}

func run(t *testing.T, c client.Client, args ...string) (string, int) {
	t.Helper()
	var out strings.Builder
	env := &Env{Client: c, Streams: genericiooptions.IOStreams{Out: &out, ErrOut: &out}, Now: func() time.Time { return now }}
	code := Main(context.Background(), append(args, "-n", "venues"), env)
	return out.String(), code
}

func TestStatusForPeople(t *testing.T) {
	out, code := run(t, fixture(t), "status", "standup")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{
		`Showtime:   venues/standup  "Stand-up 10, night 1"`,
		"Phase:      Ready",
		"Seats:      252 total: 120 available, 12 held, 3 awaiting payment, 117 sold",
		"Shard:      standup-shard-0  ready  epoch 4  version 81234",
		"image reg/boxoffice:v1.3.0",
		"Front end:  20/20 ready  HPA min 20 max 50 desired 20  (pre-scaled for the sale)",
		"Freeze:     FROZEN until 2026-11-25T04:10:00Z",
		"by the showtime's own sale freeze",
		"Rollout:    canary-130 (Progressing): step 1 of 2, Baking",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestStatusJSONAndNotFound(t *testing.T) {
	c := fixture(t)
	out, code := run(t, c, "status", "standup", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var v ShowtimeView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if v.Seats.Sold != 117 || !v.Freeze.Frozen || v.Rollout == nil || v.Rollout.Name != "canary-130" || v.Frontend.HPAMax == nil || *v.Frontend.HPAMax != 50 {
		t.Errorf("unexpected view: %+v", v)
	}
	if out, code := run(t, c, "status", "nope"); code != ExitNotFound || !strings.Contains(out, "not found") {
		t.Errorf("exit %d, want %d: %s", code, ExitNotFound, out)
	}
	if _, code := run(t, c, "status"); code != ExitUsage {
		t.Errorf("no argument: exit %d, want %d", code, ExitUsage)
	}
	if _, code := run(t, c, "status", "standup", "-o", "xml"); code != ExitUsage {
		t.Errorf("-o xml: exit %d, want %d", code, ExitUsage)
	}
	if _, code := run(t, c, "--no-such-flag"); code != ExitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, ExitUsage)
	}
}

func TestRolloutStatusAndActions(t *testing.T) {
	c := fixture(t)
	out, code := run(t, c, "rollout", "status", "canary-130")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{
		"Phase:      Progressing (Baking)",
		"Step:       1 of 2, 1 showtimes on the target when done, baking until 2026-11-25T02:01:00Z",
		"Showtimes:  2 total, 0 upgraded, 1 in progress, 0 waiting, 0 rolled back",
		"SHOWTIME          STATE    STEP  PAUSE  ANALYSIS  MESSAGE",
		"venues/standup    Baking   1     1.2s   Passed    ready, 0 restarts; write errors 0/150",
		"venues/standup-2  Pending  -     -      -",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Not at a gate: promote is refused, --full goes through.
	if out, code := run(t, c, "rollout", "promote", "canary-130"); code != ExitFailure || !strings.Contains(out, "does not wait at a manual gate") {
		t.Errorf("promote: exit %d: %s", code, out)
	}
	if out, code := run(t, c, "rollout", "promote", "canary-130", "--full"); code != 0 {
		t.Errorf("promote --full: exit %d: %s", code, out)
	}
	if out, code := run(t, c, "rollout", "abort", "canary-130"); code != 0 || !strings.Contains(out, "abort requested") {
		t.Errorf("abort: exit %d: %s", code, out)
	}
	ro, err := GetRollout(context.Background(), c, "canary-130")
	if err != nil || !ro.Spec.Abort || !ro.Spec.PromoteFull {
		t.Fatalf("spec not set: %+v %v", ro.Spec, err)
	}
	// A rolled-back rollout: status exits 4.
	ro.Status.Phase, ro.Status.Reason, ro.Status.Message = boxv1.RolloutRolledBack, "AnalysisFailed", "venues/standup: write error ratio 0.2"
	if err := c.Status().Update(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, c, "rollout", "status", "canary-130"); code != ExitRolledBack || !strings.Contains(out, "RolledBack (AnalysisFailed)") {
		t.Errorf("rolled back: exit %d: %s", code, out)
	}
	if out, code := run(t, c, "rollout", "status", "canary-130", "-o", "yaml"); code != ExitRolledBack || !strings.Contains(out, "phase: RolledBack") {
		t.Errorf("yaml: exit %d: %s", code, out)
	}
	if _, code := run(t, c, "rollout", "undo", "nope"); code != ExitNotFound {
		t.Errorf("undo of a missing rollout: exit %d", code)
	}
}

func TestFreezeList(t *testing.T) {
	out, code := run(t, fixture(t), "freeze", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and two freezes:\n%s", out)
	}
	for i, want := range [][]string{
		{"KIND", "NAME", "STATE", "UNTIL", "NEXT", "ZONE", "SCOPE", "REASON"},
		// The showtime's own sale freeze, 30m before to 2h after opensAt,
		// is in force: it comes first.
		{"SaleFreeze", "venues/standup", "ACTIVE", "2026-11-25 04:10 UTC", "showtime venues/standup", "own sale freeze around opensAt 2026-11-25T02:10:00Z"},
		{"FreezeWindow", "singles-day", "upcoming", "2026-11-26 09:00 +07 to 2026-11-27 09:00 +07", "Asia/Bangkok", "all showtimes", "11.11 sale"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %q:\n%s", i, w, out)
			}
		}
	}
}

func TestFreezeListJSON(t *testing.T) {
	c := fixture(t)
	out, code := run(t, c, "freeze", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var entries []FreezeEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(entries) != 2 || entries[0].Kind != KindSaleFreeze || !entries[0].Active || entries[0].Showtime != "venues/standup" ||
		entries[0].Until == nil || !entries[0].Until.Equal(now.Add(130*time.Minute)) || entries[1].Name != "singles-day" {
		t.Errorf("unexpected entries: %s", out)
	}

	// A sale freeze still to come is listed as upcoming; one switched off
	// or over is not.
	ctx := context.Background()
	for name, mutate := range map[string]func(*boxv1.Showtime){
		"later": func(st *boxv1.Showtime) { st.Spec.Sales.OpensAt = metav1.NewTime(now.Add(24 * time.Hour)) },
		"off": func(st *boxv1.Showtime) {
			st.Spec.Sales.OpensAt = metav1.NewTime(now.Add(24 * time.Hour))
			st.Spec.Sales.Freeze.Enabled = ptr.To(false)
		},
		"over": func(st *boxv1.Showtime) { st.Spec.Sales.OpensAt = metav1.NewTime(now.Add(-3 * time.Hour)) },
	} {
		st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "elsewhere"}}
		mutate(st)
		if err := c.Create(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := FreezeList(ctx, c, "venues", now)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "venues/standup,elsewhere/later,singles-day" {
		t.Errorf("entries %v", names)
	}
	if e := entries[1]; e.Active || e.NextStart == nil || !e.NextStart.Equal(now.Add(23*time.Hour+30*time.Minute)) ||
		e.NextEnd == nil || !e.NextEnd.Equal(now.Add(26*time.Hour)) {
		t.Errorf("upcoming sale freeze: %+v", e)
	}

	// Nothing to list is an empty list, not null.
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = boxv1.AddToScheme(s)
	out, code = run(t, fake.NewClientBuilder().WithScheme(s).Build(), "freeze", "list", "-o", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("exit %d, want []: %q", code, out)
	}
	if out, _ := run(t, fake.NewClientBuilder().WithScheme(s).Build(), "freeze", "list"); !strings.Contains(out, "No active or upcoming") {
		t.Errorf("empty list for people: %q", out)
	}
}

func TestStatusJSONKeepsZeros(t *testing.T) {
	c := fixture(t)
	ctx := context.Background()
	st := &boxv1.Showtime{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "venues", Name: "standup"}, st); err != nil {
		t.Fatal(err)
	}
	st.Status.Seats = boxv1.SeatCounts{Total: 252, Available: 252}
	st.Status.Shard = boxv1.ShardStatus{Pod: "standup-shard-0"}
	st.Status.Frontend = boxv1.FrontendStatus{Image: "reg/boxoffice:v1.2.3"}
	if err := c.Status().Update(ctx, st); err != nil {
		t.Fatal(err)
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: st.Namespace, Name: st.FrontendName()}, hpa); err != nil {
		t.Fatal(err)
	}
	hpa.Status.DesiredReplicas = 0
	if err := c.Update(ctx, hpa); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, c, "status", "standup", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	v := map[string]map[string]any{}
	for _, section := range []string{"seats", "shard", "frontend"} {
		m := map[string]any{}
		if err := json.Unmarshal(raw[section], &m); err != nil {
			t.Fatalf("%s: %v\n%s", section, err, out)
		}
		v[section] = m
	}
	for section, keys := range map[string][]string{
		"seats":    {"total", "available", "held", "awaitingPayment", "sold"},
		"shard":    {"ready", "epoch", "version"},
		"frontend": {"replicas", "readyReplicas", "hpaMinReplicas", "hpaMaxReplicas", "hpaDesiredReplicas", "preScaled"},
	} {
		for _, k := range keys {
			if _, ok := v[section][k]; !ok {
				t.Errorf("%s.%s left out:\n%s", section, k, out)
			}
		}
	}
	if v["seats"]["held"] != float64(0) || v["frontend"]["hpaDesiredReplicas"] != float64(0) {
		t.Errorf("zeros not written as 0:\n%s", out)
	}
}

func TestActionsPrintResultWithOutput(t *testing.T) {
	c := fixture(t)
	// An unknown -o is refused before anything changes.
	if out, code := run(t, c, "rollout", "abort", "canary-130", "-o", "xml"); code != ExitUsage {
		t.Errorf("abort -o xml: exit %d, want %d: %s", code, ExitUsage, out)
	}
	if ro, err := GetRollout(context.Background(), c, "canary-130"); err != nil || ro.Spec.Abort {
		t.Fatalf("abort -o xml changed the rollout: %+v %v", ro.Spec, err)
	}

	out, code := run(t, c, "rollout", "promote", "canary-130", "--full", "-o", "json")
	if code != 0 {
		t.Fatalf("promote --full -o json: exit %d: %s", code, out)
	}
	var res ActionResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if res.Action != "promote" || res.Rollout != "canary-130" || res.Phase != "Progressing" || !strings.Contains(res.Message, "promoting in full") {
		t.Errorf("unexpected result: %+v", res)
	}

	out, code = run(t, c, "rollout", "abort", "canary-130", "-o", "yaml")
	if code != 0 {
		t.Fatalf("abort -o yaml: exit %d: %s", code, out)
	}
	for _, want := range []string{"action: abort", "rollout: canary-130", "phase: Progressing", "message: 'shardrollout canary-130: abort requested"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}

	// Undo of a rollout already rolled back: exit 0, its phase in the result.
	ro, err := GetRollout(context.Background(), c, "canary-130")
	if err != nil {
		t.Fatal(err)
	}
	ro.Status.Phase = boxv1.RolloutRolledBack
	if err := c.Status().Update(context.Background(), ro); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, c, "rollout", "undo", "canary-130", "-o", "json")
	if code != 0 {
		t.Fatalf("undo -o json: exit %d: %s", code, out)
	}
	res = ActionResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if res.Action != "undo" || res.Phase != "RolledBack" || res.Message != "shardrollout canary-130 is already RolledBack" {
		t.Errorf("unexpected result: %+v", res)
	}

	// A refused action prints no result object, only the error, and exits 1.
	out, code = run(t, c, "rollout", "abort", "canary-130", "-o", "json")
	if code != ExitFailure || strings.Contains(out, `"action"`) || !strings.Contains(out, "already RolledBack") {
		t.Errorf("refused abort -o json: exit %d: %s", code, out)
	}
	// Without -o: the message for people.
	out, code = run(t, c, "rollout", "undo", "canary-130")
	if code != 0 || out != "shardrollout canary-130 is already RolledBack\n" {
		t.Errorf("undo: exit %d: %q", code, out)
	}
}

func TestStatusShowsWaitingRoom(t *testing.T) {
	c := fixture(t)
	ctx := context.Background()
	out, _ := run(t, c, "status", "standup")
	if strings.Contains(out, "Waiting room:") {
		t.Errorf("room off, yet a waiting room line:\n%s", out)
	}
	st := &boxv1.Showtime{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "venues", Name: "standup"}, st); err != nil {
		t.Fatal(err)
	}
	st.Status.WaitingRoom = &boxv1.WaitingRoomStatus{Enabled: true}
	if err := c.Status().Update(ctx, st); err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, c, "status", "standup"); !strings.Contains(out, "Waiting room:  on; not reported by the shard yet") {
		t.Errorf("room on, not reported:\n%s", out)
	}
	st.Status.WaitingRoom = &boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Open: true, Waiting: 5000, PreQueued: 0,
		Active: 200, Admitted: 812, MedianWaitSeconds: 182, P99WaitSeconds: 725, AdmissionsPerMinute: 150}
	if err := c.Status().Update(ctx, st); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, c, "status", "standup")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"Waiting room:  open", "5000 waiting (0 in the pre-queue), 200 active, 812 admitted so far",
		"wait median 3m2s, p99 12m5s; 150 admissions/min"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, _ = run(t, c, "status", "standup", "-o", "json")
	var raw struct {
		WaitingRoom map[string]any `json:"waitingRoom"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for k, want := range map[string]any{"waiting": 5000.0, "preQueued": 0.0, "active": 200.0, "admitted": 812.0,
		"medianWaitSeconds": 182.0, "p99WaitSeconds": 725.0, "soldOut": false} {
		if raw.WaitingRoom[k] != want {
			t.Errorf("waitingRoom.%s = %v, want %v:\n%s", k, raw.WaitingRoom[k], want, out)
		}
	}
}
