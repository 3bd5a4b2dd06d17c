// Package manager runs the Box office operator: controllers (and, as they
// arrive, webhooks) in one controller-runtime manager.
package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers"
	"boxoffice.dev/boxoffice/controllers/specs"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Scheme knows the built-in kinds and Box office's own.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(boxv1.AddToScheme(s))
	return s
}

// Config is the manager's command line.
type Config struct {
	MetricsAddr      string
	MetricsSecure    bool
	ProbeAddr        string
	LeaderElect      bool
	DefaultImage     string
	Namespace        string
	ScrapeInterval   time.Duration
	NodeLostAfter    time.Duration
	ShowtimeWorkers  int
	MaxHoldTTL       time.Duration
	TrustedHops      int
	EnableHTTP2      bool
	OperatorPodLabel string
	// WatchNamespaces limits the manager to these namespaces (empty: all).
	WatchNamespaces []string
	Freeze          FreezeConfig
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseFlags(args []string) (*Config, *zap.Options, error) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	c := &Config{}
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8443", "Metrics address; \"0\" disables the metrics endpoint.")
	fs.BoolVar(&c.MetricsSecure, "metrics-secure", true, "Serve metrics over HTTPS with authentication and authorization.")
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", ":8081", "Health and readiness probe address.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", false, "Elect a leader so that only one manager is active.")
	fs.StringVar(&c.DefaultImage, "default-image", envOr("BOXOFFICE_IMAGE", ""), "Image for shard and front-end pods unless a Showtime names one (env BOXOFFICE_IMAGE). Empty: the image of the manager's own pod, found through POD_NAME and POD_NAMESPACE.")
	fs.StringVar(&c.Namespace, "operator-namespace", envOr("POD_NAMESPACE", "boxoffice-system"), "Namespace the operator runs in; its pods may reach shards (env POD_NAMESPACE).")
	fs.StringVar(&c.OperatorPodLabel, "operator-pod-label", "control-plane=boxoffice-operator", "Label (key=value) that selects the operator's pods in NetworkPolicies.")
	fs.DurationVar(&c.ScrapeInterval, "shard-status-interval", controllers.DefaultScrapeInterval, "Least time between two status reads of one shard.")
	fs.DurationVar(&c.NodeLostAfter, "shard-node-lost-after", controllers.DefaultNodeLostAfter, "How long a replicated shard member's node may be NotReady before the member is replaced on another node (a deleted node counts at once).")
	fs.IntVar(&c.ShowtimeWorkers, "showtime-workers", controllers.DefaultMaxConcurrentReconciles, "Showtimes reconciled at once.")
	fs.DurationVar(&c.MaxHoldTTL, "max-hold-ttl", 2*time.Hour, "Upper bound passed to every shard as --max-hold-ttl.")
	fs.IntVar(&c.TrustedHops, "frontend-trusted-proxy-hops", 0, "Proxies in front of every front end that append to X-Forwarded-For, passed to front ends as --trusted-proxy-hops unless a Showtime sets spec.frontend.trustedProxyHops (0-16).")
	fs.BoolVar(&c.EnableHTTP2, "enable-http2", false, "Serve metrics and webhooks over HTTP/2 too (off: HTTP/2 rapid-reset exposure).")
	watch := fs.String("watch-namespaces", os.Getenv("WATCH_NAMESPACES"), "Comma-separated namespaces to manage Showtimes in (env WATCH_NAMESPACES). Empty: every namespace. With a list, namespaced Roles in those namespaces are enough (see docs/operator.md).")
	bindFreezeFlags(fs, &c.Freeze)
	opts := &zap.Options{Development: false}
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if k, v, ok := strings.Cut(c.OperatorPodLabel, "="); !ok || k == "" || v == "" {
		return nil, nil, fmt.Errorf("--operator-pod-label %q: want key=value", c.OperatorPodLabel)
	}
	if c.ShowtimeWorkers < 1 {
		return nil, nil, fmt.Errorf("--showtime-workers %d: at least 1", c.ShowtimeWorkers)
	}
	if c.TrustedHops < 0 || c.TrustedHops > 16 {
		return nil, nil, fmt.Errorf("--frontend-trusted-proxy-hops %d: must be between 0 and 16", c.TrustedHops)
	}
	if c.NodeLostAfter < time.Minute {
		return nil, nil, fmt.Errorf("--shard-node-lost-after %s: at least 1m (a node that misses a few heartbeats is not lost)", c.NodeLostAfter)
	}
	if c.ScrapeInterval < 500*time.Millisecond {
		return nil, nil, fmt.Errorf("--shard-status-interval %s: at least 500ms", c.ScrapeInterval)
	}
	var err error
	if c.WatchNamespaces, err = parseNamespaces(*watch); err != nil {
		return nil, nil, fmt.Errorf("--watch-namespaces: %w", err)
	}
	return c, opts, nil
}

