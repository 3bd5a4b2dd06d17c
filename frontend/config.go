package frontend

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is everything the front end needs to run. ParseFlags fills it from
// the command line and BOXOFFICE_FRONTEND_* environment variables.
type Config struct {
	ShardURL          string        // base URL of the shard, e.g. http://shard:7070
	ShardTokenFile    string        // bearer token for the shard's /v1 API
	Listen            string        // listen address for buyers, probes and metrics
	SessionKeyFile    string        // HMAC key for session cookies (shared by all replicas)
	Showtime          string        // NAMESPACE/NAME, must match the shard's showtime
	SeatMapFile       string        // optional seat map for layout order
	DemoPayments      bool          // "pay" confirms immediately
	PaymentSecretFile string        // shared secret for signed payment callbacks
	PaymentURL        string        // optional: where the page sends buyers to pay
	RateLimit         float64       // requests per second per client; 0 disables
	RateBurst         int           // burst per client
	NewSessionRate    float64       // new session cookies per second per client address; 0 disables
	NewSessionBurst   int           // burst of new session cookies per client address
	TrustedProxyHops  int           // proxies in front that append to X-Forwarded-For; 0 = use the peer address
	MaxBodyBytes      int64         // request body limit
	MaxStreams        int           // concurrent browser streams per pod; 0 = unlimited
	RetryBudget       time.Duration // how long one write may be retried through a shard outage
	Coalesce          time.Duration // fan-out coalescing interval
	ClientBuffer      int           // frames buffered per browser stream before it is dropped
	SecureCookies     bool          // set the Secure attribute on the session cookie
	PprofListen       string        // optional address for net/http/pprof (debugging)
	Show              ShowInfo      // what the page says about the show
	ShowFile          string        // optional JSON file with the show; wins over Show, read again when it changes
}

// DefaultConfig returns the defaults used when a flag is not given.
func DefaultConfig() Config {
	return Config{
		Listen:          ":8080",
		RateLimit:       10,
		RateBurst:       30,
		NewSessionRate:  0, // off: safe only once --trusted-proxy-hops says where clients come from
		NewSessionBurst: 40,
		MaxBodyBytes:    16 << 10,
		MaxStreams:      50000,
		RetryBudget:     15 * time.Second,
		Coalesce:        100 * time.Millisecond,
		ClientBuffer:    64,
	}
}

const envPrefix = "BOXOFFICE_FRONTEND_"

// EnvName is the environment variable that sets a flag.
func EnvName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ParseFlags parses args (without the subcommand name). Environment variables
// fill flags not given on the command line. Usage and errors go to out.
func ParseFlags(args []string, out io.Writer) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("boxoffice frontend", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.ShardURL, "shard-url", "", "base URL of the showtime's shard, e.g. http://standup-shard:7070 (required)")
	fs.StringVar(&c.ShardTokenFile, "shard-token-file", "", "file holding the shard's bearer token (omit only if the shard runs with --auth=none)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address for the buyer page, API, probes and metrics")
	fs.StringVar(&c.SessionKeyFile, "session-key-file", "", "file holding the HMAC key for session cookies, at least 32 bytes (surrounding whitespace is ignored), same on every replica (required)")
	fs.StringVar(&c.Showtime, "showtime", "", "showtime as NAMESPACE/NAME; must match the shard (required)")
	fs.StringVar(&c.SeatMapFile, "seat-map", "", "optional seat-map file (same format as the shard's) used to lay out the page; without it the layout comes from the shard's seat ids")
	fs.BoolVar(&c.DemoPayments, "demo-payments", false, "make \"pay\" confirm a hold immediately (demos and tests only)")
	fs.StringVar(&c.PaymentSecretFile, "payment-secret-file", "", "file holding the shared secret that signs payment callbacks (required without --demo-payments)")
	fs.StringVar(&c.PaymentURL, "payment-url", "", "optional URL of the payment page; the hold id is appended as ?hold=ID")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "API requests per second per client (session, else address); 0 disables")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "burst of API requests per client")
	fs.Float64Var(&c.NewSessionRate, "new-session-rate", c.NewSessionRate, "new session cookies per second per client address (the page and API hand one to every request without a valid cookie); 0 disables")
	fs.IntVar(&c.NewSessionBurst, "new-session-burst", c.NewSessionBurst, "burst of new session cookies per client address")
	fs.IntVar(&c.TrustedProxyHops, "trusted-proxy-hops", c.TrustedProxyHops, "number of trusted proxies in front of the front end that append the client address to X-Forwarded-For; rate limits then key on the address the outermost one saw. 0: use the connection's peer address and ignore X-Forwarded-For")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest accepted request body")
	fs.IntVar(&c.MaxStreams, "max-streams", c.MaxStreams, "most concurrent browser event streams on this pod; 0 means no limit")
	fs.DurationVar(&c.RetryBudget, "retry-budget", c.RetryBudget, "how long a buyer's write is retried while the shard is unreachable")
	fs.DurationVar(&c.Coalesce, "coalesce", c.Coalesce, "interval at which seat changes are merged and sent to browsers")
	fs.IntVar(&c.ClientBuffer, "client-buffer", c.ClientBuffer, "updates buffered per browser before a slow browser is disconnected")
	fs.BoolVar(&c.SecureCookies, "secure-cookies", false, "mark the session cookie Secure (set when served over HTTPS)")
	fs.StringVar(&c.PprofListen, "pprof-listen", "", "optional separate address (e.g. 127.0.0.1:6060) serving Go profiles; off when empty")
	fs.StringVar(&c.ShowFile, "show-file", "", "optional JSON file {title, startsAt, venue, timeZone} about the show (the operator mounts one); it wins over the four flags below and is read again when it changes, so a new title needs no restart")
	fs.StringVar(&c.Show.Title, "title", "", "the show's title, shown to buyers (default: the showtime's NAMESPACE/NAME)")
	fs.StringVar(&c.Show.StartsAt, "starts-at", "", "when the show starts, RFC 3339 (e.g. 2026-12-05T13:00:00Z), shown to buyers")
	fs.StringVar(&c.Show.Venue, "venue", "", "the venue's name, shown to buyers")
	fs.StringVar(&c.Show.TimeZone, "time-zone", "", "the venue's IANA time zone (e.g. Asia/Bangkok): the page shows the start in it; default UTC")

	set := map[string]bool{}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	return c, c.Validate()
}

