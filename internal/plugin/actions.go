// Package plugin is the kubectl-boxoffice plugin: one view of a showtime for
// on-call, rollout status and control, and freeze windows. The functions here
// take a controller-runtime client so that tests drive them against envtest
// or a fake client; cmd/kubectl-boxoffice wires them to cobra and kubeconfig.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Exit codes scripts can rely on.
const (
	// ExitOK: done; for `rollout status`, the rollout succeeded or (without
	// --watch) is progressing normally.
	ExitOK = 0
	// ExitFailure: anything else went wrong (API unreachable, refused action).
	ExitFailure = 1
	// ExitUsage: bad command line.
	ExitUsage = 2
	// ExitNotFound: the named object does not exist.
	ExitNotFound = 3
	// ExitRolledBack: `rollout status` found the rollout RolledBack,
	// RollingBack or Failed.
	ExitRolledBack = 4
	// ExitPaused: `rollout status --watch` stopped because the rollout is
	// paused, frozen or waits at a manual gate.
	ExitPaused = 5
)

// ExitError carries an exit code with an error for people.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func exitf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// CodeOf maps an error to its exit code.
func CodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if apierrors.IsNotFound(err) {
		return ExitNotFound
	}
	return ExitFailure
}

// GetRollout reads a ShardRollout, answering ExitNotFound when it is absent.
func GetRollout(ctx context.Context, c client.Reader, name string) (*boxv1.ShardRollout, error) {
	ro := &boxv1.ShardRollout{}
	if err := c.Get(ctx, types.NamespacedName{Name: name}, ro); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, exitf(ExitNotFound, "shardrollout %q not found", name)
		}
		return nil, fmt.Errorf("reading shardrollout %q: %w", name, err)
	}
	return ro, nil
}

func patchSpec(ctx context.Context, c client.Client, ro *boxv1.ShardRollout, field string) error {
	return patchSpecFields(ctx, c, ro, map[string]any{field: true})
}

// patchSpecFields sets spec fields with one merge patch.
func patchSpecFields(ctx context.Context, c client.Client, ro *boxv1.ShardRollout, fields map[string]any) error {
	b, err := json.Marshal(map[string]any{"spec": fields})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, ro, client.RawPatch(types.MergePatchType, b)); err != nil {
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, "spec."+k)
		}
		sort.Strings(names)
		return fmt.Errorf("setting %s on shardrollout %q: %w", strings.Join(names, " and "), ro.Name, err)
	}
	return nil
}

// pausedInconclusive reports whether the rollout waits for on-call after an
// Inconclusive analysis.
func pausedInconclusive(ro *boxv1.ShardRollout) bool {
	return ro.Status.Phase == boxv1.RolloutPaused && ro.Status.Reason == boxv1.RolloutReasonInconclusive
}

// Promote approves the manual gate the rollout waits at, or with full moves
// every remaining showtime now (skipping steps, bakes and analysis). It
// returns what it did, for people.
func Promote(ctx context.Context, c client.Client, name string, full bool) (string, error) {
	_, msg, err := promote(ctx, c, name, full)
	return msg, err
}

