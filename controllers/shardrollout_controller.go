package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/canary"
	"boxoffice.dev/boxoffice/internal/freeze"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Defaults for analysis fields a client left out (the CRD defaults them too).
const (
	defaultReadyDeadline    = 60 * time.Second
	defaultAnalysisInterval = 10 * time.Second
	defaultMaxErrorRatio    = 0.01
	defaultMinWrites        = 10
	defaultLatencyRatio     = 2.0
	defaultLatencyFloor     = 25 * time.Millisecond
	// logFormatRetry is how often a rollout that cannot read any stable
	// shard's log format looks again.
	logFormatRetry = 15 * time.Second
)

// FreezeFunc reports the freezes in force on a showtime now: FreezeWindows
// and its own on-sale peak.
type FreezeFunc func(ctx context.Context, r client.Reader, st *boxv1.Showtime, now time.Time) ([]freeze.Hit, error)

// ShardRolloutReconciler moves Showtimes to a new shard and front-end
// version cohort by cohort, judges each upgraded shard on its own /v1/status
// and /metrics, and rolls back by itself when a shard fails.
type ShardRolloutReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Clock is injectable so bakes and deadlines can be tested exactly.
	Clock  clock.PassiveClock
	Shards ShardProber
	// Prometheus runs the optional query check.
	Prometheus PrometheusQuerier
	// DefaultImage is the operator's own image: what an empty
	// spec.shard.image or spec.frontend.image runs.
	DefaultImage string
	// Freezes tells which freezes hold a showtime; default
	// freeze.BlockingShowtime (FreezeWindows plus the sale freeze).
	Freezes FreezeFunc
	// StableSample is how many stable shards are read for the log format and
	// latency baselines; default 3.
	StableSample int
}

// rolloutScope is what one reconcile learns and decides.
type rolloutScope struct {
	ro        *boxv1.ShardRollout
	now       time.Time
	showtimes map[types.NamespacedName]*boxv1.Showtime
	// heldBy names the other rollout that holds a showtime.
	heldBy map[types.NamespacedName]string
	// frozen lists the freezes that hold each waiting showtime.
	frozen       map[types.NamespacedName][]freeze.Hit
	requeueAfter time.Duration
	// consumePromote: spec.promote is to be set back to false.
	consumePromote bool
	// consumeRetry: spec.retry and spec.retryBake are to be cleared;
	// consumeAbort: spec.abort (a rollout started over).
	consumeRetry, consumeAbort bool
	// inconclusive are the baking showtimes whose bake is over and whose
	// analysis is Inconclusive; inconclusiveReason says why, by showtime.
	inconclusive       []*boxv1.RolloutShowtime
	inconclusiveReason map[types.NamespacedName]string
	// stableFrontend is the stable front ends' metrics, read once.
	stableFrontend     *canary.FrontendSample
	stableFrontendRead bool
	// events are recorded once the status they describe is written.
	events []rolloutEvent
	// wasInconclusive: the rollout was paused on an inconclusive analysis
	// when the reconcile began.
	wasInconclusive bool
	// conflicts counts showtimes whose upgrade met a conflict (changed
	// since read): they are tried again, not held back.
	conflicts int
}

func (s *rolloutScope) requeueAt(t time.Time) {
	d := t.Sub(s.now)
	if d <= 0 {
		d = time.Millisecond
	}
	if s.requeueAfter == 0 || d < s.requeueAfter {
		s.requeueAfter = d
	}
}

func entryKey(e *boxv1.RolloutShowtime) types.NamespacedName {
	return types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
}

// +kubebuilder:rbac:groups=boxoffice.dev,resources=shardrollouts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=boxoffice.dev,resources=shardrollouts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=boxoffice.dev,resources=showtimes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=boxoffice.dev,resources=showtimes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=boxoffice.dev,resources=freezewindows,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile advances one ShardRollout and writes its status when, and only
// when, it changed.
func (r *ShardRolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ro := &boxv1.ShardRollout{}
	if err := r.Get(ctx, req.NamespacedName, ro); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ro.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := ro.DeepCopy()
	s := &rolloutScope{
		ro: ro, now: r.Clock.Now(),
		showtimes: map[types.NamespacedName]*boxv1.Showtime{},
		heldBy:    map[types.NamespacedName]string{},
		frozen:    map[types.NamespacedName][]freeze.Hit{},

		inconclusiveReason: map[types.NamespacedName]string{},
		wasInconclusive:    pausedInconclusive(ro),
	}
	var err error
	switch ro.Status.Phase {
	case "", boxv1.RolloutPending:
		err = r.start(ctx, s)
	case boxv1.RolloutRolledBack, boxv1.RolloutFailed:
		// Final, unless on-call asks to start over.
		if ro.Spec.Retry {
			r.restart(s)
			err = r.start(ctx, s)
		}
	default:
		err = r.progress(ctx, s)
	}
	// With the implicit last step when the declared ones stop short.
	ro.Status.Steps = r.stepCount(ro)
	r.summarize(s)
	if err == nil {
		ro.Status.ObservedGeneration = ro.Generation
	}
	r.announce(s, before)
	if !equality.Semantic.DeepEqual(before.Status, ro.Status) {
		// The status is this rollout's state machine: written only over the
		// version it was computed from. A reconcile that read a stale copy
		// from the cache (its own last write not seen yet) would otherwise
		// run an earlier phase again and write it back over a later one.
		// Its events are dropped with it: they would tell of a state the
		// rollout is not in.
		if perr := r.Status().Patch(ctx, ro, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); perr != nil {
			if apierrors.IsConflict(perr) && err == nil {
				return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
			}
			return ctrl.Result{}, errors.Join(err, fmt.Errorf("writing rollout status: %w", perr))
		}
	}
	r.flushEvents(s)
	// Each showtime's status.rollout follows the status just written.
	err = errors.Join(err, r.syncShowtimeStatuses(ctx, s))
	if perr := r.consumeSpec(ctx, s); perr != nil {
		err = errors.Join(err, perr)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: s.requeueAfter}, nil
}

