package main

import (
	"bufio"
	"bytes"
	"context"
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

	"boxoffice.dev/boxoffice/shard/shardapi"
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

// shardBackend speaks the shard contract (docs/api/shard-v1.openapi.yaml)
// through its Go client, shardapi.Client, over HTTP/1.1 with keep-alive, one
// request at a time on each of a pool of connections.
//
// The client's transport is the backend itself (Do): it writes requests and
// reads answers (http.ReadResponse) on its own connections instead of going
// through net/http's transport: the generator shares the machine's cores
// with the system under test, and net/http's transport spends about twice
// the CPU per request (a read and a write goroutine per connection, handoffs
// between them and the caller), CPU the shard would otherwise have. The
// Redis and PostgreSQL clients are lean native-protocol clients too.
type shardBackend struct {
	base string
	host string // host:port
	api  shardapi.Client
	// conns holds idle connections; a request takes one or dials.
	conns chan *shardConn
}

type shardConn struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

func newShardBackend(base, tokenFile string, conns int) (*shardBackend, error) {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("shard url %q: want http://HOST:PORT", base)
	}
	b := &shardBackend{
		base:  strings.TrimRight(base, "/"),
		host:  u.Host,
		conns: make(chan *shardConn, max(conns, 1)*2),
	}
	b.api = shardapi.Client{HTTP: b, Token: strings.TrimSpace(string(tok)), MaxAnswer: 1 << 20}
	return b, nil
}

func (b *shardBackend) conn() (*shardConn, error) {
	select {
	case c := <-b.conns:
		return c, nil
	default:
	}
	c, err := net.DialTimeout("tcp", b.host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &shardConn{c: c, br: bufio.NewReaderSize(c, 8<<10)}, nil
}

func (b *shardBackend) put(c *shardConn) {
	select {
	case b.conns <- c:
	default:
		c.c.Close()
	}
}

// Do implements shardapi.Doer: req goes out on one of the backend's own
// connections, which returns to the pool once the answer's body is read to
// the end and closed.
func (b *shardBackend) Do(req *http.Request) (*http.Response, error) {
	c, err := b.conn()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := req.Context().Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.c.SetDeadline(deadline)
	q := append(c.req[:0], req.Method...)
	q = append(q, ' ')
	q = append(q, req.URL.RequestURI()...)
	q = append(q, " HTTP/1.1\r\nHost: "...)
	q = append(q, b.host...)
	for k, vs := range req.Header {
		for _, v := range vs {
			q = append(q, "\r\n"...)
			q = append(q, k...)
			q = append(q, ": "...)
			q = append(q, v...)
		}
	}
	q = append(q, "\r\nContent-Length: "...)
	q = strconv.AppendInt(q, max(req.ContentLength, 0), 10)
	q = append(q, "\r\n\r\n"...)
	if req.Body != nil {
		buf := bytes.NewBuffer(q)
		_, err = buf.ReadFrom(req.Body)
		req.Body.Close()
		q = buf.Bytes()
	}
	c.req = q
	if err == nil {
		_, err = c.c.Write(q)
	}
	if err != nil {
		c.c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		c.c.Close()
		return nil, err
	}
	resp.Body = &connBody{ReadCloser: resp.Body, b: b, c: c, reuse: !resp.Close}
	return resp, nil
}

// connBody gives its connection back once the body was read to its end.
type connBody struct {
	io.ReadCloser
	b     *shardBackend
	c     *shardConn
	eof   bool
	reuse bool
}

func (r *connBody) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err == io.EOF {
		r.eof = true
	}
	return n, err
}

func (r *connBody) Close() error {
	err := r.ReadCloser.Close()
	if r.c == nil {
		return err
	}
	if r.eof && r.reuse && err == nil {
		r.b.put(r.c)
	} else {
		r.c.c.Close()
	}
	r.c = nil
	return err
}

func (b *shardBackend) Hold(ctx context.Context, ref string, seats []string) (string, bool, error) {
	h, err := b.api.Hold(ctx, b.base, &shardapi.HoldRequest{Seats: seats, Holder: ref}, "")
	if err == nil {
		return h.ID, false, nil
	}
	var e *shardapi.Error
	if errors.As(err, &e) && e.Code == shardapi.CodeSeatsUnavailable {
		if os.Getenv("LG_DEBUG") != "" { // LG_DEBUG=1: show every conflict
			fmt.Fprintf(os.Stderr, "conflict %s %v: %s %v\n", ref, seats, e.Message, e.Seats)
		}
		return "", true, nil
	}
	return "", false, fmt.Errorf("POST /v1/holds: %w", err)
}

func (b *shardBackend) Confirm(ctx context.Context, id string, _ []string, orderID string) error {
	if _, err := b.api.Confirm(ctx, b.base, url.PathEscape(id), orderID, ""); err != nil {
		return fmt.Errorf("POST confirm: %w", err)
	}
	return nil
}

func (b *shardBackend) Release(ctx context.Context, id string, _ []string) error {
	if _, err := b.api.Release(ctx, b.base, url.PathEscape(id)); err != nil {
		return fmt.Errorf("DELETE hold: %w", err)
	}
	return nil
}

func (b *shardBackend) Close() {
	for {
		select {
		case c := <-b.conns:
			c.c.Close()
		default:
			return
		}
	}
}

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
