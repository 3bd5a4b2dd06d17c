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

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Config is everything the front end needs to run. ParseFlags fills it from
// the command line and BOXOFFICE_FRONTEND_* environment variables.
type Config struct {
	ShardURL          string        // base URL of the shard, e.g. http://shard:7070; a replicated shard's member URLs, comma-separated
	ShardTokenFile    string        // bearer token for the shard's /v1 API
	Listen            string        // listen address for buyers, probes and metrics
	SessionKeyFile    string        // HMAC key for session cookies (shared by all replicas)
	SessionPrevKey    string        // optional file with the previous session key, still accepted (key rotation)
	SessionMaxAge     time.Duration // a session cookie is valid this long after it was issued
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
	HoldTTL           time.Duration // lifetime of every hold (the showtime's holdTTL); buyers cannot choose it
	MaxHoldLifetime   time.Duration // extending a hold never takes its expiry past creation + this
	PaymentTTL        time.Duration // how long a hold waits for a real payment (awaiting_payment)
	MaxSeatsPerHolder int           // most seats one hold may name (the shard also caps a holder's seats)
	ClientSeats       int           // seats one client address may hold per HoldTTL (token bucket); 0 disables
	MaxBodyBytes      int64         // request body limit
	MaxStreams        int           // concurrent browser streams per pod; 0 = unlimited
	MaxClientStreams  int           // concurrent browser streams per client address; 0 = unlimited
	ReadTimeout       time.Duration // whole request, headers and body
	WriteTimeout      time.Duration // one response (streams refresh their own deadline per write)
	AllowedOrigins    string        // comma list of extra origins trusted for writes (besides the page's own)
	RetryBudget       time.Duration // how long one write may be retried through a shard outage
	ShardBatch        int           // most buyer operations per POST /v2/batch to the shard; 0: one v1 request each
	Coalesce          time.Duration // fan-out coalescing interval
	ClientBuffer      int           // frames buffered per browser stream before it is dropped
	InsecureCookies   bool          // page served over plain HTTP (development): no Secure attribute
	PprofListen       string        // optional address for net/http/pprof (debugging)
	Show              ShowInfo      // what the page says about the show
	ShowFile          string        // optional JSON file with the show; wins over Show, read again when it changes
}