// start takes the snapshot of the selected showtimes and checks the log
// format before anything moves.
func (r *ShardRolloutReconciler) start(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	ro.Status.Phase = boxv1.RolloutPending
	if ro.Spec.Abort {
		ro.Status.Phase = boxv1.RolloutRolledBack
		ro.Status.Reason, ro.Status.Message = "Aborted", "aborted before any showtime moved"
		ro.Status.CompletedAt = ptrTime(s.now)
		return nil
	}
	if len(ro.Status.Showtimes) == 0 {
		sts, err := r.selectShowtimes(ctx, ro)
		if err != nil {
			return err
		}
		if len(sts) == 0 {
			r.fail(s, "NothingSelected", "no Showtime matches spec.scope")
			return nil
		}
		sts, rates := r.orderByTraffic(ctx, s.now, sts)
		for i := range sts {
			st := &sts[i]
			s.showtimes[client.ObjectKeyFromObject(st)] = st
			e := boxv1.RolloutShowtime{
				Namespace: st.Namespace, Name: st.Name, State: boxv1.ShowtimePending, WritesPerSecond: rates[i],
				FromShardImage: st.Spec.Shard.Image, FromFrontendImage: st.Spec.Frontend.Image,
				ToShardImage: ro.Spec.Target.ShardImage, ToFrontendImage: ro.Spec.Target.FrontendImage,
			}
			if r.onTarget(ro, st) {
				e.State, e.Analysis, e.Message = boxv1.ShowtimeUpgraded, boxv1.AnalysisSkipped, "already on the target"
			}
			ro.Status.Showtimes = append(ro.Status.Showtimes, e)
		}
	} else if err := r.loadShowtimes(ctx, s); err != nil {
		return err
	}

	if ok, err := r.checkLogFormat(ctx, s); err != nil || !ok {
		return err
	}
	ro.Status.Phase = boxv1.RolloutProgressing
	ro.Status.CurrentStep = 1
	ro.Status.StartedAt = ptrTime(s.now)
	ro.Status.Reason, ro.Status.Message = "Started", fmt.Sprintf("moving %d showtimes to %s", len(ro.Status.Showtimes), targetString(ro))
	return r.progress(ctx, s)
}

// checkLogFormat refuses a target whose log the stable shards cannot read.
// It returns false while the rollout may not start.
func (r *ShardRolloutReconciler) checkLogFormat(ctx context.Context, s *rolloutScope) (bool, error) {
	ro := s.ro
	want := ro.Spec.LogCompatibility.TargetLogFormat
	if ro.Spec.Target.ShardImage == "" || want == 0 {
		setRolloutCondition(ro, boxv1.RolloutConditionLogCompatible, metav1.ConditionUnknown, "NotDeclared",
			"spec.logCompatibility.targetLogFormat is not set; the log format is not checked")
		return true, nil
	}
	var readers []string
	minFormat := int64(0)
	for i := range ro.Status.Showtimes {
		if len(readers) >= r.stableSample() {
			break
		}
		e := &ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil || e.State != boxv1.ShowtimePending {
			continue
		}
		pod, ok := r.readyShardPod(ctx, st)
		if !ok {
			continue
		}
		tok, err := r.token(ctx, st)
		if err != nil {
			continue
		}
		rep, err := r.Shards.Status(ctx, pod.Status.PodIP, tok)
		if err != nil {
			logf.FromContext(ctx).Info("stable shard status unreadable", "showtime", entryKey(e).String(), "error", err.Error())
			continue
		}
		f := rep.LogFormat
		if f == 0 {
			f = 1
		}
		if minFormat == 0 || f < minFormat {
			minFormat = f
		}
		readers = append(readers, fmt.Sprintf("%s (format %d)", entryKey(e), f))
	}
	if len(readers) == 0 {
		msg := "no stable shard could be read to learn which log format the stable version reads; retrying"
		setRolloutCondition(ro, boxv1.RolloutConditionLogCompatible, metav1.ConditionUnknown, "NoStableShard", msg)
		ro.Status.Reason, ro.Status.Message = "CheckingLogFormat", msg
		s.requeueAt(s.now.Add(logFormatRetry))
		return false, nil
	}
	ro.Status.StableLogFormat = int32(minFormat)
	if int64(want) <= minFormat {
		setRolloutCondition(ro, boxv1.RolloutConditionLogCompatible, metav1.ConditionTrue, "Compatible",
			fmt.Sprintf("the target writes log format %d; stable shards read up to %d (%s)", want, minFormat, strings.Join(readers, ", ")))
		return true, nil
	}
	msg := fmt.Sprintf("the target writes log format %d but stable shards read only up to format %d (%s): after a rollback they could not read the log back",
		want, minFormat, strings.Join(readers, ", "))
	if ro.Spec.LogCompatibility.AllowIncompatibleLogFormat {
		setRolloutCondition(ro, boxv1.RolloutConditionLogCompatible, metav1.ConditionFalse, "AllowedIncompatible",
			msg+"; allowed by spec.logCompatibility.allowIncompatibleLogFormat")
		s.event(ro, nil, corev1.EventTypeWarning, "IncompatibleLogFormatAllowed", "Start", "%s; allowed by spec.logCompatibility.allowIncompatibleLogFormat", msg)
		return true, nil
	}
	setRolloutCondition(ro, boxv1.RolloutConditionLogCompatible, metav1.ConditionFalse, "IncompatibleLogFormat", msg)
	r.fail(s, "IncompatibleLogFormat", msg+"; set spec.logCompatibility.allowIncompatibleLogFormat to start anyway")
	return false, nil
}

// restart sends a RolledBack or Failed rollout back to the start (spec.retry):
// a new selection, step 1, fresh analysis. spec.abort and spec.retry are
// cleared.
func (r *ShardRolloutReconciler) restart(s *rolloutScope) {
	ro := s.ro
	was := fmt.Sprintf("%s (%s: %s)", ro.Status.Phase, ro.Status.Reason, ro.Status.Message)
	ro.Status = boxv1.ShardRolloutStatus{}
	s.consumeRetry, s.consumeAbort = true, true
	ro.Spec.Abort = false
	s.event(ro, nil, corev1.EventTypeNormal, "Retried", "Retry", "starting over from a new selection; it was %s", was)
}

func (r *ShardRolloutReconciler) fail(s *rolloutScope, reason, msg string) {
	s.ro.Status.Phase = boxv1.RolloutFailed
	s.ro.Status.Reason, s.ro.Status.Message = reason, msg
	s.ro.Status.CompletedAt = ptrTime(s.now)
}

