package dev

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"boxoffice.dev/boxoffice/internal/localcluster/controlplane"
	"boxoffice.dev/boxoffice/internal/testproc"
)

// webhookSetup serves the manager's admission webhooks to the API server on
// the host: a serving certificate for 127.0.0.1 from the cluster CA, and the
// webhook configurations from config/webhook with URLs instead of a Service.
// It does nothing when the manager has no webhook flag.
func (d *devSession) webhookSetup(ctx context.Context, help string) ([]string, error) {
	manifests := filepath.Join(d.o.Repo, "config", "webhook", "manifests.yaml")
	_, statErr := os.Stat(manifests)
	if !d.o.Webhooks || !hasFlag(help, "-enable-webhooks") || statErr != nil {
		d.logf("admission webhooks: not served (the manager has no --enable-webhooks flag, or config/webhook/manifests.yaml is missing, or --webhooks=false)")
		return []string{"--enable-webhooks=false"}[:boolInt(hasFlag(help, "-enable-webhooks"))], nil
	}
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(d.cp.Dir, "webhook")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	crt, key, err := d.cp.PKI.Issue("webhook", "boxoffice-webhook", nil, []string{"127.0.0.1", "localhost"})
	if err != nil {
		return nil, err
	}
	for src, dst := range map[string]string{crt: "tls.crt", key: "tls.key"} {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			return nil, err
		}
	}
	ca, err := os.ReadFile(d.cp.PKI.CAFile)
	if err != nil {
		return nil, err
	}
	objs, err := readObjects(manifests)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(d.cfg)
	if err != nil {
		return nil, err
	}
	for _, u := range objs {
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		for i, h := range hooks {
			m := h.(map[string]any)
			cc, _ := m["clientConfig"].(map[string]any)
			path := "/"
			if svc, ok := cc["service"].(map[string]any); ok {
				if p, ok := svc["path"].(string); ok {
					path = p
				}
			}
			m["clientConfig"] = map[string]any{"url": fmt.Sprintf("https://127.0.0.1:%d%s", port, path), "caBundle": base64.StdEncoding.EncodeToString(ca)}
			hooks[i] = m
		}
		_ = unstructured.SetNestedSlice(u.Object, hooks, "webhooks")
		u.SetName("boxoffice-" + u.GetName())
		gvr := vwcGVR
		if u.GetKind() == "MutatingWebhookConfiguration" {
			gvr = mwcGVR
		}
		if err := applyObj(ctx, dc, gvr, u); err != nil {
			return nil, fmt.Errorf("webhook configuration %s: %w", u.GetName(), err)
		}
	}
	d.webhooks = true
	args := []string{"--enable-webhooks=true"}
	for _, f := range []string{"-webhook-cert-dir", "-webhook-cert-path"} {
		if hasFlag(help, f) {
			args = append(args, "-"+f+"="+dir)
		}
	}
	// The certificate and the CA bundle are made here.
	if hasFlag(help, "-cert-rotation") {
		args = append(args, "--cert-rotation=false")
	}
	if hasFlag(help, "-break-glass-groups") {
		args = append(args, "--break-glass-groups="+controlplane.BreakGlassGroup)
	}
	if hasFlag(help, "-webhook-port") {
		args = append(args, fmt.Sprintf("--webhook-port=%d", port))
	} else if hasFlag(help, "-webhook-bind-address") {
		args = append(args, fmt.Sprintf("--webhook-bind-address=127.0.0.1:%d", port))
	}
	d.logf("admission webhooks: served by the manager at https://127.0.0.1:%d", port)
	return args, nil
}

// hasFlag reports whether a Go flag usage text lists -name.
func hasFlag(help, name string) bool {
	for _, line := range strings.Split(help, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == name || f[0] == "-"+name) {
			return true
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
