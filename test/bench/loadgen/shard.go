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
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"boxoffice.dev/boxoffice/shard/batch"
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
	// host (host:port) is the member that takes the writes; a 421
	// not_leader moves it to the leader it names (follow).
	hostMu sync.Mutex
	host   string
	api    shardapi.Client
	// conns holds idle connections; a request takes one or dials.
	conns chan *shardConn
	// co, if set, carries every operation in POST /v2/batch requests (the
	// way the front end talks to a shard): concurrent clients' operations
	// share a request, each keeps its own answer.
	co *batch.Coalescer
	// members (a cluster's base URLs) are asked who leads when a 421 names
	// no leader (an election) or the member the writes go to is gone.
	members []string
	find    singleflight.Group
	// trips are the batches' round trips as the generator saw them (sent
	// to answer read): the shard's own batch request time plus loopback,
	// HTTP and both processes' scheduling.
	trips roundTrips
}

// roundTrips records when each batch was sent and how long it took.
type roundTrips struct {
	mu   sync.Mutex
	at   []time.Time
	took []time.Duration
}

func (t *roundTrips) add(at time.Time, took time.Duration) {
	t.mu.Lock()
	t.at = append(t.at, at)
	t.took = append(t.took, took)
	t.mu.Unlock()
}

// BatchRoundTrips are the round trips of the batches sent in [from, to).
func (b *shardBackend) BatchRoundTrips(from, to time.Time) []time.Duration {
	b.trips.mu.Lock()
	defer b.trips.mu.Unlock()
	var out []time.Duration
	for i, at := range b.trips.at {
		if !at.Before(from) && at.Before(to) {
			out = append(out, b.trips.took[i])
		}
	}
	return out
}

type shardConn struct {
	c    net.Conn
	br   *bufio.Reader
	req  []byte
	host string
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
		host:  u.Host,
		conns: make(chan *shardConn, max(conns, 1)*2),
	}
	b.api = shardapi.Client{HTTP: b, Token: strings.TrimSpace(string(tok)), MaxAnswer: 1 << 20}
	return b, nil
}

func (b *shardBackend) conn() (*shardConn, error) {
	host := b.target()
	for {
		select {
		case c := <-b.conns:
			if c.host == host {
				return c, nil
			}
			c.c.Close() // to a member that no longer leads
			continue
		default:
		}
		break
	}
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &shardConn{c: c, br: bufio.NewReaderSize(c, 8<<10), host: host}, nil
}

// target is the member the writes go to; base its URL.
func (b *shardBackend) target() string {
	b.hostMu.Lock()
	defer b.hostMu.Unlock()
	return b.host
}

func (b *shardBackend) base() string { return "http://" + b.target() }

// follow moves the writes to the leader a 421 named; false if it names
// nothing new.
func (b *shardBackend) follow(leaderURL string) bool {
	u, err := url.Parse(leaderURL)
	if err != nil || u.Host == "" {
		return false
	}
	b.hostMu.Lock()
	defer b.hostMu.Unlock()
	if b.host == u.Host {
		return false
	}
	b.host = u.Host
	return true
}

func (b *shardBackend) put(c *shardConn) {
	if c.host != b.target() {
		c.c.Close() // a member that no longer leads
		return
	}
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
	q = append(q, c.host...)
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

// useBatch sends operations through POST /v2/batch from now on: at most
// flights batches in flight, each of up to maxOps operations.
func (b *shardBackend) useBatch(maxOps, flights int) {
	b.co = batch.NewCoalescer(b.sendBatch, maxOps, flights)
}

// sendBatch posts one batch on a pooled connection.
func (b *shardBackend) sendBatch(ctx context.Context, ops []shardapi.BatchOp) ([]shardapi.BatchResult, error) {
	body := (&shardapi.BatchRequest{Ops: ops}).AppendJSON(nil)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sent := time.Now()
	a, err := b.api.Send(ctx, b.base(), shardapi.Request{Method: http.MethodPost, Path: shardapi.PathBatch, Body: body}, nil)
	if err != nil {
		return nil, err
	}
	b.trips.add(sent, time.Since(sent))
	if a.Status != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %d %.200s", shardapi.PathBatch, a.Status, a.Body)
	}
	res, err := shardapi.DecodeBatchResponse(a.Body)
	if err != nil {
		return nil, fmt.Errorf("POST %s: undecodable answer %.200q", shardapi.PathBatch, a.Body)
	}
	return res, nil
}

