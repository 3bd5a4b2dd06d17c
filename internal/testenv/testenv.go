package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv names the directory of kube-apiserver and etcd.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// assetBinaries are the binaries envtest runs from AssetsEnv.
var assetBinaries = []string{"kube-apiserver", "etcd"}

// Options says what to start.
type Options struct {
	// Root is the repository root (it holds config/). Empty: the nearest
	// directory at or above the working directory that holds go.mod.
	Root string
	// Webhooks installs the webhook configurations from config/webhook,
	// pointing at a local server envtest prepares a certificate for.
	Webhooks bool
	// WebhookHost is the address that local server listens on (envtest's
	// default when empty).
	WebhookHost string
}

// Env is a running control plane.
type Env struct {
	Environment *envtest.Environment
	Config      *rest.Config // cluster admin
	Scheme      *runtime.Scheme
	Client      client.Client // cluster admin
}

// Assets returns the directory KUBEBUILDER_ASSETS names, after checking that
// it holds kube-apiserver and etcd; the error says how to get them.
func Assets() (string, error) {
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		return "", fmt.Errorf("%s is not set: run `make envtest-assets` (hack/envtest-bins.sh) and set %s to the directory it prints, or run the suites with `make test`", AssetsEnv, AssetsEnv)
	}
	for _, bin := range assetBinaries {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("%s=%s has no %s: run `make envtest-assets` and set %s to the directory it prints: %w", AssetsEnv, dir, bin, AssetsEnv, err)
		}
	}
	return dir, nil
}

// NewScheme knows the Kubernetes built-in types and the project's API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(boxv1.AddToScheme(s))
	return s
}

// RepoRoot is the nearest directory at or above dir that holds go.mod.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", dir)
		}
	}
}

// environment is the envtest configuration of o, rooted at root.
func environment(o Options, root, assets string) *envtest.Environment {
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if o.Webhooks {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join(root, "config", "webhook")},
			LocalServingHost: o.WebhookHost,
		}
	}
	return env
}

// Start runs kube-apiserver and etcd with the project's CRDs (and webhook
// configurations) installed and returns the admin's view of them. Stop it
// with Stop.
func Start(o Options) (*Env, error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	root := o.Root
	if root == "" {
		if root, err = RepoRoot("."); err != nil {
			return nil, err
		}
	}
	e := &Env{Environment: environment(o, root, assets), Scheme: NewScheme()}
	if e.Config, err = e.Environment.Start(); err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: e.Scheme}); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	return e, nil
}

// Stop ends kube-apiserver and etcd. Stop the webhook manager first: Stop
// removes its serving certificate.
func (e *Env) Stop() error {
	if e == nil || e.Environment == nil {
		return nil
	}
	return e.Environment.Stop()
}

// ImpersonatedConfig is the admin's configuration acting as user, in groups
// and, as every admin-made user here, system:masters and
// system:authenticated: authorised for everything, so that only admission
// tells users apart.
func (e *Env) ImpersonatedConfig(user string, groups ...string) *rest.Config {
	c := rest.CopyConfig(e.Config)
	c.Impersonate = rest.ImpersonationConfig{UserName: user,
		Groups: append([]string{"system:masters", "system:authenticated"}, groups...)}
	return c
}

// Impersonate is a client acting as user (see ImpersonatedConfig).
func (e *Env) Impersonate(user string, groups ...string) (client.Client, error) {
	return client.New(e.ImpersonatedConfig(user, groups...), client.Options{Scheme: e.Scheme})
}
