package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const exitCodesHelp = `Exit codes:
  0  done (rollout status: succeeded, or progressing normally without --watch)
  1  error (API unreachable, action refused)
  2  usage error
  3  not found
  4  rollout status: the rollout is RollingBack, RolledBack or Failed
  5  rollout status --watch: the rollout is paused, frozen or waits at a manual gate`

// Env is what the commands need from outside: a client factory, a clock and
// the streams. Tests set Client to an envtest or fake client.
type Env struct {
	Streams genericiooptions.IOStreams
	Flags   *genericclioptions.ConfigFlags
	// Client, when set, is used instead of one built from Flags.
	Client client.Client
	Now    func() time.Time
	// PollInterval of rollout status --watch.
	PollInterval time.Duration
}

func (e *Env) client() (client.Client, error) {
	if e.Client != nil {
		return e.Client, nil
	}
	cfg, err := e.Flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(boxv1.AddToScheme(s))
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	e.Client = c
	return c, nil
}

func (e *Env) namespace() (string, error) {
	if e.Flags == nil {
		return "default", nil
	}
	ns, _, err := e.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("kubeconfig namespace: %w", err)
	}
	return ns, nil
}

// clientIn is the client and the namespace commands about one namespace use.
func (e *Env) clientIn() (client.Client, string, error) {
	c, err := e.client()
	if err != nil {
		return nil, "", err
	}
	ns, err := e.namespace()
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// NewCommand builds the kubectl-boxoffice command tree.
func NewCommand(env *Env) *cobra.Command {
	if env.Flags == nil {
		env.Flags = genericclioptions.NewConfigFlags(true)
	}
	var output string
	root := &cobra.Command{
		Use:           "kubectl-boxoffice",
		Short:         "Box office for on-call: showtimes, rollouts and freezes",
		Long:          "Box office for on-call: one view of a showtime, rollout status and control, freeze windows.\n\n" + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(env.Streams.Out)
	root.SetErr(env.Streams.ErrOut)
	env.Flags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (default: for people)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: ExitUsage, Err: err} })

	root.AddCommand(&cobra.Command{
		Use:   "status SHOWTIME",
		Short: "Phase, seats, shard, front end, freeze and rollout of one showtime",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := env.clientIn()
			if err != nil {
				return err
			}
			v, err := ShowtimeStatus(cmd.Context(), c, ns, args[0], env.now())
			if err != nil {
				return err
			}
			return Print(env.Streams.Out, output, v, func(w io.Writer) { WriteShowtime(w, v) })
		},
	})

	root.AddCommand(newRolloutCommand(env, &output))

	freezeCmd := &cobra.Command{Use: "freeze", Short: "Freeze windows and sale freezes", Args: noArgs}
	root.AddCommand(freezeCmd)
	freezeCmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Freeze windows and showtimes' own sale freezes active now or starting later",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := env.clientIn()
			if err != nil {
				return err
			}
			entries, err := FreezeList(cmd.Context(), c, ns, env.now())
			if err != nil {
				return err
			}
			return Print(env.Streams.Out, output, entries, func(w io.Writer) { WriteFreezeList(w, entries) })
		},
	})
	return root
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: want %d argument(s), got %d; see --help", cmd.CommandPath(), n, len(args))}
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: unknown command %q; see --help", cmd.CommandPath(), args[0])}
	}
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: a subcommand is required; see --help", cmd.CommandPath())}
}

// ActionResult is what `rollout promote|abort|undo|pause|resume|retry -o
// json|yaml` prints: the
// action, the rollout, its phase once the request was recorded (the
// controller acts on it afterwards) and the message for people.
type ActionResult struct {
	Action  string `json:"action"`
	Rollout string `json:"rollout"`
	Phase   string `json:"phase"`
	Message string `json:"message"`
}

// act runs one rollout action and prints its result: the message for people,
// or an ActionResult with -o json|yaml. An unknown -o is refused before
// anything is changed.
func act(ctx context.Context, env *Env, output, action string, f func(context.Context, client.Client) (*boxv1.ShardRollout, string, error)) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	c, err := env.client()
	if err != nil {
		return err
	}
	ro, msg, err := f(ctx, c)
	if err != nil {
		return err
	}
	res := ActionResult{Action: action, Rollout: ro.Name, Phase: string(ro.Status.Phase), Message: msg}
	return Print(env.Streams.Out, output, res, func(w io.Writer) { fmt.Fprintln(w, msg) })
}

// checkOutput refuses an -o value Print does not know.
func checkOutput(format string) error {
	return Print(io.Discard, format, struct{}{}, func(io.Writer) {})
}

// RolloutStatusCmd prints a rollout; with watch it prints each change until
// the rollout succeeds (0), rolls back or fails (4), or waits for people (5).
func RolloutStatusCmd(ctx context.Context, c client.Reader, env *Env, name, output string, watch bool) error {
	var last *boxv1.ShardRollout
	interval := env.PollInterval
	if interval == 0 {
		interval = 2 * time.Second
	}
	for {
		ro, err := GetRollout(ctx, c, name)
		if err != nil {
			return err
		}
		if last == nil || !equality.Semantic.DeepEqual(last.Status, ro.Status) {
			if last != nil && output == "" {
				fmt.Fprintf(env.Streams.Out, "\n--- %s\n", env.now().UTC().Format(time.RFC3339))
			}
			if err := Print(env.Streams.Out, output, ro, func(w io.Writer) { WriteRollout(w, ro) }); err != nil {
				return err
			}
		}
		last = ro
		code := RolloutExitCode(ro)
		if code != ExitOK {
			return &ExitError{Code: code, Err: fmt.Errorf("shardrollout %s is %s: %s", name, ro.Status.Phase, ro.Status.Message)}
		}
		if !watch || ro.Status.Phase == boxv1.RolloutSucceeded {
			return nil
		}
		if ro.Status.Phase == boxv1.RolloutPaused || ro.Status.WaitingForPromotion {
			return &ExitError{Code: ExitPaused, Err: fmt.Errorf("shardrollout %s waits: %s", name, ro.Status.Message)}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// Main runs the plugin with args and returns the exit code.
func Main(ctx context.Context, args []string, env *Env) int {
	cmd := NewCommand(env)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(env.Streams.ErrOut, "error:", err)
	code := CodeOf(err)
	if code == ExitFailure && isCobraUsage(err) {
		code = ExitUsage
	}
	return code
}

// isCobraUsage spots cobra's own usage errors (unknown command or flag).
func isCobraUsage(err error) bool {
	s := strings.ToLower(err.Error())
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
