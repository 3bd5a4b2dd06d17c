package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func loadCert(t *testing.T, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPKIIssuesServingAndClientCertificates(t *testing.T) {
	p, err := NewPKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("CA file holds no certificate")
	}

	crt, key, err := p.Issue("apiserver", "kube-apiserver", nil, []string{"10.244.0.1", "kubernetes.default.svc"})
	if err != nil {
		t.Fatal(err)
	}
	serving := loadCert(t, crt, key)
	for _, host := range []string{"10.244.0.1", "kubernetes.default.svc"} {
		if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("serving certificate for %s: %v", host, err)
		}
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v (%v); want 0600", fi.Mode().Perm(), err)
	}

	crt, key, err = p.Issue("breakglass", "boxoffice-breakglass", []string{"system:masters", BreakGlassGroup}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := loadCert(t, crt, key)
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	// The API server takes the user from CN and the groups from O.
	if client.Subject.CommonName != "boxoffice-breakglass" || !slices.Equal(client.Subject.Organization, []string{"system:masters", BreakGlassGroup}) {
		t.Errorf("subject %v", client.Subject)
	}
	if len(client.DNSNames)+len(client.IPAddresses) != 0 {
		t.Errorf("a client certificate names hosts: %v %v", client.DNSNames, client.IPAddresses)
	}
}

func TestKubeconfig(t *testing.T) {
	p, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := p.Issue("admin", "boxoffice-admin", []string{"system:masters"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Kubeconfig("https://10.244.0.1:36443", p.CAFile, crt, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		t.Fatalf("client-go cannot read the kubeconfig: %v\n%s", err, b)
	}
	wantCA, _ := os.ReadFile(p.CAFile)
	wantCrt, _ := os.ReadFile(crt)
	if cfg.Host != "https://10.244.0.1:36443" || string(cfg.CAData) != string(wantCA) || string(cfg.CertData) != string(wantCrt) || len(cfg.KeyData) == 0 {
		t.Errorf("rest config: host %s, CA/cert/key carried: %v %v %v", cfg.Host, string(cfg.CAData) == string(wantCA), string(cfg.CertData) == string(wantCrt), len(cfg.KeyData) > 0)
	}
	raw, _ := clientcmd.Load(b)
	if ctx := raw.Contexts[raw.CurrentContext]; ctx == nil || ctx.Namespace != "default" {
		t.Errorf("current context %q: %+v", raw.CurrentContext, ctx)
	}
	if _, err := Kubeconfig("https://x", p.CAFile, crt+".missing", key); err == nil {
		t.Error("a missing certificate file: want an error")
	}
}

func TestServiceAccountKeys(t *testing.T) {
	p, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	priv, pub, err := p.ServiceAccountKeys()
	if err != nil {
		t.Fatal(err)
	}
	for f, mode := range map[string]os.FileMode{priv: 0o600, pub: 0o644} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v); want %v", filepath.Base(f), fi.Mode().Perm(), err, mode)
		}
	}
}