// selectShowtimes lists the showtimes in scope in a stable order:
// namespace, then name (start then puts the busiest first).
func (r *ShardRolloutReconciler) selectShowtimes(ctx context.Context, ro *boxv1.ShardRollout) ([]boxv1.Showtime, error) {
	stSel, err := selectorOrAll(ro.Spec.Scope.ShowtimeSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.scope.showtimeSelector: %w", err)
	}
	var namespaces map[string]bool
	if sel := ro.Spec.Scope.NamespaceSelector; sel != nil {
		nsSel, err := selectorOrAll(sel)
		if err != nil {
			return nil, fmt.Errorf("spec.scope.namespaceSelector: %w", err)
		}
		list := &corev1.NamespaceList{}
		if err := r.List(ctx, list, client.MatchingLabelsSelector{Selector: nsSel}); err != nil {
			return nil, fmt.Errorf("listing namespaces: %w", err)
		}
		namespaces = map[string]bool{}
		for _, ns := range list.Items {
			namespaces[ns.Name] = true
		}
	}
	list := &boxv1.ShowtimeList{}
	if err := r.List(ctx, list, client.MatchingLabelsSelector{Selector: stSel}); err != nil {
		return nil, fmt.Errorf("listing showtimes: %w", err)
	}
	var out []boxv1.Showtime
	for _, st := range list.Items {
		if namespaces != nil && !namespaces[st.Namespace] {
			continue
		}
		if !st.DeletionTimestamp.IsZero() {
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func selectorOrAll(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

// loadShowtimes reads every showtime of the snapshot. A deleted one is
// noted and left out of everything after.
func (r *ShardRolloutReconciler) loadShowtimes(ctx context.Context, s *rolloutScope) error {
	for i := range s.ro.Status.Showtimes {
		e := &s.ro.Status.Showtimes[i]
		st := &boxv1.Showtime{}
		if err := r.Get(ctx, entryKey(e), st); err != nil {
			if apierrors.IsNotFound(err) {
				e.Message = "the showtime no longer exists"
				continue
			}
			return fmt.Errorf("reading showtime %s: %w", entryKey(e), err)
		}
		s.showtimes[entryKey(e)] = st
	}
	return nil
}

// progress is one step of a started rollout: observe, judge, roll back or
// move on.
func (r *ShardRolloutReconciler) progress(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	if ro.Status.Phase == boxv1.RolloutSucceeded && !ro.Spec.Abort {
		return nil
	}
	if len(s.showtimes) == 0 {
		if err := r.loadShowtimes(ctx, s); err != nil {
			return err
		}
	}
	r.observe(ctx, s)

	switch ro.Status.Phase {
	case boxv1.RolloutSucceeded:
		return r.beginRollback(ctx, s, "Undone", "undo requested (spec.abort on a Succeeded rollout)")
	case boxv1.RolloutRollingBack:
		// Restores that failed so far are tried again.
		r.restoreMoved(ctx, s)
		r.finishRollback(s)
		return nil
	}
	if ro.Spec.Abort {
		return r.beginRollback(ctx, s, "Aborted", "abort requested (spec.abort)")
	}
	if failed := r.analyze(ctx, s); failed != "" {
		return r.beginRollback(ctx, s, "AnalysisFailed", failed)
	}
	return r.promote(ctx, s)
}

// observe follows every moving showtime to ready, measuring its write pause.
func (r *ShardRolloutReconciler) observe(ctx context.Context, s *rolloutScope) {
	for i := range s.ro.Status.Showtimes {
		e := &s.ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil {
			continue
		}
		switch e.State {
		case boxv1.ShowtimeUpgrading, boxv1.ShowtimeRollingBack:
		default:
			continue
		}
		rollback := e.State == boxv1.ShowtimeRollingBack
		ready, why := r.observeShowtime(ctx, s, e, st, rollback)
		if !ready {
			if why != "" {
				e.Message = why
			}
			if !rollback {
				s.requeueAt(e.ChangedAt.Add(r.readyDeadline(s.ro)))
			}
			continue
		}
		if rollback {
			e.State, e.Message = boxv1.ShowtimeRolledBack, "back on "+imagesString(r.fromImages(e))
			continue
		}
		e.State, e.Message = boxv1.ShowtimeBaking, "ready on the target"
		if s.ro.Status.Phase == boxv1.RolloutPromoting {
			e.State, e.Analysis, e.Message = boxv1.ShowtimeUpgraded, boxv1.AnalysisSkipped, "promoted in full: analysis skipped"
		}
	}
}

// observeShowtime reports whether the showtime runs its wanted images,
// ready; on the way it notes when the shard stopped taking writes and when
// the new shard was ready.
func (r *ShardRolloutReconciler) observeShowtime(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime, rollback bool) (bool, string) {
	shardWant, feWant := e.ToShardImage, e.ToFrontendImage
	if rollback {
		shardWant, feWant = r.orDefault(e.FromShardImage), r.orDefault(e.FromFrontendImage)
	}
	if e.ToShardImage != "" {
		ready, why := r.observeShard(ctx, s, e, st, shardWant)
		if !ready {
			return false, why
		}
	}
	if e.ToFrontendImage != "" {
		dep := &appsv1.Deployment{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.Name + "-frontend"}, dep); err != nil {
			return false, "front end not found: " + err.Error()
		}
		if !deploymentRolledOut(dep, feWant) {
			return false, r.describeFrontendRollout(ctx, s, e, st, dep, feWant)
		}
	}
	return true, ""
}

// observeShard follows the shard pod. The write pause starts at the earliest
// sign that the old shard stopped taking writes (its deletion was requested,
// it went not ready, it is gone) and ends when the new pod is Ready, both
// from the pod's own timestamps where there are any.
func (r *ShardRolloutReconciler) observeShard(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime, want string) (bool, string) {
	pod := &corev1.Pod{}
	err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.Name + "-shard-0"}, pod)
	notePause := func(t time.Time) {
		if e.ChangedAt != nil && t.Before(e.ChangedAt.Time) {
			t = e.ChangedAt.Time
		}
		if e.PauseStartedAt == nil || t.Before(e.PauseStartedAt.Time) {
			e.PauseStartedAt = ptrTime(t)
		}
	}
	if apierrors.IsNotFound(err) {
		notePause(s.now)
		return false, "shard pod gone; waiting for the new one"
	}
	if err != nil {
		return false, "reading shard pod: " + err.Error()
	}
	image := shardContainerImage(pod)
	readyCond := podReadyCondition(pod)
	if image != want || !pod.DeletionTimestamp.IsZero() {
		switch {
		case !pod.DeletionTimestamp.IsZero():
			t := pod.DeletionTimestamp.Time
			if pod.DeletionGracePeriodSeconds != nil {
				t = t.Add(-time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
			}
			notePause(t)
		case readyCond == nil || readyCond.Status != corev1.ConditionTrue:
			if readyCond != nil && !readyCond.LastTransitionTime.IsZero() {
				notePause(readyCond.LastTransitionTime.Time)
			} else {
				notePause(s.now)
			}
		}
		return false, "shard restarting onto " + want
	}
	if readyCond == nil || readyCond.Status != corev1.ConditionTrue {
		// The new pod: the old one was gone before it was created.
		notePause(pod.CreationTimestamp.Time)
		msg := canary.DescribeNewPod(pod, "shard", "replaying its log")
		if reason, _, stuck := canary.StartProblem(pod); stuck && e.Message != msg {
			s.event(s.ro, st, corev1.EventTypeWarning, "PodNotStarting", "Observe", "%s: %s", entryKey(e), msg)
			s.event(st, s.ro, corev1.EventTypeWarning, "RolloutPodNotStarting", "Observe", "ShardRollout %s: %s (%s)", s.ro.Name, msg, reason)
		}
		return false, msg
	}
	if e.ReadyAt == nil {
		readyAt := readyCond.LastTransitionTime.Time
		if readyAt.IsZero() || readyAt.After(s.now) {
			readyAt = s.now
		}
		if e.PauseStartedAt == nil {
			notePause(pod.CreationTimestamp.Time)
		}
		if readyAt.Before(e.PauseStartedAt.Time) {
			readyAt = e.PauseStartedAt.Time
		}
		e.ReadyAt = ptrTime(readyAt)
		e.WritePause = readyAt.Sub(e.PauseStartedAt.Time).String()
	}
	return true, ""
}

func deploymentRolledOut(dep *appsv1.Deployment, image string) bool {
	found := false
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Image == image {
			found = true
		}
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	return found && dep.Status.ObservedGeneration >= dep.Generation &&
		dep.Status.UpdatedReplicas >= want && dep.Status.AvailableReplicas >= want &&
		dep.Status.Replicas == dep.Status.UpdatedReplicas
}

func shardContainerImage(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == "shard" {
			return c.Image
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Image
	}
	return ""
}

func podReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func podRestarts(pod *corev1.Pod) int32 {
	var n int32
	for _, c := range pod.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// readyShardPod is the showtime's shard pod when it is ready with an IP.
func (r *ShardRolloutReconciler) readyShardPod(ctx context.Context, st *boxv1.Showtime) (*corev1.Pod, bool) {
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.Name + "-shard-0"}, pod); err != nil {
		return nil, false
	}
	c := podReadyCondition(pod)
	if !pod.DeletionTimestamp.IsZero() || c == nil || c.Status != corev1.ConditionTrue || pod.Status.PodIP == "" {
		return nil, false
	}
	return pod, true
}

func (r *ShardRolloutReconciler) token(ctx context.Context, st *boxv1.Showtime) (string, error) {
	sec := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: st.Namespace, Name: st.Name + "-shard-token"}, sec); err != nil {
		return "", err
	}
	return string(sec.Data["token"]), nil
}