// promote is Promote that also returns the rollout as it stands after the
// change (nil when it could not be read).
func promote(ctx context.Context, c client.Client, name string, full bool) (*boxv1.ShardRollout, string, error) {
	ro, err := GetRollout(ctx, c, name)
	if err != nil {
		return nil, "", err
	}
	switch ro.Status.Phase {
	case boxv1.RolloutSucceeded, boxv1.RolloutRolledBack, boxv1.RolloutFailed, boxv1.RolloutRollingBack:
		return ro, "", exitf(ExitFailure, "shardrollout %q is %s: nothing to promote", name, ro.Status.Phase)
	}
	if full {
		if err := patchSpec(ctx, c, ro, "promoteFull"); err != nil {
			return ro, "", err
		}
		return ro, fmt.Sprintf("shardrollout %s: promoting in full (remaining steps, bakes and analysis skipped)", name), nil
	}
	if pausedInconclusive(ro) {
		if err := patchSpec(ctx, c, ro, "promote"); err != nil {
			return ro, "", err
		}
		return ro, fmt.Sprintf("shardrollout %s: the showtimes of step %d whose analysis was inconclusive are promoted by hand", name, ro.Status.CurrentStep), nil
	}
	if !ro.Status.WaitingForPromotion {
		return ro, "", exitf(ExitFailure, "shardrollout %q does not wait at a manual gate (phase %s, step %d: %s); use --full to skip the remaining steps",
			name, ro.Status.Phase, ro.Status.CurrentStep, ro.Status.Message)
	}
	if err := patchSpec(ctx, c, ro, "promote"); err != nil {
		return ro, "", err
	}
	return ro, fmt.Sprintf("shardrollout %s: manual gate after step %d approved", name, ro.Status.CurrentStep), nil
}

// Abort rolls every showtime the rollout moved back to its previous image.
func Abort(ctx context.Context, c client.Client, name string) (string, error) {
	_, msg, err := abort(ctx, c, name)
	return msg, err
}

func abort(ctx context.Context, c client.Client, name string) (*boxv1.ShardRollout, string, error) {
	ro, err := GetRollout(ctx, c, name)
	if err != nil {
		return nil, "", err
	}
	switch ro.Status.Phase {
	case boxv1.RolloutSucceeded:
		return ro, "", exitf(ExitFailure, "shardrollout %q already succeeded; use `kubectl boxoffice rollout undo %s` to move its showtimes back", name, name)
	case boxv1.RolloutRolledBack, boxv1.RolloutFailed, boxv1.RolloutRollingBack:
		return ro, "", exitf(ExitFailure, "shardrollout %q is already %s", name, ro.Status.Phase)
	}
	if err := patchSpec(ctx, c, ro, "abort"); err != nil {
		return ro, "", err
	}
	return ro, fmt.Sprintf("shardrollout %s: abort requested; every moved showtime goes back to its previous image", name), nil
}

// Undo moves the showtimes of a rollout (finished or not) back to the images
// they ran before it.
func Undo(ctx context.Context, c client.Client, name string) (string, error) {
	_, msg, err := undo(ctx, c, name)
	return msg, err
}

func undo(ctx context.Context, c client.Client, name string) (*boxv1.ShardRollout, string, error) {
	ro, err := GetRollout(ctx, c, name)
	if err != nil {
		return nil, "", err
	}
	switch ro.Status.Phase {
	case boxv1.RolloutRolledBack, boxv1.RolloutRollingBack:
		return ro, fmt.Sprintf("shardrollout %s is already %s", name, ro.Status.Phase), nil
	case boxv1.RolloutFailed:
		return ro, fmt.Sprintf("shardrollout %s failed before moving anything (%s): nothing to undo", name, ro.Status.Reason), nil
	}
	if err := patchSpec(ctx, c, ro, "abort"); err != nil {
		return ro, "", err
	}
	return ro, fmt.Sprintf("shardrollout %s: undo requested; every moved showtime goes back to its previous image", name), nil
}

// finished reports whether a rollout no longer moves showtimes forward.
func finished(p boxv1.RolloutPhase) bool {
	switch p {
	case boxv1.RolloutSucceeded, boxv1.RolloutRolledBack, boxv1.RolloutFailed, boxv1.RolloutRollingBack:
		return true
	}
	return false
}

// Pause sets spec.paused: no new upgrades and no next step; analysis and
// automatic rollback go on. Pausing a paused rollout changes nothing.
func Pause(ctx context.Context, c client.Client, name string) (string, error) {
	_, msg, err := pause(ctx, c, name)
	return msg, err
}

