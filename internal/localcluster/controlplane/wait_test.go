package controlplane

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// WaitHTTP is testproc's bounded wait (tested there) with the caller's
// client: a TLS control-plane endpoint answers only a client that trusts it.
func TestWaitHTTPUsesTheClient(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx := context.Background()
	if err := WaitHTTP(ctx, srv.Client(), srv.URL, 10*time.Second, nil); err != nil {
		t.Errorf("with the server's client: %v", err)
	}
	err := WaitHTTP(ctx, http.DefaultClient, srv.URL, 700*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("with a client that does not trust it: %v; want the certificate error", err)
	}
	died := make(chan struct{})
	close(died)
	if err := WaitHTTP(ctx, http.DefaultClient, srv.URL, time.Minute, died); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("process gone: %v; want it said", err)
	}
}