// takeInputs applies what people asked through the spec before the steps
// move: promoteFull, spec.promote and spec.retry on an inconclusive
// analysis (or cleared when nothing waits for them), paused and resumed.
// promoteLeft: spec.promote is still there for a manual gate; stop: the
// rollout is paused by spec.paused.
func (r *ShardRolloutReconciler) takeInputs(s *rolloutScope) (full, promoteLeft, stop bool) {
	ro := s.ro
	full = ro.Spec.PromoteFull
	if full && ro.Status.Phase != boxv1.RolloutPromoting {
		ro.Status.Phase = boxv1.RolloutPromoting
		ro.Status.Reason, ro.Status.Message = "PromotedFull", "spec.promoteFull: moving every remaining showtime, skipping steps, bakes and analysis"
		ro.Status.BakeUntil, ro.Status.WaitingForPromotion = nil, false
		for i := range ro.Status.Showtimes {
			if e := &ro.Status.Showtimes[i]; e.State == boxv1.ShowtimeBaking {
				e.State, e.Analysis, e.Message = boxv1.ShowtimeUpgraded, boxv1.AnalysisSkipped, "promoted in full: analysis skipped"
			}
		}
	}
	_, stepBake, _ := r.stepPlan(ro, full)
	usedPromote := r.resolveInconclusive(s, stepBake)
	// promoteLeft: spec.promote is still there for a manual gate.
	promoteLeft = ro.Spec.Promote && !usedPromote
	if ro.Spec.Retry && !s.consumeRetry {
		s.consumeRetry = true
		s.event(ro, nil, corev1.EventTypeNormal, "RetryIgnored", "Retry", "spec.retry set while no analysis is inconclusive and the rollout is not rolled back or failed; cleared")
	}
	if promoteLeft && !ro.Status.WaitingForPromotion {
		// Nothing waits for it: clear it so it does not approve a later gate.
		s.consumePromote = true
		s.event(ro, nil, corev1.EventTypeNormal, "PromoteIgnored", "Promote", "spec.promote set while no manual gate waits; cleared")
	}
	if ro.Spec.Paused {
		if ro.Status.Phase != boxv1.RolloutPaused {
			ro.Status.Phase = boxv1.RolloutPaused
			ro.Status.Reason, ro.Status.Message = "PausedByUser", "spec.paused: no new upgrades and no next step; analysis and rollback go on"
		}
		return full, promoteLeft, true
	}
	if ro.Status.Phase == boxv1.RolloutPaused {
		ro.Status.Phase = boxv1.RolloutProgressing
		ro.Status.Reason, ro.Status.Message = "Resumed", "resumed"
		if full {
			ro.Status.Phase = boxv1.RolloutPromoting
		}
	}
	return full, promoteLeft, false
}