func pause(ctx context.Context, c client.Client, name string) (*boxv1.ShardRollout, string, error) {
	ro, err := GetRollout(ctx, c, name)
	if err != nil {
		return nil, "", err
	}
	if finished(ro.Status.Phase) {
		return ro, "", exitf(ExitFailure, "shardrollout %q is %s: nothing to pause", name, ro.Status.Phase)
	}
	if ro.Spec.Paused {
		return ro, fmt.Sprintf("shardrollout %s is already paused (spec.paused)", name), nil
	}
	if err := patchSpecFields(ctx, c, ro, map[string]any{"paused": true}); err != nil {
		return ro, "", err
	}
	return ro, fmt.Sprintf("shardrollout %s: paused (spec.paused); no new upgrades and no next step, analysis and automatic rollback go on", name), nil
}

// Resume clears spec.paused. A rollout that waits for another reason (a
// freeze, an inconclusive analysis) is refused with what it waits for.
func Resume(ctx context.Context, c client.Client, name string) (string, error) {
	_, msg, err := resume(ctx, c, name)
	return msg, err
}

func resume(ctx context.Context, c client.Client, name string) (*boxv1.ShardRollout, string, error) {
	ro, err := GetRollout(ctx, c, name)
	if err != nil {
		return nil, "", err
	}
	if !ro.Spec.Paused {
		switch {
		case pausedInconclusive(ro):
			return ro, "", exitf(ExitFailure, "shardrollout %q is not paused by spec.paused: its analysis was inconclusive; use `kubectl boxoffice rollout promote %s` or `kubectl boxoffice rollout retry %s`", name, name, name)
		case ro.Status.Phase == boxv1.RolloutPaused:
			return ro, "", exitf(ExitFailure, "shardrollout %q is not paused by spec.paused; it waits (%s): %s", name, ro.Status.Reason, ro.Status.Message)
		}
		return ro, "", exitf(ExitFailure, "shardrollout %q is not paused (phase %s)", name, ro.Status.Phase)
	}
	if err := patchSpecFields(ctx, c, ro, map[string]any{"paused": false}); err != nil {
		return ro, "", err
	}
	return ro, fmt.Sprintf("shardrollout %s: resumed", name), nil
}

// Retry starts a RolledBack or Failed rollout over (a new selection, step
// 1), or judges the showtimes whose analysis was inconclusive again after
// another bake: bake long, or the step's own bake when bake is 0.
func Retry(ctx context.Context, c client.Client, name string, bake time.Duration) (string, error) {
	_, msg, err := retry(ctx, c, name, bake)
	return msg, err
}

func retry(ctx context.Context, c client.Client, name string, bake time.Duration) (*boxv1.ShardRollout, string, error) {
	ro, err := GetRollout(ctx, c, name)
	if err != nil {
		return nil, "", err
	}
	switch {
	case pausedInconclusive(ro):
		fields := map[string]any{"retry": true}
		what := "the step's bake"
		if bake > 0 {
			fields["retryBake"] = metav1.Duration{Duration: bake}
			what = bake.String()
		}
		if err := patchSpecFields(ctx, c, ro, fields); err != nil {
			return ro, "", err
		}
		return ro, fmt.Sprintf("shardrollout %s: the showtimes of step %d whose analysis was inconclusive bake another %s and are judged again", name, ro.Status.CurrentStep, what), nil
	case ro.Status.Phase == boxv1.RolloutRolledBack || ro.Status.Phase == boxv1.RolloutFailed:
		if bake > 0 {
			return ro, "", exitf(ExitFailure, "shardrollout %q is %s: --bake applies to an inconclusive analysis only", name, ro.Status.Phase)
		}
		if err := patchSpecFields(ctx, c, ro, map[string]any{"retry": true}); err != nil {
			return ro, "", err
		}
		return ro, fmt.Sprintf("shardrollout %s: starting over from a new selection (it was %s: %s)", name, ro.Status.Phase, ro.Status.Reason), nil
	}
	return ro, "", exitf(ExitFailure, "shardrollout %q has nothing to retry (phase %s): retry starts a RolledBack or Failed rollout over, or judges an inconclusive analysis again", name, ro.Status.Phase)
}
