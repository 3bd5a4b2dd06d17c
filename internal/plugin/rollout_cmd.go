package plugin

import (
	"context"
	"fmt"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// newRolloutCommand is `rollout status|promote|pause|resume|retry|abort|undo`.
// output points at the root's -o flag.
func newRolloutCommand(env *Env, output *string) *cobra.Command {
	rollout := &cobra.Command{Use: "rollout", Short: "Show and steer ShardRollouts", Args: noArgs}
	rollout.AddCommand(newRolloutStatusCommand(env, output))
	rollout.AddCommand(newRolloutPromoteCommand(env, output))
	rollout.AddCommand(newRolloutActionCommand(env, output, "abort",
		"Roll every showtime the rollout moved back to its previous image", abort))
	rollout.AddCommand(newRolloutActionCommand(env, output, "undo",
		"Move the showtimes of a rollout, also a succeeded one, back to the images they ran before it", undo))
	rollout.AddCommand(newRolloutActionCommand(env, output, "pause",
		"Stop new upgrades and step changes (spec.paused); analysis and automatic rollback go on", pause))
	rollout.AddCommand(newRolloutActionCommand(env, output, "resume",
		"Undo rollout pause (clear spec.paused)", resume))
	rollout.AddCommand(newRolloutRetryCommand(env, output))
	return rollout
}

// rolloutAction changes the named rollout and returns it with a message.
type rolloutAction func(ctx context.Context, c client.Client, name string) (*boxv1.ShardRollout, string, error)

// newRolloutActionCommand is `rollout VERB NAME` for an action without flags.
func newRolloutActionCommand(env *Env, output *string, verb, short string, do rolloutAction) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return act(cmd.Context(), env, *output, verb, func(ctx context.Context, c client.Client) (*boxv1.ShardRollout, string, error) {
				return do(ctx, c, args[0])
			})
		},
	}
}

// newRolloutStatusCommand is `rollout status NAME [--watch]`.
func newRolloutStatusCommand(env *Env, output *string) *cobra.Command {
	var watch bool
	statusCmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Phase, step and per-showtime state of a rollout",
		Long:  "Phase, step and per-showtime state of a rollout.\n\n" + exitCodesHelp,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.client()
			if err != nil {
				return err
			}
			return RolloutStatusCmd(cmd.Context(), c, env, args[0], *output, watch)
		},
	}
	statusCmd.Flags().BoolVarP(&watch, "watch", "w", false, "Follow the rollout until it succeeds, rolls back, fails or waits for people")
	return statusCmd
}

// newRolloutPromoteCommand is `rollout promote NAME [--full]`.
func newRolloutPromoteCommand(env *Env, output *string) *cobra.Command {
	var full bool
	promoteCmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "Approve the manual gate the rollout waits at (--full: move everyone now, skipping steps and analysis)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return act(cmd.Context(), env, *output, "promote", func(ctx context.Context, c client.Client) (*boxv1.ShardRollout, string, error) {
				return promote(ctx, c, args[0], full)
			})
		},
	}
	promoteCmd.Flags().BoolVar(&full, "full", false, "Skip the remaining steps, bakes and analysis")
	return promoteCmd
}

// newRolloutRetryCommand is `rollout retry NAME [--bake DURATION]`.
func newRolloutRetryCommand(env *Env, output *string) *cobra.Command {
	var retryBake time.Duration
	retryCmd := &cobra.Command{
		Use:   "retry NAME",
		Short: "Start a RolledBack or Failed rollout over, or bake an inconclusive analysis longer and judge it again",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if retryBake < 0 {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--bake must not be negative")}
			}
			return act(cmd.Context(), env, *output, "retry", func(ctx context.Context, c client.Client) (*boxv1.ShardRollout, string, error) {
				return retry(ctx, c, args[0], retryBake)
			})
		},
	}
	retryCmd.Flags().DurationVar(&retryBake, "bake", 0, "How long the inconclusive showtimes bake again before they are judged (default: the step's bake)")
	return retryCmd
}
