package controlplane

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := WaitHTTP(ctx, srv.Client(), srv.URL, time.Minute, nil); err != nil || calls.Load() != 2 {
		t.Errorf("ready on the second poll: %v after %d calls", err, calls.Load())
	}

	never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer never.Close()
	err := WaitHTTP(ctx, never.Client(), never.URL, 700*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "418") {
		t.Errorf("never ready: %v; want the last status in the error", err)
	}
	died := make(chan struct{})
	close(died)
	if err := WaitHTTP(ctx, never.Client(), never.URL, time.Minute, died); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("process gone: %v; want it said", err)
	}
}

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	if err != nil || p <= 0 || p > 65535 {
		t.Errorf("FreePort = %d, %v", p, err)
	}
}