// promote starts upgrades for the current step and moves to the next step
// once the cohort is ready, baked and judged.
func (r *ShardRolloutReconciler) promote(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	full, promoteLeft, stop := r.takeInputs(s)
	if stop {
		return nil
	}

	for {
		target, bake, gate := r.stepPlan(ro, full)
		ro.Status.StepTarget = target
		moved, upgrading := 0, 0
		for i := range ro.Status.Showtimes {
			switch ro.Status.Showtimes[i].State {
			case boxv1.ShowtimeUpgrading:
				upgrading++
				moved++
			case boxv1.ShowtimeBaking, boxv1.ShowtimeUpgraded:
				moved++
			}
		}
		if moved < int(target) {
			started, err := r.startUpgrades(ctx, s, int(target)-moved, int(r.maxConcurrent(ro))-upgrading)
			if err != nil {
				return err
			}
			if started > 0 {
				// Newcomers bake in full.
				ro.Status.BakeUntil = nil
			}
			moved += started
			upgrading += started
		}
		if upgrading > 0 {
			r.setProgressing(s, "Upgrading", fmt.Sprintf("step %d: %d showtimes restarting onto the target", ro.Status.CurrentStep, upgrading))
			return nil
		}
		if s.conflicts > 0 {
			// Not held back: changed by someone else (its own controller)
			// while we moved it. Moved again in a second.
			r.setProgressing(s, "Upgrading", fmt.Sprintf("step %d: %d showtimes changed while being moved; moving them again", ro.Status.CurrentStep, s.conflicts))
			return nil
		}
		// blocked: everything left of this step is held back; what moved
		// still bakes and is judged.
		blocked := moved < int(target) && r.remaining(s) > 0
		// A bake: the step's, or the one spec.retry started.
		if !full && (bake > 0 || ro.Status.BakeUntil != nil) && r.baking(s) > 0 {
			if ro.Status.BakeUntil == nil {
				ro.Status.BakeUntil = ptrTime(s.now.Add(bake))
			}
			if s.now.Before(ro.Status.BakeUntil.Time) {
				if blocked {
					r.setWaiting(s)
				} else {
					r.setProgressing(s, "Baking", fmt.Sprintf("step %d: baking until %s", ro.Status.CurrentStep, ro.Status.BakeUntil.UTC().Format(time.RFC3339)))
				}
				s.requeueAt(ro.Status.BakeUntil.Time)
				return nil
			}
		}
		// Final judgement of the cohort.
		if !full {
			if failed := r.judgeBaked(ctx, s); failed != "" {
				return r.beginRollback(ctx, s, "AnalysisFailed", failed)
			}
			if len(s.inconclusive) > 0 {
				r.pauseInconclusive(s)
				return nil
			}
			if r.baking(s) > 0 {
				// An analysis could not run: try again shortly.
				s.requeueAt(s.now.Add(r.interval(ro)))
				return nil
			}
		}
		if blocked {
			r.setWaiting(s)
			return nil
		}
		if r.remaining(s) == 0 && r.baking(s) == 0 {
			r.succeed(s)
			return nil
		}
		if gate && !full {
			if !promoteLeft {
				if !ro.Status.WaitingForPromotion {
					ro.Status.WaitingForPromotion = true
					s.event(ro, nil, corev1.EventTypeNormal, "WaitingForPromotion", "Promote",
						"step %d done (%d showtimes on %s); waiting for `kubectl boxoffice rollout promote %s`", ro.Status.CurrentStep, moved, targetString(ro), ro.Name)
				}
				r.setProgressing(s, "WaitingForPromotion", fmt.Sprintf("step %d done; waiting for promotion (kubectl boxoffice rollout promote %s)", ro.Status.CurrentStep, ro.Name))
				return nil
			}
			s.consumePromote = true
			s.event(ro, nil, corev1.EventTypeNormal, "Promoted", "Promote", "manual gate after step %d approved", ro.Status.CurrentStep)
		}
		// Next step.
		ro.Status.WaitingForPromotion = false
		ro.Status.BakeUntil = nil
		ro.Status.CurrentStep++
		s.event(ro, nil, corev1.EventTypeNormal, "StepStarted", "Promote", "step %d of %d", ro.Status.CurrentStep, r.stepCount(ro))
	}
}

// stepCount is the number of steps, with an implicit last step that moves
// the rest when the declared steps stop short of everyone.
func (r *ShardRolloutReconciler) stepCount(ro *boxv1.ShardRollout) int32 {
	n := int32(len(ro.Spec.Steps))
	if n == 0 || r.cumulative(ro, n) < int32(len(ro.Status.Showtimes)) {
		n++
	}
	return n
}

// cumulative is how many showtimes are on the target once step i (1-based)
// is done.
func (r *ShardRolloutReconciler) cumulative(ro *boxv1.ShardRollout, i int32) int32 {
	total := int32(len(ro.Status.Showtimes))
	best := int32(0)
	for j := int32(0); j < i && j < int32(len(ro.Spec.Steps)); j++ {
		st := ro.Spec.Steps[j]
		n := int32(0)
		switch {
		case st.Count != nil:
			n = *st.Count
		case st.Percent != nil:
			n = (total**st.Percent + 99) / 100
			if n < 1 {
				n = 1
			}
		}
		if n > best {
			best = n
		}
	}
	if i > int32(len(ro.Spec.Steps)) || best > total {
		best = total
	}
	return best
}

// stepPlan is the current step's cumulative target, bake and gate.
func (r *ShardRolloutReconciler) stepPlan(ro *boxv1.ShardRollout, full bool) (int32, time.Duration, bool) {
	total := int32(len(ro.Status.Showtimes))
	if full {
		return total, 0, false
	}
	i := ro.Status.CurrentStep
	if i < 1 {
		i = 1
	}
	if i > int32(len(ro.Spec.Steps)) {
		return total, 0, false
	}
	st := ro.Spec.Steps[i-1]
	return r.cumulative(ro, i), st.Bake.Duration, st.ManualGate
}

// remaining counts showtimes still to move (pending or waiting, and existing).
func (r *ShardRolloutReconciler) remaining(s *rolloutScope) int {
	n := 0
	for i := range s.ro.Status.Showtimes {
		e := &s.ro.Status.Showtimes[i]
		if s.showtimes[entryKey(e)] == nil {
			continue
		}
		if e.State == boxv1.ShowtimePending || e.State == boxv1.ShowtimeWaiting {
			n++
		}
	}
	return n
}

