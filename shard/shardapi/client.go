package shardapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Doer sends an HTTP request: an *http.Client, or a lean transport of the
// caller's own (the load generator writes HTTP/1.1 on its own connections).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client speaks the shard contract to one member per call. It sends one
// try: retrying (with the same Idempotency-Key) and following a not_leader
// hint are the caller's policy. It is safe for concurrent use.
type Client struct {
	// HTTP sends the requests; nil is a client from NewHTTPClient(10s).
	HTTP Doer
	// Token is the bearer token ("" sends no Authorization header).
	Token string
	// MaxAnswer bounds an answer's body (0: 16 MiB); longer is an error.
	MaxAnswer int64
}

var defaultHTTP = NewHTTPClient(10 * time.Second)

// NewHTTPClient returns an *http.Client suited to a shard: no proxy, short
// dial timeout, keep-alive, and redirects handed back as answers (the shard
// never redirects; following one would send the bearer token elsewhere).
// timeout bounds a whole call (0: none, for event streams).
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Request is one call: Body is JSON (nil: none); IdempotencyKey is sent on
// holds and confirms; LastEventID resumes an event stream.
type Request struct {
	Method         string
	Path           string
	Body           []byte
	IdempotencyKey string
	LastEventID    string
}

// Answer is the shard's answer: its status and whole body.
type Answer struct {
	Status int
	Body   []byte
}

// Err is the answer's error (an *Error) unless its status is 2xx.
func (a Answer) Err() error {
	if a.Status/100 == 2 {
		return nil
	}
	return DecodeError(a.Status, a.Body)
}

// NewRequest builds the HTTP request of req to the member at base (its URL,
// scheme and host, no trailing slash).
func (c *Client) NewRequest(ctx context.Context, base string, req Request) (*http.Request, error) {
	var rd io.Reader
	if req.Body != nil {
		rd = bytes.NewReader(req.Body)
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, base+req.Path, rd)
	if err != nil {
		return nil, err
	}
	if req.Body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		r.Header.Set(HeaderAuthorization, "Bearer "+c.Token)
	}
	if req.IdempotencyKey != "" {
		r.Header.Set(HeaderIdempotencyKey, req.IdempotencyKey)
	}
	if req.LastEventID != "" {
		r.Header.Set(HeaderLastEventID, req.LastEventID)
	}
	return r, nil
}

func (c *Client) http() Doer {
	if c.HTTP == nil {
		return defaultHTTP
	}
	return c.HTTP
}

// Do sends req and returns the response unread (event streams).
func (c *Client) Do(ctx context.Context, base string, req Request) (*http.Response, error) {
	r, err := c.NewRequest(ctx, base, req)
	if err != nil {
		return nil, err
	}
	return c.http().Do(r)
}

// Send sends req to the member at base once and reads the whole answer. The
// body is appended to buf[:0], so a caller may reuse one buffer (nil: a new
// one). A transport error leaves Status 0; a failed read keeps the status.
func (c *Client) Send(ctx context.Context, base string, req Request, buf []byte) (Answer, error) {
	resp, err := c.Do(ctx, base, req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	max := c.MaxAnswer
	if max <= 0 {
		max = 16 << 20
	}
	if cl := resp.ContentLength; cl >= int64(cap(buf)) && cl <= max {
		// The whole answer in one allocation (+1: readAll's last Read
		// needs room to see the end).
		buf = make([]byte, 0, cl+1)
	}
	body, err := readAll(resp.Body, buf[:0], max)
	if err != nil {
		return Answer{Status: resp.StatusCode}, fmt.Errorf("%s %s%s: reading the answer: %w", req.Method, base, req.Path, err)
	}
	return Answer{Status: resp.StatusCode, Body: body}, nil
}

// errTooLong is an answer longer than Client.MaxAnswer.
var errTooLong = errors.New("answer longer than the client's limit")

func readAll(r io.Reader, b []byte, max int64) ([]byte, error) {
	if cap(b) == 0 {
		b = make([]byte, 0, 512)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			return b, errTooLong
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// DecodeError reads an error answer. A body that is not the contract's
// error (a proxy's page) gives an Error with no code and the body's start as
// its message.
func DecodeError(status int, body []byte) *Error {
	e := &Error{}
	if json.Unmarshal(body, e) != nil || e.Code == "" {
		e = &Error{Message: string(bytes.TrimSpace(body[:min(len(body), 512)]))}
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	e.Status = status
	return e
}

// LeaderHint is the leader a 421 not_leader body names; ok is false for any
// other body. url is "" while the member knows no leader.
func LeaderHint(body []byte) (url string, ok bool) {
	var e Error
	if json.Unmarshal(body, &e) != nil || e.Code != CodeNotLeader {
		return "", false
	}
	return e.LeaderURL(), true
}

// call sends req and decodes a 2xx answer into out; any other answer is an
// *Error.
func (c *Client) call(ctx context.Context, base string, req Request, out any) error {
	a, err := c.Send(ctx, base, req, nil)
	if err != nil {
		return err
	}
	if err := a.Err(); err != nil {
		return fmt.Errorf("%s %s%s: %w", req.Method, base, req.Path, err)
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		return fmt.Errorf("%s %s%s: decoding the answer: %w", req.Method, base, req.Path, err)
	}
	return nil
}
