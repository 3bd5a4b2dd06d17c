package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/canary"
	"boxoffice.dev/boxoffice/internal/freeze"
	"boxoffice.dev/boxoffice/internal/rolloutplan"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	defaultMaxErrorRatio = 0.01
	defaultMinWrites     = 10
	defaultLatencyRatio  = 2.0
	defaultLatencyFloor  = 25 * time.Millisecond
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
	// memberOverdue says, by replicated showtime, which member missed its
	// ready deadline on the target.
	memberOverdue map[types.NamespacedName]string
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
// when, it changed: advance (observe, analyse, plan, act), then the status
// computed in one place, then written.
func (r *ShardRolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ro := &boxv1.ShardRollout{}
	if err := r.Get(ctx, req.NamespacedName, ro); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ro.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := ro.DeepCopy()
	s := r.newScope(ro)
	err := r.advance(ctx, s)
	r.computeStatus(s, before, err)
	return r.writeStatus(ctx, s, before, err)
}

func (r *ShardRolloutReconciler) newScope(ro *boxv1.ShardRollout) *rolloutScope {
	return &rolloutScope{
		ro: ro, now: r.Clock.Now(),
		showtimes: map[types.NamespacedName]*boxv1.Showtime{},
		heldBy:    map[types.NamespacedName]string{},
		frozen:    map[types.NamespacedName][]freeze.Hit{},

		memberOverdue: map[types.NamespacedName]string{},

		inconclusiveReason: map[types.NamespacedName]string{},
		wasInconclusive:    pausedInconclusive(ro),
	}
}

// advance runs the phase the rollout is in: start a new one, start over a
// finished one on spec.retry, or progress a started one.
func (r *ShardRolloutReconciler) advance(ctx context.Context, s *rolloutScope) error {
	switch s.ro.Status.Phase {
	case "", boxv1.RolloutPending:
		return r.start(ctx, s)
	case boxv1.RolloutRolledBack, boxv1.RolloutFailed:
		// Final, unless on-call asks to start over.
		if s.ro.Spec.Retry {
			r.restart(s)
			return r.start(ctx, s)
		}
		return nil
	}
	return r.progress(ctx, s)
}

// computeStatus fills what the status shows besides the phase: steps,
// counts, conditions, observedGeneration (only when the reconcile went
// through) and the event of a phase change.
func (r *ShardRolloutReconciler) computeStatus(s *rolloutScope, before *boxv1.ShardRollout, err error) {
	ro := s.ro
	// With the implicit last step when the declared ones stop short.
	ro.Status.Steps = r.stepCount(ro)
	r.summarize(s)
	if err == nil {
		ro.Status.ObservedGeneration = ro.Generation
	}
	r.announce(s, before)
}

// writeStatus writes the status when it changed, then records the events,
// follows on each showtime's status.rollout and clears the spec's one-shot
// fields the reconcile used.
func (r *ShardRolloutReconciler) writeStatus(ctx context.Context, s *rolloutScope, before *boxv1.ShardRollout, err error) (ctrl.Result, error) {
	ro := s.ro
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

// progress is one reconcile of a started rollout: observe the moving
// showtimes, route (undo, go on rolling back, abort), analyse the baking
// ones, then the step loop (plan and act).
func (r *ShardRolloutReconciler) progress(ctx context.Context, s *rolloutScope) error {
	ro := s.ro
	route := rolloutplan.RouteOf(ro.Status.Phase, ro.Spec.Abort)
	if route == rolloutplan.RouteIdle {
		return nil
	}
	if len(s.showtimes) == 0 {
		if err := r.loadShowtimes(ctx, s); err != nil {
			return err
		}
	}
	r.observe(ctx, s)

	switch route {
	case rolloutplan.RouteUndo:
		return r.beginRollback(ctx, s, "Undone", "undo requested (spec.abort on a Succeeded rollout)")
	case rolloutplan.RouteRollingBack:
		// Restores that failed so far are tried again.
		r.restoreMoved(ctx, s)
		r.finishRollback(s)
		return nil
	case rolloutplan.RouteAbort:
		return r.beginRollback(ctx, s, "Aborted", "abort requested (spec.abort)")
	}
	if failed := r.analyze(ctx, s); failed != "" {
		return r.beginRollback(ctx, s, "AnalysisFailed", failed)
	}
	return r.promote(ctx, s)
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