func (r *ShardRolloutReconciler) baking(s *rolloutScope) int {
	n := 0
	for i := range s.ro.Status.Showtimes {
		if s.ro.Status.Showtimes[i].State == boxv1.ShowtimeBaking {
			n++
		}
	}
	return n
}

// startUpgrades moves up to want showtimes, at most slots at once, in
// snapshot order, skipping those a freeze, their own sale peak or another
// rollout holds (listed as Waiting). It returns how many it started.
func (r *ShardRolloutReconciler) startUpgrades(ctx context.Context, s *rolloutScope, want, slots int) (int, error) {
	started := 0
	for i := range s.ro.Status.Showtimes {
		if started >= want || started >= slots {
			break
		}
		e := &s.ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil || (e.State != boxv1.ShowtimePending && e.State != boxv1.ShowtimeWaiting) {
			continue
		}
		if held, err := r.held(ctx, s, e, st); err != nil {
			return started, err
		} else if held {
			continue
		}
		if err := r.upgrade(ctx, s, e, st); err != nil {
			if apierrors.IsConflict(err) {
				// Someone changed it under us: look again next time.
				s.conflicts++
				s.requeueAt(s.now.Add(time.Second))
				continue
			}
			e.State, e.Message = boxv1.ShowtimeWaiting, "could not change the showtime: "+err.Error()
			s.event(s.ro, nil, corev1.EventTypeWarning, "UpgradeRefused", "Upgrade", "%s: %v", entryKey(e), err)
			s.requeueAt(s.now.Add(r.interval(s.ro)))
			continue
		}
		started++
	}
	return started, nil
}

// held reports, and notes on the entry, whether a freeze, the showtime's
// own sale peak or another rollout holds it back.
func (r *ShardRolloutReconciler) held(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) (bool, error) {
	if other := st.Annotations[boxv1.AnnotationRollout]; other != "" && other != s.ro.Name {
		o := &boxv1.ShardRollout{}
		err := r.Get(ctx, types.NamespacedName{Name: other}, o)
		if err == nil && !o.Status.Phase.Done() && o.Status.Phase != boxv1.RolloutSucceeded {
			e.State, e.Message = boxv1.ShowtimeWaiting, "held by ShardRollout "+other+" ("+string(o.Status.Phase)+")"
			s.heldBy[entryKey(e)] = other
			s.requeueAt(s.now.Add(r.interval(s.ro)))
			return true, nil
		}
	}
	hits, err := r.freezes()(ctx, r.Client, st, s.now)
	if err != nil {
		return false, fmt.Errorf("checking freezes of %s: %w", entryKey(e), err)
	}
	if len(hits) == 0 {
		return false, nil
	}
	parts := make([]string, 0, len(hits))
	var until time.Time
	for _, h := range hits {
		parts = append(parts, h.String())
		if h.End.After(until) {
			until = h.End
		}
	}
	if e.State != boxv1.ShowtimeWaiting {
		s.event(s.ro, nil, corev1.EventTypeNormal, "ShowtimeWaiting", "Upgrade", "%s waits: %s", entryKey(e), strings.Join(parts, "; "))
	}
	e.State, e.Message = boxv1.ShowtimeWaiting, "frozen by "+strings.Join(parts, "; ")
	s.frozen[entryKey(e)] = hits
	for _, h := range hits {
		s.requeueAt(h.End)
	}
	return true, nil
}

// upgrade changes the showtime's images, recording the previous ones in
// annotations (and in the rollout status) for rollback.
func (r *ShardRolloutReconciler) upgrade(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) error {
	orig := st.DeepCopy()
	if st.Annotations == nil {
		st.Annotations = map[string]string{}
	}
	st.Annotations[boxv1.AnnotationRollout] = s.ro.Name
	// The images it runs now: after an earlier rollout, not the snapshot's.
	e.FromShardImage, e.FromFrontendImage = st.Spec.Shard.Image, st.Spec.Frontend.Image
	if e.ToShardImage != "" {
		st.Annotations[boxv1.AnnotationPreviousShardImage] = st.Spec.Shard.Image
		st.Spec.Shard.Image = e.ToShardImage
	}
	if e.ToFrontendImage != "" {
		st.Annotations[boxv1.AnnotationPreviousFrontendImage] = st.Spec.Frontend.Image
		st.Spec.Frontend.Image = e.ToFrontendImage
	}
	if err := r.Patch(ctx, st, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	e.State, e.Step, e.Analysis = boxv1.ShowtimeUpgrading, s.ro.Status.CurrentStep, boxv1.AnalysisPending
	e.ChangedAt, e.PauseStartedAt, e.ReadyAt, e.WritePause, e.AnalyzedAt = ptrTime(s.now), nil, nil, "", nil
	e.Message = "moving to " + imagesString(r.toImages(e))
	s.requeueAt(s.now.Add(r.readyDeadline(s.ro)))
	s.event(s.ro, st, corev1.EventTypeNormal, "Upgrading", "Upgrade", "step %d: %s moves from %s to %s",
		e.Step, entryKey(e), imagesString(r.fromImages(e)), imagesString(r.toImages(e)))
	s.event(st, s.ro, corev1.EventTypeNormal, "RolloutUpgrading", "Upgrade", "ShardRollout %s step %d: moving to %s",
		s.ro.Name, e.Step, imagesString(r.toImages(e)))
	return nil
}

// beginRollback restores the previous images of every showtime this rollout
// moved, whatever the freezes, and marks the rollout RollingBack. A restore
// that fails is retried by every later reconcile (see restoreMoved) until it
// goes through.
func (r *ShardRolloutReconciler) beginRollback(ctx context.Context, s *rolloutScope, reason, msg string) error {
	ro := s.ro
	ro.Status.Phase = boxv1.RolloutRollingBack
	ro.Status.Reason, ro.Status.Message = reason, msg
	ro.Status.BakeUntil, ro.Status.WaitingForPromotion = nil, false
	if reason == "AnalysisFailed" {
		setRolloutCondition(ro, boxv1.RolloutConditionHealthy, metav1.ConditionFalse, reason, msg)
	}
	s.event(ro, nil, corev1.EventTypeWarning, "RollingBack", "Rollback", "%s: %s; rolling every moved showtime back", reason, msg)
	r.restoreMoved(ctx, s)
	r.finishRollback(s)
	return nil
}

// onTargetByUs reports whether the entry is a showtime this rollout moved to
// the target and has not put back yet.
func onTargetByUs(e *boxv1.RolloutShowtime) bool {
	switch e.State {
	case boxv1.ShowtimeUpgrading, boxv1.ShowtimeBaking, boxv1.ShowtimeUpgraded:
		// Step 0 and no analysis: it was on the target before the rollout,
		// not ours to move.
		return e.Step != 0 || e.Analysis != boxv1.AnalysisSkipped
	}
	return false
}

// restoreMoved puts the previous images back on every showtime this rollout
// moved that is still on the target, and sends the showtimes still waiting
// back to Pending. A restore that fails leaves the entry as it was, with the
// error in its message, to be tried again at the next reconcile (at the
// latest one analysis interval later).
func (r *ShardRolloutReconciler) restoreMoved(ctx context.Context, s *rolloutScope) {
	ro := s.ro
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		if e.State == boxv1.ShowtimeWaiting {
			e.State, e.Message = boxv1.ShowtimePending, "not moved: the rollout is rolling back"
			continue
		}
		st := s.showtimes[entryKey(e)]
		if !onTargetByUs(e) || st == nil {
			continue
		}
		if err := r.restore(ctx, s, e, st); err != nil {
			msg := "rollback failed, retrying: " + err.Error()
			if e.Message != msg {
				s.event(ro, nil, corev1.EventTypeWarning, "RollbackFailed", "Rollback", "%s: %v; retrying", entryKey(e), err)
			}
			e.Message = msg
			logf.FromContext(ctx).Error(err, "rolling back a showtime; retrying", "showtime", entryKey(e).String())
			s.requeueAt(s.now.Add(r.interval(ro)))
		}
	}
}

