// Package plugin is the kubectl-boxoffice plugin: one view of a showtime for
// on-call, rollout status and control, and freeze windows. The functions here
// take a controller-runtime client so that tests drive them against envtest
// or a fake client; cmd/kubectl-boxoffice wires them to cobra and kubeconfig.
package plugin

import (
	"context"
	"errors"
	"fmt"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	p := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"`+field+`":true}}`))
	if err := c.Patch(ctx, ro, p); err != nil {
		return fmt.Errorf("setting spec.%s on shardrollout %q: %w", field, ro.Name, err)
	}
	return nil
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