// call sends one operation: alone (its v1 request, v1Request) or in a batch. A 421
// not_leader (the cluster's leadership moved) sends it again to the leader
// it names or, when it names none, to the leader the members name (see
// rediscover); so does a member that cannot be reached. A few times at most.
func (b *shardBackend) call(ctx context.Context, op shardapi.BatchOp) (shardapi.Answer, error) {
	for try := 0; ; try++ {
		a, err := b.callOnce(ctx, op)
		var dial *net.OpError
		unreachable := errors.As(err, &dial) && dial.Op == "dial"
		if (err != nil && !unreachable) || (err == nil && a.Status != http.StatusMisdirectedRequest) || try == 5 {
			return a, err
		}
		if to, _ := shardapi.LeaderHint(a.Body); to != "" {
			b.follow(to) // (another caller may have moved there already)
			continue
		}
		if !b.rediscover(ctx) {
			return a, err
		}
	}
}

// rediscover asks the members (for up to 10 s) which one leads and moves
// the writes there; false if none did or this is no cluster. Concurrent
// callers share one search.
func (b *shardBackend) rediscover(ctx context.Context) bool {
	if len(b.members) == 0 {
		return false
	}
	found, _, _ := b.find.Do("leader", func() (any, error) {
		api := shardapi.Client{HTTP: statusHTTP, Token: b.api.Token}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			for _, m := range b.members {
				sctx, scancel := context.WithTimeout(ctx, time.Second)
				st, err := api.Status(sctx, m)
				scancel()
				if err == nil && st.Role == shardapi.RoleLeader {
					b.follow(m)
					return true, nil
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		return false, nil
	})
	return found.(bool)
}

func (b *shardBackend) callOnce(ctx context.Context, op shardapi.BatchOp) (shardapi.Answer, error) {
	if b.co == nil {
		return b.api.Send(ctx, b.base(), v1Request(op), nil)
	}
	r, err := b.co.Do(ctx, op)
	return shardapi.Answer{Status: r.Status, Body: r.Body}, err
}

// v1Request is the v1 request of one of the generator's operations (hold,
// confirm, release), built only when it is sent that way: a batching
// generator never needs it.
func v1Request(op shardapi.BatchOp) shardapi.Request {
	switch op.Op {
	case shardapi.BatchHold:
		return shardapi.Request{Method: http.MethodPost, Path: shardapi.PathHolds,
			Body: (&shardapi.HoldRequest{Seats: op.Seats, Holder: op.Holder}).AppendJSON(nil)}
	case shardapi.BatchConfirm:
		return shardapi.Request{Method: http.MethodPost, Path: shardapi.HoldPath(url.PathEscape(op.Hold), "confirm"),
			Body: (&shardapi.ConfirmRequest{OrderID: op.OrderID}).AppendJSON(nil)}
	case shardapi.BatchRelease:
		return shardapi.Request{Method: http.MethodDelete, Path: shardapi.HoldPath(url.PathEscape(op.Hold), "")}
	}
	panic("loadgen: no v1 request for operation " + op.Op)
}

func (b *shardBackend) Hold(ctx context.Context, ref string, seats []string) (string, bool, error) {
	a, err := b.call(ctx, shardapi.BatchOp{Op: shardapi.BatchHold, Seats: seats, Holder: ref})
	if err != nil {
		return "", false, fmt.Errorf("POST /v1/holds: %w", err)
	}
	if a.Status == http.StatusCreated {
		id, err := holdID(a.Body)
		if err != nil || id == "" {
			return "", false, fmt.Errorf("POST /v1/holds: undecodable hold %.200q", a.Body)
		}
		return id, false, nil
	}
	var e *shardapi.Error
	if errors.As(a.Err(), &e) && e.Code == shardapi.CodeSeatsUnavailable {
		if os.Getenv("LG_DEBUG") != "" { // LG_DEBUG=1: show every conflict
			fmt.Fprintf(os.Stderr, "conflict %s %v: %s %v\n", ref, seats, e.Message, e.Seats)
		}
		return "", true, nil
	}
	return "", false, fmt.Errorf("POST /v1/holds: %w", a.Err())
}

func (b *shardBackend) Confirm(ctx context.Context, id string, _ []string, orderID string) error {
	a, err := b.call(ctx, shardapi.BatchOp{Op: shardapi.BatchConfirm, Hold: id, OrderID: orderID})
	if err == nil && a.Status != http.StatusOK {
		err = a.Err()
	}
	if err != nil {
		return fmt.Errorf("POST confirm: %w", err)
	}
	return nil
}

func (b *shardBackend) Release(ctx context.Context, id string, _ []string) error {
	a, err := b.call(ctx, shardapi.BatchOp{Op: shardapi.BatchRelease, Hold: id})
	if err == nil && a.Status != http.StatusOK {
		err = a.Err()
	}
	if err != nil {
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
