package testenv

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/testproc"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestAssetsNamesTheMakeTarget(t *testing.T) {
	t.Setenv(AssetsEnv, "")
	if _, err := Assets(); err == nil || !strings.Contains(err.Error(), "make envtest-assets") {
		t.Fatalf("unset: err = %v, want one naming `make envtest-assets`", err)
	}
	dir := t.TempDir()
	t.Setenv(AssetsEnv, dir)
	if _, err := Assets(); err == nil || !strings.Contains(err.Error(), "kube-apiserver") || !strings.Contains(err.Error(), "make envtest-assets") {
		t.Fatalf("empty dir: err = %v, want one naming the missing kube-apiserver and the make target", err)
	}
	for _, b := range assetBinaries {
		if err := os.WriteFile(filepath.Join(dir, b), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := Assets(); err != nil || got != dir {
		t.Fatalf("Assets() = %q, %v; want %q", got, err, dir)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "config", "crd", "bases")); err != nil {
		t.Fatalf("RepoRoot(.) = %s, which has no config/crd/bases: %v", root, err)
	}
	if _, err := RepoRoot(t.TempDir()); err == nil {
		t.Fatal("RepoRoot of a directory outside any module: want an error")
	}
}

func TestEnvironmentInstallsConfig(t *testing.T) {
	env := environment(Options{}, "/repo", "/assets")
	if env.BinaryAssetsDirectory != "/assets" || !env.ErrorIfCRDPathMissing ||
		len(env.CRDDirectoryPaths) != 1 || env.CRDDirectoryPaths[0] != "/repo/config/crd/bases" {
		t.Fatalf("environment = %+v", env)
	}
	if len(env.WebhookInstallOptions.Paths) != 0 {
		t.Fatalf("webhooks installed without Options.Webhooks: %v", env.WebhookInstallOptions.Paths)
	}
	env = environment(Options{Webhooks: true, WebhookHost: "127.0.0.1"}, "/repo", "/assets")
	if p := env.WebhookInstallOptions.Paths; len(p) != 1 || p[0] != "/repo/config/webhook" || env.WebhookInstallOptions.LocalServingHost != "127.0.0.1" {
		t.Fatalf("webhook options = %+v", env.WebhookInstallOptions)
	}
}

func TestNewSchemeKnowsBothAPIs(t *testing.T) {
	s := NewScheme()
	for _, gvk := range []string{"Pod", "Showtime", "ShardRollout", "FreezeWindow"} {
		found := false
		for k := range s.AllKnownTypes() {
			found = found || k.Kind == gvk
		}
		if !found {
			t.Errorf("scheme does not know %s", gvk)
		}
	}
}

func TestWaitTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	if err := WaitTLS(srv.Listener.Addr().String(), 5*time.Second, nil); err != nil {
		t.Fatalf("serving TLS: %v", err)
	}
	addr, err := testproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitTLS(addr, 300*time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "not serving after") {
		t.Fatalf("nothing listening: err = %v", err)
	}
	died := make(chan error, 1)
	died <- errors.New("bind: address in use")
	if err := WaitTLS(addr, time.Minute, died); err == nil || !strings.Contains(err.Error(), "address in use") {
		t.Fatalf("server died: err = %v, want its error, at once", err)
	}
}

// TestStartWithWebhooks runs the real control plane: skipped unless
// KUBEBUILDER_ASSETS is set (the envtest suites set it).
func TestStartWithWebhooks(t *testing.T) {
	if os.Getenv(AssetsEnv) == "" {
		t.Skip(AssetsEnv + " not set")
	}
	env, err := Start(Options{Webhooks: true, WebhookHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done, err := env.StartWebhooks(ctx, "someone", func(mgr ctrl.Manager) error {
		mgr.GetWebhookServer().Register("/noop", http.NotFoundHandler())
		return nil
	}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()
	c, err := env.Impersonate("someone", "group-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, &corev1.Namespace{}); err != nil {
		t.Fatalf("impersonated get: %v", err)
	}
}
