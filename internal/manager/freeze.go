package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"boxoffice.dev/boxoffice/controllers"
	"boxoffice.dev/boxoffice/internal/webhooks"
	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// FreezeConfig is the command line of freezes, webhooks and their certificate.
type FreezeConfig struct {
	EnableWebhooks   bool
	WebhookPort      int
	CertDir          string
	CertRotation     bool
	ServiceName      string
	SecretName       string
	WebhookConfig    string
	BreakGlassGroups string
	BreakGlassUsers  string
	OperatorUsername string
}

// The certificate rotator watches webhook configurations (its informer cannot
// be narrowed to one name, so reading stays cluster-wide) and writes the CA
// bundle into the operator's own configuration only. The chart renames the
// resourceNames entry to its release's configuration.
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=boxoffice-validating-webhook-configuration,verbs=update;patch
// The certificate Secret, and the manager's own pod (its image is the default
// for shards and front ends), live in the operator's namespace.
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups="",namespace=system,resources=pods,verbs=get

func bindFreezeFlags(fs *flag.FlagSet, f *FreezeConfig) {
	fs.BoolVar(&f.EnableWebhooks, "enable-webhooks", os.Getenv("ENABLE_WEBHOOKS") != "false",
		"Serve the admission webhooks (freezes, seat-map validation). Off (or env ENABLE_WEBHOOKS=false) for `make run` against a cluster without the webhook configuration.")
	fs.IntVar(&f.WebhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	fs.StringVar(&f.CertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Directory holding tls.crt and tls.key for the webhook server (the mounted certificate Secret).")
	fs.BoolVar(&f.CertRotation, "cert-rotation", true, "Create and rotate the webhook serving certificate and inject its CA into the webhook configuration. Off when cert-manager provides it.")
	fs.StringVar(&f.ServiceName, "webhook-service-name", "boxoffice-webhook-service", "Service in front of the webhook server; the certificate is made for NAME.NAMESPACE.svc.")
	fs.StringVar(&f.SecretName, "webhook-secret-name", "boxoffice-webhook-server-cert", "Secret (in the operator's namespace) that holds the webhook certificate and its CA.")
	fs.StringVar(&f.WebhookConfig, "webhook-config-name", "boxoffice-validating-webhook-configuration", "ValidatingWebhookConfiguration to inject the CA bundle into.")
	fs.StringVar(&f.BreakGlassGroups, "break-glass-groups", "", "Comma-separated groups allowed to break a freeze with the boxoffice.dev/break-glass annotation.")
	fs.StringVar(&f.BreakGlassUsers, "break-glass-users", "", "Comma-separated users allowed to break a freeze with the boxoffice.dev/break-glass annotation.")
	fs.StringVar(&f.OperatorUsername, "operator-username", "", "The manager's own user name, exempt from freezes. Empty: asked from the API server (SelfSubjectReview), i.e. system:serviceaccount:NS:SA in a cluster.")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// webhookServer is the manager's webhook server.
func webhookServer(c *Config, tlsOpts []func(*tls.Config)) webhook.Server {
	return webhook.NewServer(webhook.Options{Port: c.Freeze.WebhookPort, CertDir: c.Freeze.CertDir, TLSOpts: tlsOpts})
}

// whoAmI asks the API server which user the manager is.
func whoAmI(cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the API server who the manager is: %w", err)
	}
	return r.Status.UserInfo.Username, nil
}

// setupFreeze registers the FreezeWindow controller and, when enabled, the
// webhooks, after the certificate rotator has a valid serving certificate in
// place (the webhook server starts only then).
func setupFreeze(mgr ctrl.Manager, c *Config, log logr.Logger) error {
	if err := (&controllers.FreezeWindowReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("boxoffice-freezewindow"),
		Clock:    clock.RealClock{},
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the freezewindow controller: %w", err)
	}
	f := c.Freeze
	if !f.EnableWebhooks {
		log.Info("admission webhooks disabled: freezes are reported (FreezeWindow status, Frozen condition) but not enforced")
		return nil
	}
	user := f.OperatorUsername
	if user == "" {
		var err error
		if user, err = whoAmI(mgr.GetConfig()); err != nil {
			return fmt.Errorf("%w; set --operator-username", err)
		}
	}
	cfg := webhooks.Config{
		BreakGlassUsers:   splitList(f.BreakGlassUsers),
		BreakGlassGroups:  splitList(f.BreakGlassGroups),
		OperatorUsernames: []string{user},
		DefaultImage:      c.DefaultImage,
	}
	certsReady := make(chan struct{})
	if f.CertRotation {
		dns := fmt.Sprintf("%s.%s.svc", f.ServiceName, c.Namespace)
		if err := rotator.AddRotator(mgr, &rotator.CertRotator{
			SecretKey:      types.NamespacedName{Namespace: c.Namespace, Name: f.SecretName},
			CertDir:        f.CertDir,
			CAName:         "boxoffice-webhook-ca",
			CAOrganization: "boxoffice",
			DNSName:        dns,
			ExtraDNSNames:  []string{dns + ".cluster.local"},
			IsReady:        certsReady,
			Webhooks:       []rotator.WebhookInfo{{Name: f.WebhookConfig, Type: rotator.Validating}},
			// Every replica serves webhooks and needs the certificate, leader or not.
			RequireLeaderElection: false,
		}); err != nil {
			return fmt.Errorf("setting up certificate rotation: %w", err)
		}
	} else {
		close(certsReady)
	}
	webhooksUp := make(chan struct{})
	go func() {
		<-certsReady
		// The rotator has written the Secret; the kubelet copies it into the
		// mounted directory a little later (up to a minute or so). The
		// webhook server refuses to start on missing or empty files, so wait
		// for a usable pair; until then this replica reports not ready and
		// the Service sends no admission requests to it.
		waitForKeyPair(f.CertDir, time.Second, 30*time.Second, log)
		if err := webhooks.Setup(mgr, cfg); err != nil {
			log.Error(err, "unable to set up webhooks")
			os.Exit(1)
		}
		close(webhooksUp)
	}()
	if err := mgr.AddReadyzCheck("webhooks", func(req *http.Request) error {
		select {
		case <-webhooksUp:
			return mgr.GetWebhookServer().StartedChecker()(req)
		default:
			return errors.New("webhook serving certificate not ready yet")
		}
	}); err != nil {
		return err
	}
	log.Info("admission webhooks enabled", "operatorUser", user, "breakGlassUsers", cfg.BreakGlassUsers,
		"breakGlassGroups", cfg.BreakGlassGroups, "certRotation", f.CertRotation)
	return nil
}

// waitForKeyPair returns once CertDir holds a certificate and key that load
// as a pair, logging every logEvery while it waits.
func waitForKeyPair(dir string, poll, logEvery time.Duration, log logr.Logger) {
	crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	began, logged := time.Now(), time.Now()
	for {
		_, err := tls.LoadX509KeyPair(crt, key)
		if err == nil {
			if waited := time.Since(began); waited > poll {
				log.Info("webhook serving certificate is in place", "dir", dir, "waited", waited.Round(time.Second).String())
			}
			return
		}
		if time.Since(logged) >= logEvery {
			log.Info("waiting for the webhook serving certificate to appear in the mounted Secret", "dir", dir, "error", err.Error())
			logged = time.Now()
		}
		time.Sleep(poll)
	}
}
