// Package shard is the seat-locking server of one showtime: the "shard"
// subcommand of the boxoffice binary. See README.md beside this file.
package shard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/shard/server"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "BOXOFFICE_SHARD_"

// Options are the parsed command line.
type Options struct {
	Showtime          string
	SeatMap           string
	DataDir           string
	Listen            string
	TokenFile         string
	Auth              string
	HoldTTL           time.Duration
	MaxHoldTTL        time.Duration
	MaxSeatsPerHolder int
	ShutdownTimeout   time.Duration
	SnapshotEvery     uint64
	PprofListen       string
	GCPercent         int
	Cluster           clusterFlags
	Room              roomFlags
}

// EnvName is the environment variable read for a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ParseFlags parses args, falling back to the environment for every flag not
// given on the command line.
func ParseFlags(args []string, getenv func(string) string, stderr io.Writer) (*Options, error) {
	o := &Options{}
	fs := flag.NewFlagSet("boxoffice shard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs, stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := setFromEnv(fs, set, getenv); err != nil {
		return nil, err
	}
	if problems := o.validate(set, getenv); len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return o, nil
}

// register defines the shard's flags on fs, with o's fields as their targets,
// and its usage text.
func (o *Options) register(fs *flag.FlagSet, stderr io.Writer) {
	fs.StringVar(&o.Showtime, "showtime", "", "showtime identity NAMESPACE/NAME, shown in /v1/status and logs (required)")
	fs.StringVar(&o.SeatMap, "seat-map", "", "seat map file, YAML or JSON (required)")
	fs.StringVar(&o.DataDir, "data-dir", "", "directory for the log and snapshots; created if missing (required)")
	fs.StringVar(&o.Listen, "listen", ":7070", "address to serve HTTP on")
	fs.StringVar(&o.TokenFile, "token-file", "", "file holding the bearer token for /v1/* (required unless --auth=none)")
	fs.StringVar(&o.Auth, "auth", "token", "authentication for /v1/*: token or none")
	fs.DurationVar(&o.HoldTTL, "hold-ttl", 10*time.Minute, "default hold lifetime")
	fs.DurationVar(&o.MaxHoldTTL, "max-hold-ttl", 2*time.Hour, "upper bound for any requested or extended ttl")
	fs.IntVar(&o.MaxSeatsPerHolder, "max-seats-per-holder", 8, "seats a holder's active holds may hold together")
	fs.Uint64Var(&o.SnapshotEvery, "snapshot-every", 100000, "log records between snapshots (bounds replay time)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 25*time.Second, "how long SIGTERM waits for requests in flight")
	fs.StringVar(&o.PprofListen, "pprof-listen", "", "optional separate address (e.g. 127.0.0.1:6060) serving Go profiles, without authentication; off when empty")
	fs.IntVar(&o.GCPercent, "gc-percent", 400, "collect garbage when the heap has grown by this percent of the live heap (Go's GOGC; the environment's GOGC wins); see gc.go")
	o.Cluster.register(fs)
	o.Room.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: boxoffice shard --showtime NS/NAME --seat-map FILE --data-dir DIR [flags]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEvery flag is also read from %s<FLAG> (upper case, dashes as underscores);\na flag on the command line wins.\n", EnvPrefix)
	}
}

// setFromEnv sets every flag not set on the command line (set) from its
// environment variable, if that is not empty; it stops at the first value
// the flag refuses.
func setFromEnv(fs *flag.FlagSet, set map[string]bool, getenv func(string) string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("environment %s=%q: %v", EnvName(f.Name), v, err)
			}
		}
	})
	return envErr
}

// validate lists every problem with the parsed options. When only
// --max-hold-ttl was given and it is below the default hold ttl, it lowers
// the hold ttl to it; set and getenv tell whether --hold-ttl was given.
func (o *Options) validate(set map[string]bool, getenv func(string) string) []string {
	var problems []string
	if o.Showtime == "" {
		problems = append(problems, "--showtime is required")
	}
	if o.SeatMap == "" {
		problems = append(problems, "--seat-map is required")
	}
	if o.DataDir == "" {
		problems = append(problems, "--data-dir is required")
	}
	switch o.Auth {
	case "token":
		if o.TokenFile == "" {
			problems = append(problems, "--token-file is required (or --auth=none to serve without authentication)")
		}
	case "none":
	default:
		problems = append(problems, fmt.Sprintf("--auth %q: use token or none", o.Auth))
	}
	if o.HoldTTL <= 0 {
		problems = append(problems, fmt.Sprintf("--hold-ttl %v: must be positive", o.HoldTTL))
	}
	if o.MaxHoldTTL <= 0 {
		problems = append(problems, fmt.Sprintf("--max-hold-ttl %v: must be positive", o.MaxHoldTTL))
	}
	if o.HoldTTL > o.MaxHoldTTL && o.MaxHoldTTL > 0 {
		if set["hold-ttl"] || getenv(EnvName("hold-ttl")) != "" {
			problems = append(problems, fmt.Sprintf("--hold-ttl %v is longer than --max-hold-ttl %v", o.HoldTTL, o.MaxHoldTTL))
		} else {
			// Only --max-hold-ttl was given: it caps the default hold ttl
			// like any other ttl.
			o.HoldTTL = o.MaxHoldTTL
		}
	}
	if o.HoldTTL%time.Second != 0 || o.MaxHoldTTL%time.Second != 0 {
		problems = append(problems, "--hold-ttl and --max-hold-ttl must be whole seconds (ttls are counted in seconds: ttlSeconds)")
	}
	if o.GCPercent < 10 || o.GCPercent > 10000 {
		problems = append(problems, fmt.Sprintf("--gc-percent %d: must be between 10 and 10000", o.GCPercent))
	}
	if o.MaxSeatsPerHolder < 1 || o.MaxSeatsPerHolder > 1024 {
		problems = append(problems, fmt.Sprintf("--max-seats-per-holder %d: must be between 1 and 1024", o.MaxSeatsPerHolder))
	}
	problems = o.Cluster.validate(o.Auth, problems)
	return o.Room.validate(problems)
}