// restore puts the showtime's previous images back (only the fields this
// rollout changed and still holds). On failure st is left as it was read.
func (r *ShardRolloutReconciler) restore(ctx context.Context, s *rolloutScope, e *boxv1.RolloutShowtime, st *boxv1.Showtime) error {
	upd := st.DeepCopy()
	if e.ToShardImage != "" && upd.Spec.Shard.Image == e.ToShardImage {
		upd.Spec.Shard.Image = e.FromShardImage
	}
	if e.ToFrontendImage != "" && upd.Spec.Frontend.Image == e.ToFrontendImage {
		upd.Spec.Frontend.Image = e.FromFrontendImage
	}
	delete(upd.Annotations, boxv1.AnnotationPreviousShardImage)
	delete(upd.Annotations, boxv1.AnnotationPreviousFrontendImage)
	if err := r.Patch(ctx, upd, client.MergeFrom(st)); err != nil {
		return err
	}
	*st = *upd
	e.State, e.ChangedAt, e.PauseStartedAt, e.ReadyAt, e.WritePause = boxv1.ShowtimeRollingBack, ptrTime(s.now), nil, nil, ""
	e.Message = "rolling back to " + imagesString(r.fromImages(e))
	s.event(st, s.ro, corev1.EventTypeWarning, "RolloutRollingBack", "Rollback", "ShardRollout %s: %s; back to %s",
		s.ro.Name, s.ro.Status.Reason, imagesString(r.fromImages(e)))
	return nil
}

// finishRollback marks the rollout RolledBack once every showtime it moved
// is ready on its previous images: one whose restore has not gone through
// yet (still on the target) keeps it RollingBack, like one still restarting.
func (r *ShardRolloutReconciler) finishRollback(s *rolloutScope) {
	ro := s.ro
	pending := 0
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		if s.showtimes[entryKey(e)] == nil {
			continue
		}
		if e.State == boxv1.ShowtimeRollingBack || onTargetByUs(e) {
			pending++
		}
	}
	if pending > 0 {
		s.requeueAt(s.now.Add(r.interval(ro)))
		return
	}
	ro.Status.Phase = boxv1.RolloutRolledBack
	ro.Status.CompletedAt = ptrTime(s.now)
	rolloutRollbacks.WithLabelValues(ro.Name, ro.Status.Reason).Inc()
	s.event(ro, nil, corev1.EventTypeWarning, "RolledBack", "Rollback", "%s: %s; every moved showtime is back on its previous version", ro.Status.Reason, ro.Status.Message)
}

func (r *ShardRolloutReconciler) succeed(s *rolloutScope) {
	ro := s.ro
	ro.Status.Phase = boxv1.RolloutSucceeded
	ro.Status.Reason = "Succeeded"
	ro.Status.Message = fmt.Sprintf("every selected showtime runs %s", targetString(ro))
	ro.Status.BakeUntil, ro.Status.WaitingForPromotion = nil, false
	ro.Status.CompletedAt = ptrTime(s.now)
	byHand := 0
	for i := range ro.Status.Showtimes {
		if ro.Status.Showtimes[i].Analysis == boxv1.AnalysisPromotedByHand {
			byHand++
		}
	}
	if byHand > 0 {
		setRolloutCondition(ro, boxv1.RolloutConditionHealthy, metav1.ConditionTrue, "PromotedByHand",
			fmt.Sprintf("no analysis failed; %d showtimes were promoted by hand after an inconclusive analysis", byHand))
	} else {
		setRolloutCondition(ro, boxv1.RolloutConditionHealthy, metav1.ConditionTrue, "AnalysisPassed", "every upgraded shard passed analysis")
	}
	s.event(ro, nil, corev1.EventTypeNormal, "Succeeded", "Promote", "%s", ro.Status.Message)
}

func (r *ShardRolloutReconciler) setProgressing(s *rolloutScope, reason, msg string) {
	ro := s.ro
	if ro.Status.Phase != boxv1.RolloutPromoting {
		ro.Status.Phase = boxv1.RolloutProgressing
	}
	ro.Status.Reason, ro.Status.Message = reason, msg
}

// setWaiting pauses promotion while everything left is held back.
func (r *ShardRolloutReconciler) setWaiting(s *rolloutScope) {
	ro := s.ro
	var names []string
	frozen := false
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		if e.State == boxv1.ShowtimeWaiting {
			names = append(names, entryKey(e).String()+": "+e.Message)
			if _, ok := s.frozen[entryKey(e)]; ok {
				frozen = true
			}
		}
	}
	if len(names) > 3 {
		names = append(names[:3], fmt.Sprintf("and %d more", len(names)-3))
	}
	ro.Status.Phase = boxv1.RolloutPaused
	ro.Status.Reason = "Waiting"
	if frozen {
		ro.Status.Reason = "Frozen"
	}
	ro.Status.Message = fmt.Sprintf("step %d cannot go on: %s", ro.Status.CurrentStep, strings.Join(names, "; "))
}

