package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Print writes v as JSON or YAML, or calls human for the people's view.
func Print(w io.Writer, format string, v any, human func(io.Writer)) error {
	switch format {
	case "", "text", "wide":
		human(w)
		return nil
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return exitf(ExitUsage, "unknown output format %q: use json or yaml", format)
}

// ShowtimeView is everything on-call reads about one showtime.
type ShowtimeView struct {
	Namespace          string           `json:"namespace"`
	Name               string           `json:"name"`
	Title              string           `json:"title"`
	Phase              string           `json:"phase"`
	ObservedGeneration int64            `json:"observedGeneration"`
	Generation         int64            `json:"generation"`
	OpensAt            time.Time        `json:"opensAt"`
	ClosesAt           time.Time        `json:"closesAt"`
	Seats              boxv1.SeatCounts `json:"seats"`
	Shard              ShardView        `json:"shard"`
	Frontend           FrontendView     `json:"frontend"`
	// WaitingRoom is status.waitingRoom: absent while the room is off.
	WaitingRoom *boxv1.WaitingRoomStatus `json:"waitingRoom,omitempty"`
	Freeze      FreezeView               `json:"freeze"`
	Rollout     *RolloutRef              `json:"rollout,omitempty"`
	Conditions  []metav1.Condition       `json:"conditions,omitempty"`
}

// ShardView is the shard pod as last seen. Counts and flags are written
// when zero or false: a zero is an answer.
type ShardView struct {
	Pod     string `json:"pod"`
	Image   string `json:"image,omitempty"`
	Ready   bool   `json:"ready"`
	Epoch   int64  `json:"epoch"`
	Version int64  `json:"version"`
	// A replicated shard's members, leader, term and last leader change.
	Replicas         int32        `json:"replicas,omitempty"`
	ReadyMembers     string       `json:"readyMembers,omitempty"`
	Leader           string       `json:"leader,omitempty"`
	Term             int64        `json:"term,omitempty"`
	LastLeaderChange *metav1.Time `json:"lastLeaderChange,omitempty"`
	// LastHandover is the last hand-over the operator started by restarting
	// the leader; MemberUpdate where a member-by-member update stands.
	LastHandover *boxv1.ShardHandover `json:"lastHandover,omitempty"`
	MemberUpdate string               `json:"memberUpdate,omitempty"`
	Members      []boxv1.ShardMember  `json:"members,omitempty"`
}

// FrontendView is the front end and its autoscaler. The autoscaler's
// numbers are absent only when the autoscaler could not be read.
type FrontendView struct {
	Image         string `json:"image,omitempty"`
	Replicas      int32  `json:"replicas"`
	ReadyReplicas int32  `json:"readyReplicas"`
	HPAMin        *int32 `json:"hpaMinReplicas,omitempty"`
	HPAMax        *int32 `json:"hpaMaxReplicas,omitempty"`
	HPADesired    *int32 `json:"hpaDesiredReplicas,omitempty"`
	PreScaled     bool   `json:"preScaled"`
}

// FreezeView says whether changes are frozen and until when.
type FreezeView struct {
	Frozen  bool       `json:"frozen"`
	Until   *time.Time `json:"until,omitempty"`
	By      []string   `json:"by,omitempty"`
	Message string     `json:"message,omitempty"`
}

// RolloutRef is the rollout that last moved the showtime.
type RolloutRef struct {
	boxv1.ShowtimeRolloutStatus `json:",inline"`
	Steps                       int32 `json:"steps,omitempty"`
}

// ShowtimeStatus gathers the view of one showtime.
func ShowtimeStatus(ctx context.Context, c client.Reader, namespace, name string, now time.Time) (*ShowtimeView, error) {
	st := &boxv1.Showtime{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, st); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, exitf(ExitNotFound, "showtime %s/%s not found", namespace, name)
		}
		return nil, fmt.Errorf("reading showtime %s/%s: %w", namespace, name, err)
	}
	v := &ShowtimeView{
		Namespace: st.Namespace, Name: st.Name, Title: st.Spec.Title, Phase: string(st.Status.Phase),
		ObservedGeneration: st.Status.ObservedGeneration, Generation: st.Generation,
		OpensAt: st.Spec.Sales.OpensAt.Time, ClosesAt: st.Spec.Sales.ClosesAt.Time,
		Seats: st.Status.Seats, Conditions: st.Status.Conditions, WaitingRoom: st.Status.WaitingRoom,
		Shard: ShardView{Pod: st.Status.Shard.Pod, Image: st.Status.Shard.Image, Ready: st.Status.Shard.Ready,
			Epoch: st.Status.Shard.Epoch, Version: st.Status.Shard.Version,
			Replicas: st.Status.Shard.Replicas, ReadyMembers: st.Status.Shard.ReadyMembers, Leader: st.Status.Shard.Leader,
			Term: st.Status.Shard.Term, LastLeaderChange: st.Status.Shard.LastLeaderChange, Members: st.Status.Shard.Members,
			LastHandover: st.Status.Shard.LastHandover, MemberUpdate: st.Status.Shard.MemberUpdate},
		Frontend: FrontendView{
			Image: st.Status.Frontend.Image, Replicas: st.Status.Frontend.Replicas,
			ReadyReplicas: st.Status.Frontend.ReadyReplicas, PreScaled: st.Status.Frontend.PreScaled,
		},
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: boxv1.NamedShowtime(namespace, name).FrontendName()}, hpa); err == nil {
		minReplicas := int32(1) // the autoscaler's default
		if hpa.Spec.MinReplicas != nil {
			minReplicas = *hpa.Spec.MinReplicas
		}
		v.Frontend.HPAMin = &minReplicas
		v.Frontend.HPAMax = &hpa.Spec.MaxReplicas
		v.Frontend.HPADesired = &hpa.Status.DesiredReplicas
	}
	// Freezes: computed now from the windows (the same code admission uses);
	// without permission to read them, the showtime's Frozen condition.
	if hits, err := freeze.BlockingShowtime(ctx, c, st, now); err == nil {
		for _, h := range hits {
			v.Freeze.Frozen = true
			v.Freeze.By = append(v.Freeze.By, h.String())
			if v.Freeze.Until == nil || h.End.After(*v.Freeze.Until) {
				end := h.End
				v.Freeze.Until = &end
			}
		}
		if !v.Freeze.Frozen {
			if start, end, ok := freeze.SaleFreezeWindow(st); ok && now.Before(start) {
				v.Freeze.Message = fmt.Sprintf("the sale freeze runs from %s to %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
			}
		}
	} else if cnd := meta.FindStatusCondition(st.Status.Conditions, boxv1.ConditionFrozen); cnd != nil {
		v.Freeze.Frozen = cnd.Status == metav1.ConditionTrue
		v.Freeze.Message = cnd.Message
	}
	if ro := st.Status.Rollout; ro != nil {
		v.Rollout = &RolloutRef{ShowtimeRolloutStatus: *ro}
		sr := &boxv1.ShardRollout{}
		if err := c.Get(ctx, types.NamespacedName{Name: ro.Name}, sr); err == nil {
			v.Rollout.Phase = sr.Status.Phase
			v.Rollout.Steps = sr.Status.Steps
		}
	}
	return v, nil
}

