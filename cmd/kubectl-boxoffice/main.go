// Command kubectl-boxoffice is the Box office kubectl plugin. Put it on PATH
// and run `kubectl boxoffice --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"boxoffice.dev/boxoffice/internal/plugin"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &plugin.Env{Streams: genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}}
	code := plugin.Main(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
