package testproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// DefaultWait bounds a wait whose context has no deadline.
const DefaultWait = 30 * time.Second

// ErrExited is returned by a wait that gave up because the process it waited
// for exited.
var ErrExited = errors.New("process exited before it was ready")

// Poll says how WaitHTTP polls. The zero value polls every 20ms with
// DefaultClient and never gives up early.
type Poll struct {
	Interval time.Duration // between tries; 20ms when zero
	// Exited, when it closes, ends the wait with ErrExited (a Proc's Done).
	Exited <-chan struct{}
	Client *http.Client // DefaultClient when nil
}

// DefaultClient is a client for readiness checks: one-second timeout, no
// proxy, no kept-alive connections (a restarted process must not be
// answered by an old connection).
var DefaultClient = &http.Client{Timeout: time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// WaitHTTP waits until a GET of url answers status want, polling every 20ms,
// for as long as ctx allows and at most DefaultWait if ctx has no deadline.
func WaitHTTP(ctx context.Context, url string, want int) error {
	return Poll{}.WaitHTTP(ctx, url, want)
}

// WaitHTTP waits until a GET of url answers status want, for as long as ctx
// allows and at most DefaultWait if ctx has no deadline. The error names the
// URL, the limit and the last answer or error.
func (p Poll) WaitHTTP(ctx context.Context, url string, want int) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWait)
		defer cancel()
	}
	if p.Interval <= 0 {
		p.Interval = 20 * time.Millisecond
	}
	if p.Client == nil {
		p.Client = DefaultClient
	}
	start := time.Now()
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	var last error
	for {
		err := p.try(ctx, url, want)
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil { // keep the answer before the deadline cut a try
			last = err
		}
		select {
		case <-p.Exited:
			return fmt.Errorf("%s: %w", url, ErrExited)
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %d within %v (last: %v)", url, want, time.Since(start).Round(time.Millisecond), last)
		case <-tick.C:
		}
	}
}

// try makes one GET; nil when it answered want.
func (p Poll) try(ctx context.Context, url string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// WaitHTTPFor is WaitHTTP bounded by d instead of a context.
func (p Poll) WaitHTTPFor(url string, want int, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.WaitHTTP(ctx, url, want)
}