// ownImage reads the image of the manager container of the manager's own pod,
// so shards and front ends run the same version as the operator.
func ownImage(r client.Reader, namespace, name string) (string, error) {
	if namespace == "" || name == "" {
		return "", errors.New("set --default-image, or POD_NAME and POD_NAMESPACE through the downward API")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pod := &corev1.Pod{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod); err != nil {
		return "", fmt.Errorf("reading own pod %s/%s: %w", namespace, name, err)
	}
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name == "manager" {
			return ctr.Image, nil
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Image, nil
	}
	return "", fmt.Errorf("own pod %s/%s has no containers", namespace, name)
}

// Main runs the manager until SIGTERM; it returns the process exit code.
func Main(args []string) int {
	c, zopts, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "boxoffice manager: %v\n", err)
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(zopts)))
	log := ctrl.Log.WithName("setup")

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), managerOptions(c))
	if err != nil {
		log.Error(err, "unable to create manager")
		return 1
	}
	if c.DefaultImage == "" {
		img, err := ownImage(mgr.GetAPIReader(), os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME"))
		if err != nil {
			log.Error(err, "no --default-image and the manager's own image is unknown")
			return 2
		}
		c.DefaultImage = img
	}
	if !setupManager(mgr, c, log) {
		return 1
	}
	log.Info("starting manager", "defaultImage", c.DefaultImage, "namespace", c.Namespace, "watchNamespaces", c.WatchNamespaces)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped with an error")
		return 1
	}
	return 0
}

// managerOptions configures the manager from the flags: metrics and webhook
// serving (HTTP/2 off unless asked for), health probes, leader election and
// the watched namespaces.
func managerOptions(c *Config) ctrl.Options {
	var tlsOpts []func(*tls.Config)
	if !c.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(t *tls.Config) { t.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: c.MetricsAddr, SecureServing: c.MetricsSecure, TLSOpts: tlsOpts}
	if c.MetricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return ctrl.Options{
		Scheme:                 Scheme(),
		Metrics:                metricsOpts,
		HealthProbeBindAddress: c.ProbeAddr,
		WebhookServer:          webhookServer(c, tlsOpts),
		LeaderElection:         c.LeaderElect,
		LeaderElectionID:       "boxoffice-operator.boxoffice.dev",
		// Main returns once the manager stops, so the lease can be handed
		// over at once: a drained leader does not leave the standby waiting
		// out the lease.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOptions(c.WatchNamespaces),
	}
}

// setupManager registers the controllers, the freeze windows and the health
// checks with mgr. It logs what failed and reports whether all went well.
func setupManager(mgr ctrl.Manager, c *Config, log logr.Logger) bool {
	if err := showtimeReconciler(mgr, c).SetupWithManager(mgr); err != nil {
		log.Error(err, "unable to set up controller", "controller", "showtime")
		return false
	}
	if err := (&controllers.ShardRolloutReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("boxoffice-rollout"),
		Clock:        clock.RealClock{},
		Shards:       controllers.NewHTTPShardProber(specs.ShardPort),
		DefaultImage: c.DefaultImage,
	}).SetupWithManager(mgr); err != nil {
		log.Error(err, "unable to set up controller", "controller", "shardrollout")
		return false
	}
	if err := setupFreeze(mgr, c, log); err != nil {
		log.Error(err, "unable to set up freeze windows")
		return false
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "unable to set up health check")
		return false
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "unable to set up ready check")
		return false
	}
	return true
}

// showtimeReconciler builds the Showtime controller from the flags; c's
// default image must already be resolved.
func showtimeReconciler(mgr ctrl.Manager, c *Config) *controllers.ShowtimeReconciler {
	k, v, _ := strings.Cut(c.OperatorPodLabel, "=")
	return &controllers.ShowtimeReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("boxoffice-showtime"),
		Clock:     clock.RealClock{},
		Options: specs.Options{
			DefaultImage:      c.DefaultImage,
			OperatorNamespace: c.Namespace,
			OperatorPodLabels: map[string]string{k: v},
			MaxHoldTTL:        c.MaxHoldTTL,

			FrontendTrustedProxyHops: int32(c.TrustedHops),
		},
		Shards:                  controllers.NewHTTPShardClient(specs.ShardPort),
		ScrapeInterval:          c.ScrapeInterval,
		NodeLostAfter:           c.NodeLostAfter,
		MaxConcurrentReconciles: c.ShowtimeWorkers,
	}
}
