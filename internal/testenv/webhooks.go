package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// WebhookManager is a manager acting as user that serves webhooks on the
// address and certificate envtest prepared for config/webhook (Options
// Webhooks). Metrics and health probes are off.
func (e *Env) WebhookManager(user string) (ctrl.Manager, error) {
	if !e.hasWebhooks() {
		return nil, errors.New("testenv: started without Options.Webhooks")
	}
	wh := &e.Environment.WebhookInstallOptions
	return ctrl.NewManager(e.ImpersonatedConfig(user), ctrl.Options{
		Scheme:                 e.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
	})
}

func (e *Env) hasWebhooks() bool {
	return len(e.Environment.WebhookInstallOptions.Paths) > 0
}

// WebhookAddr is the host:port the API server calls the webhooks at.
func (e *Env) WebhookAddr() string {
	wh := &e.Environment.WebhookInstallOptions
	return net.JoinHostPort(wh.LocalServingHost, strconv.Itoa(wh.LocalServingPort))
}

// StartWebhooks makes a WebhookManager acting as user, lets setup register
// the webhooks on it, starts it until ctx ends and waits, at most limit,
// until its TLS listener answers. The channel gets the manager's exit; on
// an error the manager may still be starting, so end ctx.
func (e *Env) StartWebhooks(ctx context.Context, user string, setup func(ctrl.Manager) error, limit time.Duration) (<-chan error, error) {
	mgr, err := e.WebhookManager(user)
	if err != nil {
		return nil, err
	}
	if err := setup(mgr); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	if err := WaitTLS(e.WebhookAddr(), limit, done); err != nil {
		return nil, err
	}
	return done, nil
}

// WaitTLS waits, at most limit, until a TLS handshake at addr succeeds (the
// certificate is not checked), polling every 100ms. It gives up early with
// the error a value on died reports.
func WaitTLS(addr string, limit time.Duration, died <-chan error) error {
	deadline := time.Now().Add(limit)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			return conn.Close()
		}
		select {
		case derr := <-died:
			return fmt.Errorf("webhook server at %s stopped before serving: %v", addr, derr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhook server at %s not serving after %v: %v", addr, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
