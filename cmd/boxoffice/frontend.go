package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"boxoffice.dev/boxoffice/frontend"
)

func init() {
	register("frontend", "serve the booking front end (seat-map page, buyer API, event fan-out)", runFrontend)
}

func runFrontend(args []string) int {
	cfg, err := frontend.ParseFlags(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "boxoffice frontend: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("component", "frontend", "showtime", cfg.Showtime)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := frontend.Run(ctx, cfg, log); err != nil {
		fmt.Fprintf(os.Stderr, "boxoffice frontend: %v\n", err)
		return 1
	}
	return 0
}