// Main runs the shard subcommand and returns the exit code.
func Main(args []string) int {
	o, err := ParseFlags(args, os.Getenv, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "boxoffice shard: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("component", "shard", "showtime", o.Showtime)
	if err := run(o, log); err != nil {
		log.Error("shard stopped", "err", err.Error())
		fmt.Fprintf(os.Stderr, "boxoffice shard: %v\n", err)
		return 1
	}
	return 0
}

func loadConfig(o *Options, log *slog.Logger) (server.Config, error) {
	data, err := os.ReadFile(o.SeatMap)
	if err != nil {
		return server.Config{}, fmt.Errorf("reading --seat-map: %w", err)
	}
	layout, err := seatmap.Parse(data)
	if err != nil {
		return server.Config{}, fmt.Errorf("--seat-map %s: %w", o.SeatMap, err)
	}
	cfg := server.Config{
		Showtime: o.Showtime, SeatIDs: layout.SeatIDs(), DataDir: o.DataDir,
		HoldTTL: o.HoldTTL, MaxHoldTTL: o.MaxHoldTTL, MaxSeatsPerHolder: o.MaxSeatsPerHolder, Logger: log,
		SnapshotEvery: o.SnapshotEvery,
	}
	if o.Auth == "token" {
		tok, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return server.Config{}, fmt.Errorf("reading --token-file: %w", err)
		}
		cfg.Token = strings.TrimSpace(string(tok))
		if cfg.Token == "" {
			return server.Config{}, fmt.Errorf("--token-file %s is empty", o.TokenFile)
		}
	} else {
		log.Warn("serving /v1/* without authentication (--auth=none)")
	}
	cc, err := o.Cluster.config(o.Auth)
	if err != nil {
		return server.Config{}, err
	}
	cfg.Cluster = cc
	cfg.Room = o.Room.config()
	return cfg, nil
}

func run(o *Options, log *slog.Logger) error {
	cfg, err := loadConfig(o, log)
	if err != nil {
		return err
	}
	applyGC(o.GCPercent, log)
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if o.PprofListen != "" {
		_, stop, err := servePprof(o.PprofListen, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.Listen, err)
	}
	hs := server.NewHTTPServer(srv.Handler(), log)
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "seats", len(cfg.SeatIDs), "dataDir", o.DataDir)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	recovered := make(chan error, 1)
	go func() { recovered <- srv.Recover() }()
	select {
	case err := <-recovered:
		if err != nil {
			hs.Close()
			return err
		}
		log.Info("ready", "epoch", srv.Epoch())
	case sig := <-sigs:
		log.Info("signal during recovery; stopping", "signal", sig.String())
		hs.Close()
		if cfg.Cluster != nil {
			// A member waiting for its peers stops waiting.
			srv.Close(context.Background())
		}
		if err := <-recovered; err != nil {
			return err
		}
		return srv.Close(context.Background())
	}

	var fatal error
	select {
	case sig := <-sigs:
		log.Info("stopping: no new requests; finishing those in flight", "signal", sig.String())
	case fatal = <-srv.Fatal():
	case err := <-serveErr:
		fatal = fmt.Errorf("http server: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if fatal == nil {
		// Cluster mode, on the leader: hand leadership to an up-to-date
		// member first, so writes pause only for the hand-over.
		hctx, hcancel := context.WithTimeout(ctx, 3*time.Second)
		srv.HandOver(hctx)
		hcancel()
	}
	srv.BeginShutdown()
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("http shutdown", "err", err.Error())
		hs.Close()
	}
	if err := srv.Close(ctx); err != nil {
		// Not a clean stop (the final snapshot or the log's close failed, or
		// the grace period ran out): exit non-zero so it is seen.
		return fmt.Errorf("stopping: %w", err)
	}
	if fatal != nil {
		return fatal
	}
	log.Info("stopped cleanly")
	return nil
}
