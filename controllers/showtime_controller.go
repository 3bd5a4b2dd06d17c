// Package controllers holds one reconciler per Box office kind.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/shard/shardapi"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// DefaultMaxConcurrentReconciles is how many showtimes are reconciled at
// once unless the manager is told otherwise: one slow API call or one slow
// shard never holds up the others.
const DefaultMaxConcurrentReconciles = 4

// DefaultScrapeInterval bounds how often one showtime's shard is asked for its counts.
const DefaultScrapeInterval = 5 * time.Second

// ShowtimeReconciler runs one shard (and its supporting objects) per Showtime
// and reports seats and phase in the Showtime's status.
type ShowtimeReconciler struct {
	client.Client
	// APIReader reads from the API server, past the manager's cache, which
	// holds only objects labelled as this operator's. Nil: Client.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	// Clock is injectable so time-driven phases can be tested exactly.
	Clock   clock.PassiveClock
	Options specs.Options
	Shards  ShardClient
	// ScrapeInterval is the least time between two status reads of one shard.
	ScrapeInterval time.Duration
	// NodeLostAfter is how long a replicated shard member's node may be
	// NotReady before the member is replaced (DefaultNodeLostAfter if 0).
	NodeLostAfter time.Duration
	// MaxConcurrentReconciles is how many showtimes are reconciled at once;
	// 0 means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// HandoverWait bounds how long a leader's restart is watched for the
	// new leader (DefaultHandoverWait if 0).
	HandoverWait time.Duration
	// conflictRetryAfter overrides defaultConflictRetry in tests.
	conflictRetryAfter time.Duration

	mu      sync.Mutex
	scrapes map[types.NamespacedName]scrapeEntry
	// leaderless: since when each replicated showtime's members show no
	// leader (see electionGrace).
	leaderless map[types.NamespacedName]time.Time
}

type scrapeEntry struct {
	at     time.Time
	podUID types.UID
	report *shardapi.Status
	err    error
}

// scope is what one reconcile learns as its phases run.
type scope struct {
	st         *boxv1.Showtime
	now        time.Time
	layout     *seatmap.Layout
	seatMapErr error
	token      string
	sts        *appsv1.StatefulSet
	deployment *appsv1.Deployment
	pod        *corev1.Pod
	podReady   bool
	scrapeErr  error
	freeze     *freezeScope
	// conflict is an object in the way that is not the showtime's own.
	conflict *nameConflictError
	// memberPods and cluster are a replicated shard's pods by name and the
	// summary of its members; nil for a 1-member shard.
	memberPods map[string]*corev1.Pod
	cluster    *clusterView
	// replacementBlocked says why a lost member is not replaced;
	// memberReplaced: a lost member was replaced in this reconcile.
	replacementBlocked string
	memberReplaced     bool
	// membersUpdating: a member runs another revision than the
	// StatefulSet's (their status is read more often meanwhile).
	membersUpdating bool
	// requeueAfter is the soonest moment a phase wants to look again.
	requeueAfter time.Duration
	// stop ends the phase list early without an error.
	stop bool
}

func (s *scope) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if s.requeueAfter == 0 || d < s.requeueAfter {
		s.requeueAfter = d
	}
}

// phaseFunc is one step of a reconcile. An error ends the reconcile: it is
// retried, and what the step would have observed is treated as unknown.
type phaseFunc func(ctx context.Context, s *scope) error