// writeMembers renders a replicated shard: the leader and term, the last
// leader change, and one line per member with its role, readiness, node and
// how far it is behind the leader.
func writeMembers(p func(k, format string, args ...any), sh ShardView) {
	leader := sh.Leader
	if leader == "" {
		leader = "NO LEADER"
	}
	p("Shard:", "%s members ready  leader %s  term %d  version %d", sh.ReadyMembers, leader, sh.Term, sh.Version)
	if sh.LastLeaderChange != nil {
		p("", "last leader change %s (to %s, term %d)", sh.LastLeaderChange.UTC().Format(time.RFC3339), leader, sh.Term)
	}
	if h := sh.LastHandover; h != nil {
		took := "no new leader seen within the operator's wait"
		if h.To != "" {
			took = fmt.Sprintf("to %s (term %d) in %s", h.To, h.Term, h.Duration)
		}
		p("", "last hand-over %s from %s %s", h.StartedAt.UTC().Format(time.RFC3339), h.From, took)
	}
	if sh.MemberUpdate != "" {
		p("", "updating member by member: %s", sh.MemberUpdate)
	}
	mixed := false
	for _, m := range sh.Members {
		mixed = mixed || (m.Image != "" && m.Image != sh.Members[0].Image)
	}
	for _, m := range sh.Members {
		ready := "NOT READY"
		if m.Ready {
			ready = "ready"
		}
		lag := "lag ?"
		if m.Lag != nil {
			lag = fmt.Sprintf("lag %d", *m.Lag)
		}
		node := m.Node
		if node == "" {
			node = "(no node)"
		}
		if mixed {
			p("", "%s  %s  %s  %s  node %s  image %s", m.Pod, m.Role, ready, lag, node, m.Image)
			continue
		}
		p("", "%s  %s  %s  %s  node %s", m.Pod, m.Role, ready, lag, node)
	}
	if sh.Image != "" {
		p("", "image %s", sh.Image)
	}
}

