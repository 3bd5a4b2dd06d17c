package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Backend is one system under test. ref is unique per operation: the shard
// uses it as the holder, the others as their (client-chosen) hold id.
type Backend interface {
	// Hold holds all of seats or none. conflict is true (and err nil) when a
	// seat was not free.
	Hold(ctx context.Context, ref string, seats []string) (id string, conflict bool, err error)
	Confirm(ctx context.Context, id string, seats []string, orderID string) error
	Release(ctx context.Context, id string, seats []string) error
	Close()
}

// shardBackend speaks SHARD-API.md v1.
type shardBackend struct {
	base   string
	auth   string
	client *http.Client
}

func newHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy: nil, // loopback only, never through a proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func newShardBackend(base, tokenFile string, conns int) (*shardBackend, error) {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, err
	}
	return &shardBackend{
		base:   strings.TrimRight(base, "/"),
		auth:   "Bearer " + strings.TrimSpace(string(tok)),
		client: newHTTPClient(conns),
	}, nil
}

type shardReply struct {
	ID      string   `json:"id"`
	State   string   `json:"state"`
	Error   string   `json:"error"`
	Message string   `json:"message"`
	Seats   []string `json:"seats"`
}

// do sends one request and decodes the JSON answer (hold or error).
func (b *shardBackend) do(ctx context.Context, method, path string, body []byte) (int, shardReply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return 0, shardReply{}, err
	}
	req.Header.Set("Authorization", b.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, shardReply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, shardReply{}, err
	}
	var r shardReply
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r); err != nil {
			return resp.StatusCode, r, fmt.Errorf("%s %s: %d: undecodable body %.200q", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, r, nil
}

func (b *shardBackend) Hold(ctx context.Context, ref string, seats []string) (string, bool, error) {
	// Built by hand: the generator shares the CPUs with the system under test.
	body := make([]byte, 0, 64+24*len(seats))
	body = append(body, `{"seats":[`...)
	for i, s := range seats {
		if i > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendQuote(body, s)
	}
	body = append(body, `],"holder":`...)
	body = strconv.AppendQuote(body, ref)
	body = append(body, '}')
	code, r, err := b.do(ctx, http.MethodPost, "/v1/holds", body)
	if err != nil {
		return "", false, err
	}
	switch {
	case code == http.StatusCreated && r.ID != "":
		return r.ID, false, nil
	case code == http.StatusConflict && r.Error == "seats_unavailable":
		if os.Getenv("LG_DEBUG") != "" { // LG_DEBUG=1: show every conflict
			fmt.Fprintf(os.Stderr, "conflict %s %v: %s %v\n", ref, seats, r.Message, r.Seats)
		}
		return "", true, nil
	}
	return "", false, fmt.Errorf("POST /v1/holds: %d %s: %s", code, r.Error, r.Message)
}

func (b *shardBackend) Confirm(ctx context.Context, id string, _ []string, orderID string) error {
	body := strconv.AppendQuote([]byte(`{"orderId":`), orderID)
	body = append(body, '}')
	code, r, err := b.do(ctx, http.MethodPost, "/v1/holds/"+url.PathEscape(id)+"/confirm", body)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("POST confirm: %d %s: %s", code, r.Error, r.Message)
	}
	return nil
}

func (b *shardBackend) Release(ctx context.Context, id string, _ []string) error {
	code, r, err := b.do(ctx, http.MethodDelete, "/v1/holds/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("DELETE hold: %d %s: %s", code, r.Error, r.Message)
	}
	return nil
}

func (b *shardBackend) Close() { b.client.CloseIdleConnections() }

// waitReady polls url every interval until it answers 200 and returns how
// long that took from start. It gives up at deadline or when exited closes.
func waitReady(url string, start time.Time, timeout time.Duration, exited <-chan struct{}) (time.Duration, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := start.Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready after %s (last error: %v)", url, timeout, err)
		}
		select {
		case <-exited:
			return 0, errors.New("process exited before it was ready")
		case <-time.After(2 * time.Millisecond):
		}
	}
}