// +kubebuilder:rbac:groups=boxoffice.dev,resources=showtimes,verbs=get;list;watch
// +kubebuilder:rbac:groups=boxoffice.dev,resources=showtimes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=boxoffice.dev,resources=showtimes/finalizers,verbs=update
// Owned objects are written by server-side apply only: patch, and create for
// an apply that makes the object. Generated secrets are created once.
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=apps,resources=statefulsets;deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Showtime's owned objects to their desired state and
// writes its status when, and only when, it changed.
func (r *ShowtimeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	st := &boxv1.Showtime{}
	if err := r.Get(ctx, req.NamespacedName, st); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetScrape(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !st.DeletionTimestamp.IsZero() {
		// Owner references let the garbage collector remove what we own.
		return ctrl.Result{}, nil
	}

	before := st.DeepCopy()
	s := &scope{st: st, now: r.Clock.Now()}
	failed, stepErr := r.runSteps(ctx, s)

	setSeatMapValidCondition(s)
	setObjectsOwnedCondition(s, stepErr == nil)
	switch {
	case stepErr == nil:
		r.setShardClusterConditions(s)
		setShardReadyCondition(s)
		setFrontendReadyCondition(s)
		st.Status.Phase = computePhase(s)
		if st.Status.Phase == boxv1.PhaseSoldOut && st.Status.SoldOutAt == nil {
			st.Status.SoldOutAt = &metav1.Time{Time: s.now.Truncate(time.Second)}
		}
		setOnSaleCondition(s)
		// Cluster API style: observedGeneration says the whole spec was acted on.
		st.Status.ObservedGeneration = st.Generation
	case s.conflict != nil:
		// Not retried as an error: only a person can clear it.
		keepSummaryOnFailure(s)
		r.reportConflict(ctx, before, s, failed)
		s.requeue(r.conflictRetry())
		stepErr = nil
	default:
		keepSummaryOnFailure(s)
		r.Recorder.Eventf(st, nil, corev1.EventTypeWarning, "ReconcileFailed", "Reconcile", "%s", failureNote(failed, stepErr))
		stepErr = fmt.Errorf("%s: %w", failed, stepErr)
	}
	setFrozenCondition(s)
	r.scheduleBoundaries(s)
	recordShowtimeMetrics(st, meta.IsStatusConditionTrue(st.Status.Conditions, boxv1.ConditionShardReady),
		specs.OnSale(st, s.now), specs.FrontendMax(st))

	if err := r.writeStatus(ctx, before, st); err != nil {
		if apierrors.IsConflict(err) && stepErr == nil {
			// Read again (the cache had an older copy) and recompute.
			return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
		}
		return ctrl.Result{}, errors.Join(stepErr, err)
	}
	if stepErr != nil {
		return ctrl.Result{}, stepErr
	}
	return ctrl.Result{RequeueAfter: s.requeueAfter}, nil
}

// runSteps runs the named steps in order until one fails or asks to stop,
// and returns the failed step's name and error. A name conflict is kept in
// s.conflict.
func (r *ShowtimeReconciler) runSteps(ctx context.Context, s *scope) (string, error) {
	steps := []step{
		{"freeze windows", r.reconcileFreeze},
		{"seat map", r.reconcileSeatMap},
		{"member count", r.keepLiveMemberCount},
		{"shard token", r.reconcileToken},
		{"shard objects", r.reconcileShardObjects},
		{"shard pod", r.reconcileShardPods},
		{"member replacement", r.reconcileMemberReplacement},
		{"member update", r.reconcileMemberUpdate},
		{"seat counts", r.reconcileSeats},
		{"front end", r.reconcileFrontend},
	}
	for _, p := range steps {
		if err := p.run(ctx, s); err != nil {
			errors.As(err, &s.conflict)
			return p.name, err
		}
		if s.stop {
			break
		}
	}
	return "", nil
}

// reportConflict records a name conflict once for on-call: a Warning event
// naming the object and what to do, when the condition is new or changed.
func (r *ShowtimeReconciler) reportConflict(ctx context.Context, before *boxv1.Showtime, s *scope, step string) {
	logf.FromContext(ctx).Info("name conflict", "step", step, "error", s.conflict.Error())
	old := meta.FindStatusCondition(before.Status.Conditions, boxv1.ConditionObjectsOwned)
	now := meta.FindStatusCondition(s.st.Status.Conditions, boxv1.ConditionObjectsOwned)
	if old != nil && now != nil && old.Status == now.Status && old.Message == now.Message {
		return
	}
	r.Recorder.Eventf(s.st, nil, corev1.EventTypeWarning, reasonNameConflict, "Reconcile", "%s", failureNote(step, s.conflict))
}

// step is one named phase of a reconcile; the name goes in the
// ReconcileFailed event when it fails.
type step struct {
	name string
	run  phaseFunc
}

// maxEventNote keeps a ReconcileFailed note within the events API's limit
// (1 kB) with room to spare.
const maxEventNote = 900

// failureNote names the failed step and its error. Errors here come from the
// API server or from this package and carry object names, never secret data.
func failureNote(step string, err error) string {
	note := fmt.Sprintf("%s: %v", step, err)
	if len(note) <= maxEventNote {
		return note
	}
	n := maxEventNote
	for n > 0 && !utf8.RuneStart(note[n]) {
		n--
	}
	return note[:n] + "..."
}

// reconcileSeatMap parses the seat map with the shared parser. The CRD's CEL
// rules catch the shape; the parser catches ranges and duplicates.
func (r *ShowtimeReconciler) reconcileSeatMap(ctx context.Context, s *scope) error {
	layout, err := seatmap.Expand(s.st.SeatMapSpec())
	if err != nil {
		s.seatMapErr = err
		s.stop = true
		if !meta.IsStatusConditionFalse(s.st.Status.Conditions, boxv1.ConditionSeatMapValid) {
			r.Recorder.Eventf(s.st, nil, corev1.EventTypeWarning, "InvalidSeatMap", "Validate", "%v", err)
		}
		return nil
	}
	s.layout = layout
	s.st.Status.Seats.Total = int32(layout.Total)
	return nil
}

// reconcileToken creates the shard's bearer token once. It is never logged,
// never re-applied and never rotated under a running shard.
func (r *ShowtimeReconciler) reconcileToken(ctx context.Context, s *scope) error {
	tok, err := r.ensureRandomSecret(ctx, s.st, s.st.TokenSecretName(), boxv1.ComponentShard, boxv1.TokenSecretKey)
	s.token = tok
	if err != nil || !s.st.Replicated() {
		return err
	}
	// The members' peer secret: made once, like the token, never rotated
	// under running members.
	_, err = r.ensureRandomSecret(ctx, s.st, s.st.PeerTokenSecretName(), boxv1.ComponentShard, boxv1.PeerTokenSecretKey)
	return err
}

// reconcileFrontend applies the booking front end: its secrets, Deployment,
// Service, PodDisruptionBudget and autoscaler, and reads its replicas.
func (r *ShowtimeReconciler) reconcileFrontend(ctx context.Context, s *scope) error {
	st := s.st
	if _, err := r.ensureRandomSecret(ctx, st, st.SessionSecretName(), boxv1.ComponentFrontend, boxv1.SessionKeyKey); err != nil {
		return err
	}
	if st.PaymentSecretName() == st.GeneratedPaymentSecretName() {
		if _, err := r.ensureRandomSecret(ctx, st, st.GeneratedPaymentSecretName(), boxv1.ComponentFrontend, boxv1.PaymentSecretKey); err != nil {
			return err
		}
	}
	dep := &appsv1.Deployment{}
	if err := applyOwned(ctx, r, st, specs.FrontendDeployment(st, r.Options), dep, func(o *appsv1.Deployment) (any, error) {
		return appsv1ac.ExtractDeployment(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	s.deployment = dep
	if err := applyOwned(ctx, r, st, specs.FrontendService(st, r.Options), &corev1.Service{}, func(o *corev1.Service) (any, error) {
		return corev1ac.ExtractService(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	if err := applyOwned(ctx, r, st, specs.FrontendPDB(st, r.Options), &policyv1.PodDisruptionBudget{}, func(o *policyv1.PodDisruptionBudget) (any, error) {
		return policyv1ac.ExtractPodDisruptionBudget(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	if err := applyOwned(ctx, r, st, specs.FrontendHPA(st, r.Options, s.now), &autoscalingv2.HorizontalPodAutoscaler{}, func(o *autoscalingv2.HorizontalPodAutoscaler) (any, error) {
		return autoscalingv2ac.ExtractHorizontalPodAutoscaler(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	var desired int32
	if dep.Spec.Replicas != nil {
		desired = *dep.Spec.Replicas
	}
	st.Status.Frontend = boxv1.FrontendStatus{
		DesiredReplicas: desired,
		Replicas:        dep.Status.Replicas,
		ReadyReplicas:   dep.Status.ReadyReplicas,
		MinReplicas:     specs.FrontendFloor(st, s.now),
		PreScaled:       specs.InPreScale(st, s.now),
		Image:           specs.FrontendImage(st, r.Options),
	}
	return nil
}

// reconcileShardObjects applies the shard's ConfigMap, Service, StatefulSet,
// PodDisruptionBudget and NetworkPolicy.
func (r *ShowtimeReconciler) reconcileShardObjects(ctx context.Context, s *scope) error {
	st := s.st
	cm, err := specs.SeatMapConfigMap(st, r.Options)
	if err != nil {
		return fmt.Errorf("building seat-map configmap: %w", err)
	}
	if err := applyOwned(ctx, r, st, cm, &corev1.ConfigMap{}, func(o *corev1.ConfigMap) (any, error) {
		return corev1ac.ExtractConfigMap(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	if err := applyOwned(ctx, r, st, specs.ShardService(st, r.Options), &corev1.Service{}, func(o *corev1.Service) (any, error) {
		return corev1ac.ExtractService(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	sts := &appsv1.StatefulSet{}
	if err := r.leaveRollingUpdate(ctx, st); err != nil {
		return err
	}
	if err := applyOwned(ctx, r, st, specs.ShardStatefulSet(st, r.Options), sts, func(o *appsv1.StatefulSet) (any, error) {
		return appsv1ac.ExtractStatefulSet(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	s.sts = sts
	if err := applyOwned(ctx, r, st, specs.ShardPDB(st, r.Options, s.now), &policyv1.PodDisruptionBudget{}, func(o *policyv1.PodDisruptionBudget) (any, error) {
		return policyv1ac.ExtractPodDisruptionBudget(o, specs.FieldOwner)
	}); err != nil {
		return err
	}
	return applyOwned(ctx, r, st, specs.ShardNetworkPolicy(st, r.Options), &networkingv1.NetworkPolicy{}, func(o *networkingv1.NetworkPolicy) (any, error) {
		return networkingv1ac.ExtractNetworkPolicy(o, specs.FieldOwner)
	})
}

// reconcileShardPods reads the shard's pods: the one pod of a single shard,
// or every member of a replicated one.
func (r *ShowtimeReconciler) reconcileShardPods(ctx context.Context, s *scope) error {
	if s.st.Replicated() {
		return r.reconcileShardMembers(ctx, s)
	}
	return r.reconcileShardPod(ctx, s)
}

// reconcileShardPod reads the shard pod the StatefulSet made.
func (r *ShowtimeReconciler) reconcileShardPod(ctx context.Context, s *scope) error {
	pod := &corev1.Pod{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.st.Namespace, Name: s.st.ShardPodName(0)}, pod)
	if apierrors.IsNotFound(err) {
		s.st.Status.Shard = boxv1.ShardStatus{Replicas: 1, ReadyMembers: "0/1"}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading shard pod: %w", err)
	}
	s.pod = pod
	s.podReady = podServing(pod)
	if stale, why := staleBrokenShardPod(s.sts, pod); stale {
		// A StatefulSet whose pod never became ready on a bad version does
		// not replace it when the template is put back (the forced-rollback
		// step of a StatefulSet's rolling update): do that step here, so a
		// rollback, by a ShardRollout or by hand, takes effect by itself.
		// The pod is not serving, so nothing is interrupted.
		if err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replacing the shard pod that is not ready on an older version: %w", err)
		}
		r.Recorder.Eventf(s.st, pod, corev1.EventTypeWarning, "ShardPodReplaced", "Delete", "%s", why)
		s.st.Status.Shard = boxv1.ShardStatus{}
		s.pod, s.podReady = nil, false
		return nil
	}
	image := ""
	for _, c := range pod.Spec.Containers {
		if c.Name == boxv1.ComponentShard {
			image = c.Image
		}
	}
	s.st.Status.Shard.Pod = pod.Name
	s.st.Status.Shard.Image = image
	s.st.Status.Shard.Ready = s.podReady
	s.st.Status.Shard.Replicas = 1
	s.st.Status.Shard.ReadyMembers = "0/1"
	if s.podReady {
		s.st.Status.Shard.ReadyMembers = "1/1"
	}
	return nil
}

// staleBrokenShardPod tells whether pod is a shard pod that is not ready, not
// being deleted, and made from another revision than the one the StatefulSet
// now wants: the StatefulSet would wait for it forever.
func staleBrokenShardPod(sts *appsv1.StatefulSet, pod *corev1.Pod) (bool, string) {
	if sts == nil || pod == nil || !pod.DeletionTimestamp.IsZero() || isPodReady(pod) {
		return false, ""
	}
	want, have := sts.Status.UpdateRevision, pod.Labels[appsv1.ControllerRevisionHashLabelKey]
	if want == "" || have == "" || want == have || sts.Status.ObservedGeneration < sts.Generation {
		return false, ""
	}
	return true, fmt.Sprintf("shard pod %s is not ready on revision %s and the StatefulSet now runs revision %s: deleting it so the StatefulSet starts the current version", pod.Name, have, want)
}

// reconcileSeats reads the ready shard's counts, at most every ScrapeInterval.
func (r *ShowtimeReconciler) reconcileSeats(ctx context.Context, s *scope) error {
	applyWaitingRoom(s.st, nil)
	if s.cluster != nil {
		return r.clusterSeats(ctx, s)
	}
	if !s.podReady || s.pod.Status.PodIP == "" {
		return nil
	}
	key := client.ObjectKeyFromObject(s.st)
	e, fresh := r.cachedScrape(key, s.pod.UID, s.now)
	if !fresh {
		rep, err := r.Shards.Status(ctx, s.pod.Status.PodIP, s.token)
		if err == nil && rep.Showtime != "" && rep.Showtime != s.st.ID() {
			err = fmt.Errorf("shard reports showtime %q, expected %q", rep.Showtime, s.st.ID())
		}
		e = scrapeEntry{at: s.now, podUID: s.pod.UID, report: rep, err: err}
		r.storeScrape(key, e)
		if err != nil {
			logf.FromContext(ctx).Info("shard status unreachable", "pod", s.pod.Name, "error", err.Error())
		} else {
			r.raiseShardReports(ctx, s.st, rep, s.now)
		}
	}
	s.requeue(r.scrapeInterval() - s.now.Sub(e.at))
	if e.err != nil {
		s.scrapeErr = e.err
		return nil
	}
	applyReport(s.st, e.report)
	return nil
}

// clusterSeats takes the counts from the leader's status, read with the
// other members': committed state, the same on every member.
func (r *ShowtimeReconciler) clusterSeats(ctx context.Context, s *scope) error {
	rep := s.cluster.LeaderReport
	if rep == nil {
		if s.cluster.Quorum() {
			s.scrapeErr = fmt.Errorf("the leader %s did not answer /v1/status", s.cluster.Leader)
		}
		return nil
	}
	r.raiseShardReports(ctx, s.st, rep, s.now)
	applyReport(s.st, rep)
	return nil
}

// applyReport copies a shard's counts, epoch and version into the status.
func applyReport(st *boxv1.Showtime, rep *shardapi.Status) {
	c := rep.Counts
	st.Status.Seats.Available = int32(c.Free)
	st.Status.Seats.Held = int32(c.Held)
	st.Status.Seats.AwaitingPayment = int32(c.AwaitingPayment)
	st.Status.Seats.Sold = int32(c.Sold)
	st.Status.Shard.Epoch = rep.Epoch
	st.Status.Shard.Version = int64(rep.Version)
	applyWaitingRoom(st, rep)
	recordSeatMetrics(st)
}

// scheduleBoundaries asks to look again at the exact next opening or closing
// moment, pre-scale start and end, and PDB change, instead of polling.
func (r *ShowtimeReconciler) scheduleBoundaries(s *scope) {
	boundaries := []time.Time{s.st.Spec.Sales.OpensAt.Time, s.st.Spec.Sales.ClosesAt.Time}
	if start, end, ok := s.st.PreScaleWindow(); ok {
		boundaries = append(boundaries, start, end)
	}
	boundaries = append(boundaries, freezeBoundaries(s)...)
	for _, t := range boundaries {
		if d := t.Sub(s.now); d > 0 {
			s.requeue(d)
		}
	}
}

// writeStatus patches the status only when it differs from what was read.
func (r *ShowtimeReconciler) writeStatus(ctx context.Context, before, st *boxv1.Showtime) error {
	if equality.Semantic.DeepEqual(before.Status, st.Status) {
		return nil
	}
	// Written only over the version it was computed from: the status keeps
	// history (versions, soldOutAt) that a reconcile on a stale cached copy
	// would otherwise write back over. A conflict is retried by the caller.
	if err := r.Status().Patch(ctx, st, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if before.Status.Phase != st.Status.Phase {
		typ := corev1.EventTypeNormal
		if st.Status.Phase == boxv1.PhaseDegraded {
			typ = corev1.EventTypeWarning
		}
		from := string(before.Status.Phase)
		if from == "" {
			from = "(new)"
		}
		r.Recorder.Eventf(st, nil, typ, "Phase"+string(st.Status.Phase), "Reconcile", "phase %s -> %s", from, st.Status.Phase)
	}
	recordPhaseMetric(st)
	return nil
}

func (r *ShowtimeReconciler) maxConcurrentReconciles() int {
	if r.MaxConcurrentReconciles > 0 {
		return r.MaxConcurrentReconciles
	}
	return DefaultMaxConcurrentReconciles
}

func (r *ShowtimeReconciler) scrapeInterval() time.Duration {
	if r.ScrapeInterval > 0 {
		return r.ScrapeInterval
	}
	return DefaultScrapeInterval
}

func (r *ShowtimeReconciler) cachedScrape(key types.NamespacedName, podUID types.UID, now time.Time) (scrapeEntry, bool) {
	return r.cachedScrapeWithin(key, podUID, now, r.scrapeInterval())
}

func (r *ShowtimeReconciler) cachedScrapeWithin(key types.NamespacedName, podUID types.UID, now time.Time, maxAge time.Duration) (scrapeEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.scrapes[key]
	return e, ok && e.podUID == podUID && now.Sub(e.at) < maxAge && !now.Before(e.at)
}

func (r *ShowtimeReconciler) storeScrape(key types.NamespacedName, e scrapeEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scrapes == nil {
		r.scrapes = map[types.NamespacedName]scrapeEntry{}
	}
	r.scrapes[key] = e
}

func (r *ShowtimeReconciler) forgetScrape(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.scrapes, key)
	// A replicated shard's members are cached by pod (at most 5 ordinals).
	gone := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	for i := range 5 {
		delete(r.scrapes, types.NamespacedName{Namespace: key.Namespace, Name: gone.ShardPodName(i)})
	}
	forgetMetrics(key)
}

// SetupWithManager watches Showtimes, what they own, and their shard pods.
func (r *ShowtimeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	podToShowtime := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		name, ok := o.GetLabels()[boxv1.LabelShowtime]
		if !ok || o.GetLabels()[boxv1.LabelComponent] != boxv1.ComponentShard {
			return nil
		}
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&boxv1.Showtime{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.StatefulSet{}).
		Owns(&appsv1.Deployment{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.Secret{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&corev1.Pod{}, podToShowtime).
		Watches(&corev1.Node{}, r.nodeToShowtimes(), builder.WithPredicates(nodeReadinessChanged())).
		Watches(&boxv1.FreezeWindow{}, r.freezeWindowToShowtimes()).
		Named("showtime").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.maxConcurrentReconciles()}).
		Complete(r)
}