// Validate checks the configuration and says what is wrong and how to fix it.
func (c Config) Validate() error {
	var errs []error
	if c.ShardURL == "" {
		errs = append(errs, fmt.Errorf("--shard-url (or %s) is required", EnvName("shard-url")))
	} else if u, err := url.Parse(c.ShardURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--shard-url %q must be an absolute http:// or https:// URL", c.ShardURL))
	}
	if c.SessionKeyFile == "" {
		errs = append(errs, fmt.Errorf("--session-key-file (or %s) is required: every replica must sign session cookies with the same key", EnvName("session-key-file")))
	}
	if c.Showtime == "" {
		errs = append(errs, fmt.Errorf("--showtime (or %s) is required, as NAMESPACE/NAME", EnvName("showtime")))
	} else if ns, name, ok := strings.Cut(c.Showtime, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		errs = append(errs, fmt.Errorf("--showtime %q must be NAMESPACE/NAME", c.Showtime))
	}
	if !c.DemoPayments && c.PaymentSecretFile == "" {
		errs = append(errs, errors.New("--payment-secret-file is required unless --demo-payments is set: without it nobody could confirm a purchase"))
	}
	if c.RateLimit < 0 || (c.RateLimit > 0 && c.RateBurst < 1) {
		errs = append(errs, errors.New("--rate-limit must be >= 0 and --rate-burst >= 1"))
	}
	if c.NewSessionRate < 0 || (c.NewSessionRate > 0 && c.NewSessionBurst < 1) {
		errs = append(errs, errors.New("--new-session-rate must be >= 0 and --new-session-burst >= 1"))
	}
	if c.TrustedProxyHops < 0 || c.TrustedProxyHops > 16 {
		errs = append(errs, errors.New("--trusted-proxy-hops must be between 0 and 16"))
	}
	if c.MaxBodyBytes < 256 {
		errs = append(errs, errors.New("--max-body-bytes must be at least 256"))
	}
	if c.RetryBudget < 0 {
		errs = append(errs, errors.New("--retry-budget must not be negative"))
	}
	if c.Coalesce < time.Millisecond || c.Coalesce > 10*time.Second {
		errs = append(errs, errors.New("--coalesce must be between 1ms and 10s"))
	}
	if c.ClientBuffer < 1 {
		errs = append(errs, errors.New("--client-buffer must be at least 1"))
	}
	if c.MaxStreams < 0 {
		errs = append(errs, errors.New("--max-streams must not be negative"))
	}
	errs = append(errs, c.Show.validate()...)
	return errors.Join(errs...)
}

// readSecret reads a secret file and trims surrounding whitespace.
func readSecret(flagName, path string, minLen int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %v", flagName, err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) < minLen {
		return nil, fmt.Errorf("--%s %s: secret is %d bytes, at least %d needed", flagName, path, len(b), minLen)
	}
	return b, nil
}