// summarize fills the counts and conditions.
func (r *ShardRolloutReconciler) summarize(s *rolloutScope) {
	st := &s.ro.Status
	st.Total = int32(len(st.Showtimes))
	st.Upgraded, st.InProgress, st.Waiting, st.RolledBack = 0, 0, 0, 0
	var frozen []string
	for i := range st.Showtimes {
		e := &st.Showtimes[i]
		switch e.State {
		case boxv1.ShowtimeUpgraded:
			st.Upgraded++
		case boxv1.ShowtimeUpgrading, boxv1.ShowtimeBaking, boxv1.ShowtimeRollingBack:
			st.InProgress++
		case boxv1.ShowtimeWaiting:
			st.Waiting++
			if _, ok := s.frozen[entryKey(e)]; ok {
				frozen = append(frozen, entryKey(e).String())
			}
		case boxv1.ShowtimeRolledBack:
			st.RolledBack++
		}
	}
	switch st.Phase {
	case boxv1.RolloutProgressing, boxv1.RolloutPromoting, boxv1.RolloutRollingBack:
		setRolloutCondition(s.ro, boxv1.RolloutConditionProgressing, metav1.ConditionTrue, st.Reason, st.Message)
	case "", boxv1.RolloutPending:
		setRolloutCondition(s.ro, boxv1.RolloutConditionProgressing, metav1.ConditionFalse, "Pending", st.Message)
	default:
		setRolloutCondition(s.ro, boxv1.RolloutConditionProgressing, metav1.ConditionFalse, string(st.Phase), st.Message)
	}
	if st.Phase != "" && st.Phase != boxv1.RolloutPending {
		inconclusiveCondition(s.ro)
	}
	if meta.FindStatusCondition(st.Conditions, boxv1.RolloutConditionHealthy) == nil && st.Phase != boxv1.RolloutFailed {
		setRolloutCondition(s.ro, boxv1.RolloutConditionHealthy, metav1.ConditionTrue, "NoFailure", "no analysis failed")
	}
	if st.Phase.Done() || st.Phase == boxv1.RolloutSucceeded || st.Phase == boxv1.RolloutRollingBack {
		meta.RemoveStatusCondition(&st.Conditions, boxv1.RolloutConditionFrozen)
	} else if len(frozen) > 0 {
		setRolloutCondition(s.ro, boxv1.RolloutConditionFrozen, metav1.ConditionTrue, "ShowtimesFrozen",
			fmt.Sprintf("%d showtimes wait for a freeze or their on-sale peak to end: %s", len(frozen), strings.Join(firstN(frozen, 5), ", ")))
	} else if st.Phase != "" && st.Phase != boxv1.RolloutPending {
		setRolloutCondition(s.ro, boxv1.RolloutConditionFrozen, metav1.ConditionFalse, "NotFrozen", "no selected showtime waits for a freeze")
	}
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

// announce records an Event for each phase change.
func (r *ShardRolloutReconciler) announce(s *rolloutScope, before *boxv1.ShardRollout) {
	ro := s.ro
	if before.Status.Phase == ro.Status.Phase {
		return
	}
	typ := corev1.EventTypeNormal
	switch ro.Status.Phase {
	case boxv1.RolloutFailed, boxv1.RolloutRollingBack, boxv1.RolloutRolledBack:
		typ = corev1.EventTypeWarning
	}
	from := string(before.Status.Phase)
	if from == "" {
		from = "(new)"
	}
	s.event(ro, nil, typ, "Phase"+string(ro.Status.Phase), "Reconcile", "phase %s -> %s: %s", from, ro.Status.Phase, ro.Status.Message)
}

// syncShowtimeStatuses writes status.rollout of each showtime the rollout
// reached, with a status merge patch of that field alone, only when it
// changed.
func (r *ShardRolloutReconciler) syncShowtimeStatuses(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	var errs []error
	for i := range ro.Status.Showtimes {
		e := &ro.Status.Showtimes[i]
		st := s.showtimes[entryKey(e)]
		if st == nil || s.heldBy[entryKey(e)] != "" {
			continue
		}
		if e.State == boxv1.ShowtimePending && e.Step == 0 {
			if st.Status.Rollout == nil || st.Status.Rollout.Name != ro.Name {
				continue
			}
		}
		want := &boxv1.ShowtimeRolloutStatus{Name: ro.Name, Step: e.Step, State: e.State, Phase: ro.Status.Phase, Message: e.Message}
		if equality.Semantic.DeepEqual(st.Status.Rollout, want) {
			continue
		}
		if err := r.Status().Patch(ctx, st, showtimeRolloutPatch(want)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("writing status.rollout of %s: %w", entryKey(e), err))
		}
	}
	return errors.Join(errs...)
}

// SetupWithManager watches rollouts, and the showtimes, shard pods, front-end
// deployments and freeze windows that move them along.
func (r *ShardRolloutReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Prometheus == nil {
		r.Prometheus = HTTPPrometheus{}
	}
	active := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		if _, isPod := o.(*corev1.Pod); isPod && o.GetLabels()["app.kubernetes.io/component"] != "shard" {
			return nil
		}
		return r.activeRollouts(ctx)
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&boxv1.ShardRollout{}).
		Watches(&boxv1.Showtime{}, active).
		Watches(&corev1.Pod{}, active).
		Watches(&appsv1.Deployment{}, active).
		Watches(&boxv1.FreezeWindow{}, active).
		Named("shardrollout").
		Complete(r)
}

// activeRollouts lists the rollouts a change elsewhere may move along. There
// are few at a time.
func (r *ShardRolloutReconciler) activeRollouts(ctx context.Context) []ctrl.Request {
	list := &boxv1.ShardRolloutList{}
	if err := r.List(ctx, list); err != nil {
		logf.FromContext(ctx).Error(err, "listing shard rollouts")
		return nil
	}
	var out []ctrl.Request
	for _, ro := range list.Items {
		if !ro.Status.Phase.Done() && ro.Status.Phase != boxv1.RolloutSucceeded {
			out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Name: ro.Name}})
		}
	}
	return out
}