// writeWaitingRoom renders the waiting room: who waits, who chooses, how
// long people waited, and what stops admission.
func writeWaitingRoom(p func(k, format string, args ...any), w *boxv1.WaitingRoomStatus) {
	if !w.Reported {
		p("Waiting room:", "on; not reported by the shard yet")
		return
	}
	state := "pre-queue (the sale has not opened)"
	switch {
	case w.SoldOut:
		state = "SOLD OUT, closed"
	case w.SeatsMayReturn:
		state = "open, ADMISSION PAUSED: every free seat is held, seats may come back"
	case w.Open:
		state = "open"
	}
	p("Waiting room:", "%s", state)
	p("", "%d waiting (%d in the pre-queue), %d active, %d admitted so far", w.Waiting, w.PreQueued, w.Active, w.Admitted)
	rate := "not measured yet"
	if w.AdmissionsPerMinute > 0 {
		rate = fmt.Sprintf("%d admissions/min", w.AdmissionsPerMinute)
	}
	p("", "wait median %s, p99 %s; %s", time.Duration(w.MedianWaitSeconds)*time.Second,
		time.Duration(w.P99WaitSeconds)*time.Second, rate)
}

// WriteShowtime renders the people's view.
func WriteShowtime(w io.Writer, v *ShowtimeView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	p("Showtime:", "%s/%s  %q", v.Namespace, v.Name, v.Title)
	phase := v.Phase
	if phase == "" {
		phase = "(not reconciled yet)"
	}
	if v.ObservedGeneration < v.Generation {
		phase += fmt.Sprintf("  (generation %d not yet reconciled, status is from %d)", v.Generation, v.ObservedGeneration)
	}
	p("Phase:", "%s", phase)
	p("Sales:", "%s to %s", v.OpensAt.UTC().Format(time.RFC3339), v.ClosesAt.UTC().Format(time.RFC3339))
	s := v.Seats
	p("Seats:", "%d total: %d available, %d held, %d awaiting payment, %d sold", s.Total, s.Available, s.Held, s.AwaitingPayment, s.Sold)
	if len(v.Shard.Members) > 0 {
		writeMembers(p, v.Shard)
	} else if v.Shard.Pod == "" {
		p("Shard:", "no pod")
	} else {
		ready := "NOT READY"
		if v.Shard.Ready {
			ready = "ready"
		}
		p("Shard:", "%s  %s  epoch %d  version %d", v.Shard.Pod, ready, v.Shard.Epoch, v.Shard.Version)
		p("", "image %s", v.Shard.Image)
	}
	fe := fmt.Sprintf("%d/%d ready", v.Frontend.ReadyReplicas, v.Frontend.Replicas)
	if f := v.Frontend; f.HPAMax != nil {
		fe += fmt.Sprintf("  HPA min %d max %d desired %d", *f.HPAMin, *f.HPAMax, *f.HPADesired)
	}
	if v.Frontend.PreScaled {
		fe += "  (pre-scaled for the sale)"
	}
	p("Front end:", "%s", fe)
	if v.Frontend.Image != "" {
		p("", "image %s", v.Frontend.Image)
	}
	if w := v.WaitingRoom; w != nil {
		writeWaitingRoom(p, w)
	}
	switch {
	case v.Freeze.Frozen && v.Freeze.Until != nil:
		p("Freeze:", "FROZEN until %s", v.Freeze.Until.UTC().Format(time.RFC3339))
		for _, b := range v.Freeze.By {
			p("", "by %s", b)
		}
	case v.Freeze.Frozen:
		p("Freeze:", "FROZEN: %s", v.Freeze.Message)
	case v.Freeze.Message != "":
		p("Freeze:", "not frozen; %s", v.Freeze.Message)
	default:
		p("Freeze:", "not frozen")
	}
	if r := v.Rollout; r != nil {
		step := fmt.Sprintf("step %d", r.Step)
		if r.Steps > 0 {
			step = fmt.Sprintf("step %d of %d", r.Step, r.Steps)
		}
		if r.Step == 0 {
			step = "not moved yet"
		}
		p("Rollout:", "%s (%s): %s, %s", r.Name, r.Phase, step, r.State)
		if r.Message != "" {
			p("", "%s", r.Message)
		}
	} else {
		p("Rollout:", "none")
	}
	var bad []string
	for _, c := range v.Conditions {
		if (c.Status != metav1.ConditionTrue && c.Type != boxv1.ConditionFrozen && c.Type != boxv1.ConditionOnSale) ||
			(c.Status == metav1.ConditionTrue && c.Type == "Degraded") {
			bad = append(bad, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
		}
	}
	for i, b := range bad {
		k := ""
		if i == 0 {
			k = "Attention:"
		}
		p(k, "%s", b)
	}
	_ = tw.Flush()
}

// WriteRollout renders a rollout for people.
func WriteRollout(w io.Writer, ro *boxv1.ShardRollout) {
	s := ro.Status
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	p("Rollout:", "%s", ro.Name)
	var target []string
	if t := ro.Spec.Target.ShardImage; t != "" {
		target = append(target, "shard "+t)
	}
	if t := ro.Spec.Target.FrontendImage; t != "" {
		target = append(target, "front end "+t)
	}
	p("Target:", "%s", strings.Join(target, ", "))
	phase := string(s.Phase)
	if phase == "" {
		phase = "Pending"
	}
	if s.Reason != "" {
		phase += " (" + s.Reason + ")"
	}
	p("Phase:", "%s", phase)
	if s.Message != "" {
		p("", "%s", s.Message)
	}
	step := fmt.Sprintf("%d of %d", s.CurrentStep, s.Steps)
	if s.StepTarget > 0 {
		step += fmt.Sprintf(", %d showtimes on the target when done", s.StepTarget)
	}
	if s.BakeUntil != nil {
		step += ", baking until " + s.BakeUntil.UTC().Format(time.RFC3339)
	}
	if s.WaitingForPromotion {
		step += ", WAITING FOR PROMOTION (kubectl boxoffice rollout promote " + ro.Name + ")"
	}
	p("Step:", "%s", step)
	p("Showtimes:", "%d total, %d upgraded, %d in progress, %d waiting, %d rolled back", s.Total, s.Upgraded, s.InProgress, s.Waiting, s.RolledBack)
	if s.StableHoldP99 != "" {
		p("Stable p99:", "%s (hold)", s.StableHoldP99)
	}
	_ = tw.Flush()
	if len(s.Showtimes) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHOWTIME\tSTATE\tSTEP\tPAUSE\tANALYSIS\tMESSAGE")
	for _, e := range s.Showtimes {
		pause := e.WritePause
		if pause == "" {
			pause = "-"
		}
		an := string(e.Analysis)
		if an == "" {
			an = "-"
		}
		st := "-"
		if e.Step > 0 {
			st = fmt.Sprint(e.Step)
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\n", e.Namespace, e.Name, e.State, st, pause, an, oneLine(e.Message, 100))
	}
	_ = tw.Flush()
}

func oneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > max {
		return s[:max-3] + "..."
	}
	return s
}

// RolloutExitCode is what `rollout status` exits with for a phase.
func RolloutExitCode(ro *boxv1.ShardRollout) int {
	switch ro.Status.Phase {
	case boxv1.RolloutRolledBack, boxv1.RolloutRollingBack, boxv1.RolloutFailed:
		return ExitRolledBack
	}
	return ExitOK
}
