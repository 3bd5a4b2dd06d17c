package freeze

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The exceptions a freeze lets through: it never blocks going back to a
// version the showtime ran, nor adding capacity.
const (
	ExceptionRollback = "rollback"
	ExceptionScaleUp  = "scale-up"
)

// Denial is one part of a change that a freeze does not let through.
type Denial struct {
	// Field is the path of the field, as in the object ("spec.title",
	// "spec.shard.resources.limits.cpu").
	Field string
	// Why says what the change does to it ("lowered from 2 to 1").
	Why string
}

func (d Denial) String() string { return d.Field + " " + d.Why }

// Verdict is what a freeze makes of a change.
type Verdict struct {
	// Exceptions the change makes use of, in order: ExceptionRollback,
	// ExceptionScaleUp.
	Exceptions []string
	// Denied lists every part of the change the freeze does not let
	// through. A change with any is denied as a whole, allowed parts and all.
	Denied []Denial
}

// Allowed reports whether the whole change may go through the freeze.
func (v Verdict) Allowed() bool { return len(v.Denied) == 0 }

// DeniedString names each denied part, for a denial message.
func (v Verdict) DeniedString() string {
	parts := make([]string, len(v.Denied))
	for i, d := range v.Denied {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; ")
}

func (v *Verdict) allow(kind string) {
	if !slices.Contains(v.Exceptions, kind) {
		v.Exceptions = append(v.Exceptions, kind)
		sort.Strings(v.Exceptions) // rollback, scale-up
	}
}

func (v *Verdict) deny(field, format string, args ...any) {
	v.Denied = append(v.Denied, Denial{Field: field, Why: fmt.Sprintf(format, args...)})
}

// RanBefore reports whether img is an image the component has run: the one
// running now, the previous one, or one in the recorded history.
func RanBefore(h boxv1.ImageHistory, img string) bool {
	return img != "" && (img == h.Current || img == h.Previous || slices.Contains(h.History, img))
}

// JudgeShowtimeUpdate decides whether an update of a Showtime may go through
// a freeze, from the old and new objects alone (no I/O, no clock). Allowed:
//
//   - a rollback: spec.shard.image or spec.frontend.image set to an image
//     the showtime has run (old.Status.Versions); defaultImage is what an
//     empty image means;
//   - a vertical scale-up of spec.shard.resources or spec.frontend.resources
//     (see JudgeResources);
//   - raising spec.frontend.autoscaling minReplicas or maxReplicas, lowering
//     its targetCPUUtilizationPercentage (the autoscaler adds pods sooner),
//     adding preScale, raising preScale replicas, lead or hold;
//   - raising spec.sales.waitingRoom.maxActiveBuyers (more buyers choosing
//     seats at once).
//
// Everything else is denied: the opposite moves (lowering, removing), any
// other spec field, and any label change (labels decide which windows
// apply). A change mixing allowed and denied parts is denied, and the
// verdict names each denied field.
func JudgeShowtimeUpdate(old, cur *boxv1.Showtime, defaultImage string) Verdict {
	var v Verdict
	if !equality.Semantic.DeepEqual(old.Labels, cur.Labels) {
		v.deny("metadata.labels", "changed (labels decide which freeze windows apply)")
	}
	o, n := old.Spec.DeepCopy(), cur.Spec.DeepCopy()
	defaultSpec(o)
	defaultSpec(n)
	vers := old.Status.Versions
	judgeImage(&v, "spec.shard.image", o.Shard.Image, &n.Shard.Image, vers.Shard, defaultImage)
	judgeImage(&v, "spec.frontend.image", o.Frontend.Image, &n.Frontend.Image, vers.Frontend, defaultImage)
	JudgeResources(&v, "spec.shard.resources", &o.Shard.Resources, &n.Shard.Resources)
	JudgeResources(&v, "spec.frontend.resources", &o.Frontend.Resources, &n.Frontend.Resources)
	judgeAutoscaling(&v, &o.Frontend.Autoscaling, &n.Frontend.Autoscaling)
	judgeWaitingRoom(&v, &o.Sales.WaitingRoom, &n.Sales.WaitingRoom)
	// What is left differs only where no exception applies.
	for _, f := range changedFields("spec", o, n) {
		v.deny(f, "changed")
	}
	return v
}

// judgeImage judges a change of one image field and then sets it back, so
// that what is left of the change can be compared.
func judgeImage(v *Verdict, field, old string, cur *string, h boxv1.ImageHistory, defaultImage string) {
	if *cur == old {
		return
	}
	eff := func(img string) string {
		if img == "" {
			return defaultImage
		}
		return img
	}
	switch {
	case eff(*cur) == eff(old):
		// Spelling the same image another way ("" for the default).
	case RanBefore(h, eff(*cur)):
		v.allow(ExceptionRollback)
	default:
		v.deny(field, "set to %q, an image the showtime has not run (a rollback may go to any of %s)", eff(*cur), ranList(h))
	}
	*cur = old
}

func ranList(h boxv1.ImageHistory) string {
	var imgs []string
	for _, img := range append([]string{h.Current, h.Previous}, h.History...) {
		if img != "" && !slices.Contains(imgs, img) {
			imgs = append(imgs, img)
		}
	}
	if len(imgs) == 0 {
		return "[] (none recorded yet)"
	}
	return "[" + strings.Join(imgs, " ") + "]"
}

// JudgeResources judges a change of a container's resources and then sets
// them back to old. A vertical scale-up is a change where every request and
// every limit stays or goes up, and none is removed:
//
//   - a request or a limit raised: allowed;
//   - a request added: allowed when it is not below what the container
//     effectively had (the old limit of that resource, which stood in for the
//     request, or nothing);
//   - a request or a limit lowered or removed: denied (removing a request
//     drops the scheduler's reservation; removing a limit is not how
//     capacity is added during a freeze: raise it);
//   - a limit added where there was none: denied (it caps what was unbounded);
//   - any change to claims: denied.
func JudgeResources(v *Verdict, field string, old, cur *corev1.ResourceRequirements) {
	if equality.Semantic.DeepEqual(old, cur) {
		return
	}
	raised := judgeList(v, field+".requests", old.Requests, cur.Requests, old.Limits, true)
	if judgeList(v, field+".limits", old.Limits, cur.Limits, nil, false) {
		raised = true
	}
	if !equality.Semantic.DeepEqual(old.Claims, cur.Claims) {
		v.deny(field+".claims", "changed")
	}
	if raised {
		v.allow(ExceptionScaleUp)
	}
	*cur = *old.DeepCopy()
}

// judgeList judges one of requests or limits; it reports whether anything
// went up. standIn is what a newly added entry is compared with; mayAdd
// says whether adding an entry can be a raise at all.
func judgeList(v *Verdict, field string, old, cur, standIn corev1.ResourceList, mayAdd bool) bool {
	raised := false
	for _, name := range sortedNames(old, cur) {
		f := field + "." + string(name)
		o, hadOld := old[name]
		c, hasNew := cur[name]
		switch {
		case !hasNew:
			v.deny(f, "removed (was %s)", o.String())
		case !hadOld && !mayAdd:
			v.deny(f, "added (%s): a new limit caps what was unbounded", c.String())
		case !hadOld:
			if s, ok := standIn[name]; ok && c.Cmp(s) < 0 {
				v.deny(f, "added at %s, below the limit %s that stood in for it", c.String(), s.String())
			} else {
				raised = true
			}
		case c.Cmp(o) < 0:
			v.deny(f, "lowered from %s to %s", o.String(), c.String())
		case c.Cmp(o) > 0:
			raised = true
		}
	}
	return raised
}

func sortedNames(lists ...corev1.ResourceList) []corev1.ResourceName {
	var names []corev1.ResourceName
	for _, l := range lists {
		for name := range l {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// judgeAutoscaling judges the front end's autoscaling bounds and pre-scale
// and then sets them back. Bounds are compared with the CRD's defaults
// filled in on both sides: a first write of spec.frontend.autoscaling
// brings them with it.
func judgeAutoscaling(v *Verdict, old, cur *boxv1.FrontendAutoscaling) {
	defaultAutoscaling(old)
	defaultAutoscaling(cur)
	const f = "spec.frontend.autoscaling"
	upward(v, f+".minReplicas", int64(old.MinReplicas), int64(cur.MinReplicas))
	upward(v, f+".maxReplicas", int64(old.MaxReplicas), int64(cur.MaxReplicas))
	switch t := f + ".targetCPUUtilizationPercentage"; {
	case cur.TargetCPUUtilizationPercentage < old.TargetCPUUtilizationPercentage:
		v.allow(ExceptionScaleUp) // the autoscaler adds pods sooner
	case cur.TargetCPUUtilizationPercentage > old.TargetCPUUtilizationPercentage:
		v.deny(t, "raised from %d to %d (a higher target runs fewer pods; lowering it is allowed)",
			old.TargetCPUUtilizationPercentage, cur.TargetCPUUtilizationPercentage)
	}
	switch ps := f + ".preScale"; {
	case old.PreScale == nil && cur.PreScale != nil:
		v.allow(ExceptionScaleUp)
	case old.PreScale != nil && cur.PreScale == nil:
		v.deny(ps, "removed")
	case old.PreScale != nil:
		upward(v, ps+".replicas", int64(old.PreScale.Replicas), int64(cur.PreScale.Replicas))
		upwardDuration(v, ps+".lead", old.PreScale.Lead.Duration.String(), cur.PreScale.Lead.Duration.String(),
			int64(old.PreScale.Lead.Duration), int64(cur.PreScale.Lead.Duration))
		upwardDuration(v, ps+".hold", old.PreScale.Hold.Duration.String(), cur.PreScale.Hold.Duration.String(),
			int64(old.PreScale.Hold.Duration), int64(cur.PreScale.Hold.Duration))
	}
	*cur = *old.DeepCopy()
}

// judgeWaitingRoom allows more buyers choosing seats at once and sets it
// back; the rest of the room is compared with the CRD's defaults filled in
// on both sides (a first write of spec.sales.waitingRoom brings them).
func judgeWaitingRoom(v *Verdict, old, cur *boxv1.WaitingRoom) {
	defaultWaitingRoom(old)
	defaultWaitingRoom(cur)
	upward(v, "spec.sales.waitingRoom.maxActiveBuyers", int64(old.MaxActiveBuyers), int64(cur.MaxActiveBuyers))
	cur.MaxActiveBuyers = old.MaxActiveBuyers
}

// defaultWaitingRoom fills in what the CRD defaults.
func defaultWaitingRoom(w *boxv1.WaitingRoom) {
	if w.MaxActiveBuyers == 0 {
		w.MaxActiveBuyers = 200
	}
	if w.IdleTimeout.Duration == 0 {
		w.IdleTimeout.Duration = 3 * time.Minute
	}
	if w.PreQueue == nil {
		w.PreQueue = &metav1.Duration{Duration: 30 * time.Minute}
	}
}

func upward(v *Verdict, field string, old, cur int64) {
	upwardDuration(v, field, fmt.Sprint(old), fmt.Sprint(cur), old, cur)
}

// upwardDuration allows a raise and denies a cut of one number.
func upwardDuration(v *Verdict, field, oldS, curS string, old, cur int64) {
	switch {
	case cur > old:
		v.allow(ExceptionScaleUp)
	case cur < old:
		v.deny(field, "lowered from %s to %s (raising it is allowed)", oldS, curS)
	}
}

// defaultAutoscaling fills in what the CRD defaults.
func defaultAutoscaling(a *boxv1.FrontendAutoscaling) {
	if a.MinReplicas == 0 {
		a.MinReplicas = 2
	}
	if a.MaxReplicas == 0 {
		a.MaxReplicas = 50
	}
	if a.TargetCPUUtilizationPercentage == 0 {
		a.TargetCPUUtilizationPercentage = 60
	}
}

// defaultSpec fills in what the CRD defaults inside objects that may be
// absent from a stored Showtime (spec.frontend, spec.shard): the API server
// defaults a field only when its parent is there, so a first write of
// spec.shard.resources brings spec.shard.storage's defaults with it, and
// one of spec.frontend brings its client limits'. Compared with these
// filled in on both sides, they are not a change. Keep in step with the
// +kubebuilder:default markers in api/v1alpha1 (an envtest spec that adds
// spec.frontend and spec.shard to a Showtime created without them fails
// otherwise).
func defaultSpec(s *boxv1.ShowtimeSpec) {
	cl := &s.Frontend.ClientLimits
	for _, f := range []struct {
		p **int32
		v int32
	}{{&cl.NewSessionsPerMinute, 60}, {&cl.NewSessionBurst, 20}, {&cl.SeatsPerHoldTTL, 32}, {&cl.StreamsPerClient, 8}} {
		if *f.p == nil {
			*f.p = &f.v
		}
	}
	st := &s.Shard.Storage
	if st.Size.IsZero() {
		st.Size = resource.MustParse("1Gi")
	}
	if st.AccessMode == "" {
		st.AccessMode = boxv1.AccessModeReadWriteOncePod
	}
	if st.WhenDeleted == "" {
		st.WhenDeleted = boxv1.RetainVolume
	}
}

// maxChangedFields bounds how many fields a denial names.
const maxChangedFields = 10

// changedFields lists the paths at which the JSON forms of a and b differ,
// under prefix: a map is followed key by key, anything else (a list, a
// string) is named whole. At most maxChangedFields are named, then how many
// more.
func changedFields(prefix string, a, b any) []string {
	var x, y any
	if err := roundTrip(a, &x); err != nil {
		return []string{prefix}
	}
	if err := roundTrip(b, &y); err != nil {
		return []string{prefix}
	}
	var out []string
	diffJSON(prefix, x, y, &out)
	if len(out) > maxChangedFields {
		out = append(out[:maxChangedFields], fmt.Sprintf("and %d more fields", len(out)-maxChangedFields))
	}
	return out
}

func roundTrip(in any, out *any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

func diffJSON(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	// An absent object (omitted when empty) is followed as an empty one,
	// so the fields set inside it are named.
	if a == nil && bok {
		am, aok = map[string]any{}, true
	}
	if b == nil && aok {
		bm, bok = map[string]any{}, true
	}
	if !aok || !bok {
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, path)
		}
		return
	}
	keys := make([]string, 0, len(am)+len(bm))
	for k := range am {
		keys = append(keys, k)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		diffJSON(path+"."+k, am[k], bm[k], out)
	}
}