// DefaultConfig returns the defaults used when a flag is not given.
func DefaultConfig() Config {
	return Config{
		Listen:            ":8080",
		RateLimit:         10,
		RateBurst:         30,
		NewSessionRate:    1,
		NewSessionBurst:   20,
		HoldTTL:           10 * time.Minute,
		MaxHoldLifetime:   20 * time.Minute,
		PaymentTTL:        15 * time.Minute,
		MaxSeatsPerHolder: 8,
		ClientSeats:       32,
		MaxBodyBytes:      16 << 10,
		MaxStreams:        50000,
		MaxClientStreams:  8,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		SessionMaxAge:     12 * time.Hour,
		RetryBudget:       15 * time.Second,
		ShardBatch:        128,
		Coalesce:          100 * time.Millisecond,
		ClientBuffer:      64,
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
	fs.StringVar(&c.ShardURL, "shard-url", "", "base URL of the showtime's shard, e.g. http://standup-shard:7070, or every member's URL of a replicated shard, comma-separated; writes follow the leader (required)")
	fs.StringVar(&c.ShardTokenFile, "shard-token-file", "", "file holding the shard's bearer token (omit only if the shard runs with --auth=none)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address for the buyer page, API, probes and metrics")
	fs.StringVar(&c.SessionKeyFile, "session-key-file", "", "file holding the HMAC key for session cookies, at least 32 bytes (surrounding whitespace is ignored), same on every replica (required)")
	fs.StringVar(&c.SessionPrevKey, "session-previous-key-file", "", "optional file holding the previous session key: cookies it signed are still accepted (and re-signed with the current key), so the key can rotate without logging buyers out; a missing file means none")
	fs.DurationVar(&c.SessionMaxAge, "session-max-age", c.SessionMaxAge, "how long a session cookie is valid after it was issued")
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
	fs.DurationVar(&c.HoldTTL, "hold-ttl", c.HoldTTL, "lifetime of every hold (the showtime's spec.sales.holdTTL); a buyer's ttlSeconds is ignored")
	fs.DurationVar(&c.MaxHoldLifetime, "max-hold-lifetime", c.MaxHoldLifetime, "extending a hold never moves its expiry past its creation plus this (spec.sales.maxHoldLifetime)")
	fs.DurationVar(&c.PaymentTTL, "payment-ttl", c.PaymentTTL, "how long a hold waits for a real payment once the buyer pays (spec.sales.paymentTTL)")
	fs.IntVar(&c.MaxSeatsPerHolder, "max-seats-per-holder", c.MaxSeatsPerHolder, "most seats one hold may name (spec.sales.maxSeatsPerHolder); more is 422 too_many_seats")
	fs.IntVar(&c.ClientSeats, "client-seats", c.ClientSeats, "seats one client address may hold per --hold-ttl on this pod, whatever its sessions (token bucket); 0 disables")
	fs.IntVar(&c.MaxClientStreams, "max-client-streams", c.MaxClientStreams, "most concurrent event streams per client address (429 beyond); 0 means no limit")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "longest time to read one request, headers and body")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "longest time to write one response (event streams refresh a per-write deadline instead)")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", "", "comma list of origins (scheme://host[:port]) besides the page's own allowed to send writes")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest accepted request body")
	fs.IntVar(&c.MaxStreams, "max-streams", c.MaxStreams, "most concurrent browser event streams on this pod; 0 means no limit")
	fs.DurationVar(&c.RetryBudget, "retry-budget", c.RetryBudget, "how long a buyer's write is retried while the shard is unreachable")
	fs.IntVar(&c.ShardBatch, "shard-batch", c.ShardBatch, "most buyer operations (holds, reads of holds, confirms, releases) carried in one POST /v2/batch request to the shard: concurrent buyers share a round trip and a group commit, each keeps its own answer and Idempotency-Key; 0 sends one v1 request each (a shard without /v2/batch is detected and served by v1 anyway)")
	fs.DurationVar(&c.Coalesce, "coalesce", c.Coalesce, "interval at which seat changes are merged and sent to browsers")
	fs.IntVar(&c.ClientBuffer, "client-buffer", c.ClientBuffer, "updates buffered per browser before a slow browser is disconnected")
	fs.Bool("secure-cookies", true, "deprecated and ignored: the cookie is Secure unless --insecure-cookies")
	fs.BoolVar(&c.InsecureCookies, "insecure-cookies", false, "the page is served over plain HTTP (development only): leave the Secure attribute off the session cookie")
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
	} else {
		for _, one := range splitShardURLs(c.ShardURL) {
			if u, err := url.Parse(one); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("--shard-url %q must be an absolute http:// or https:// URL, or a comma-separated list of them (a replicated shard's members)", c.ShardURL))
				break
			}
		}
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
	errs = append(errs, c.validateSales()...)
	if c.ClientSeats < 0 || c.MaxClientStreams < 0 {
		errs = append(errs, errors.New("--client-seats and --max-client-streams must not be negative"))
	}
	if c.ReadTimeout < time.Second || c.WriteTimeout < time.Second {
		errs = append(errs, errors.New("--read-timeout and --write-timeout must be at least 1s"))
	}
	if c.SessionMaxAge < time.Minute {
		errs = append(errs, errors.New("--session-max-age must be at least 1m"))
	}
	if _, err := parseOrigins(c.AllowedOrigins); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBodyBytes < 256 {
		errs = append(errs, errors.New("--max-body-bytes must be at least 256"))
	}
	if c.RetryBudget < 0 {
		errs = append(errs, errors.New("--retry-budget must not be negative"))
	}
	if c.ShardBatch < 0 || c.ShardBatch > shardapi.MaxBatchOps {
		errs = append(errs, fmt.Errorf("--shard-batch must be between 0 and %d", shardapi.MaxBatchOps))
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

// maxTTL is the longest hold or payment window the front end accepts,
// the shard's default --max-hold-ttl.
const maxTTL = 2 * time.Hour

func (c Config) validateSales() []error {
	var errs []error
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--hold-ttl", c.HoldTTL}, {"--max-hold-lifetime", c.MaxHoldLifetime}, {"--payment-ttl", c.PaymentTTL}} {
		if d.v < time.Second || d.v > maxTTL || d.v%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%s %v must be whole seconds between 1s and %v", d.flag, d.v, maxTTL))
		}
	}
	if c.MaxHoldLifetime < c.HoldTTL {
		errs = append(errs, fmt.Errorf("--max-hold-lifetime %v must not be shorter than --hold-ttl %v", c.MaxHoldLifetime, c.HoldTTL))
	}
	if c.MaxSeatsPerHolder < 1 || c.MaxSeatsPerHolder > seats.MaxSeatsPerHold {
		errs = append(errs, fmt.Errorf("--max-seats-per-holder must be between 1 and %d (the most seats one hold may name)", seats.MaxSeatsPerHold))
	}
	if c.ClientSeats > 0 && c.ClientSeats < c.MaxSeatsPerHolder {
		errs = append(errs, fmt.Errorf("--client-seats %d must be 0 (off) or at least --max-seats-per-holder %d, or no client could hold the most seats a hold may name", c.ClientSeats, c.MaxSeatsPerHolder))
	}
	return errs
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
