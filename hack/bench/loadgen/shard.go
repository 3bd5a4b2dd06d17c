package main

import (
	"bufio"
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
	"sync"
	"time"

	"boxoffice.dev/boxoffice/shard/batch"
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

// shardBackend speaks SHARD-API.md v1: HTTP/1.1 with keep-alive, one request
// at a time on each of a pool of connections.
//
// It writes requests and reads answers (http.ReadResponse) on its own
// connections instead of going through http.Client: the generator shares the
// machine's cores with the system under test, and net/http's transport
// spends about twice the CPU per request (a read and a write goroutine per
// connection, handoffs between them and the caller), CPU the shard would
// otherwise have. The Redis and PostgreSQL clients are lean native-protocol
// clients too.
type shardBackend struct {
	base string
	// host (host:port) is the member that takes the writes; a 421
	// not_leader moves it to the leader it names (follow).
	hostMu sync.Mutex
	host   string
	auth   string
	// conns holds idle connections; a request takes one or dials.
	conns chan *shardConn
	// co, if set, carries every operation in POST /v2/batch requests (the
	// way the front end talks to a shard): concurrent clients' operations
	// share a request, each keeps its own answer.
	co *batch.Coalescer
}

// useBatch sends operations through POST /v2/batch from now on: at most
// flights batches in flight, each of up to maxOps operations.
func (b *shardBackend) useBatch(maxOps, flights int) {
	b.co = batch.NewCoalescer(b.sendBatch, maxOps, flights)
}

// sendBatch posts one batch on a pooled connection.
func (b *shardBackend) sendBatch(ctx context.Context, ops []batch.Op) ([]batch.Result, error) {
	body, err := json.Marshal(batch.Request{Ops: ops})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	code, raw, err := b.roundTrip(ctx, http.MethodPost, batch.Path, body)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %d %.200s", batch.Path, code, raw)
	}
	var r batch.Response
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("POST %s: undecodable answer %.200q", batch.Path, raw)
	}
	return r.Results, nil
}

// call sends one operation: alone (v1: method, path, body) or in a batch
// (op). A 421 not_leader (the cluster's leadership moved) sends it again to
// the leader it names, a few times at most.
func (b *shardBackend) call(ctx context.Context, method, path string, body []byte, op batch.Op) (int, shardReply, error) {
	for try := 0; ; try++ {
		code, r, err := b.callOnce(ctx, method, path, body, op)
		if err != nil || code != http.StatusMisdirectedRequest || try == 3 || !b.follow(r.Leader) {
			return code, r, err
		}
	}
}

func (b *shardBackend) callOnce(ctx context.Context, method, path string, body []byte, op batch.Op) (int, shardReply, error) {
	if b.co == nil {
		return b.do(ctx, method, path, body)
	}
	res, err := b.co.Do(ctx, op)
	if err != nil {
		return 0, shardReply{}, err
	}
	var r shardReply
	if err := json.Unmarshal(res.Body, &r); err != nil {
		return res.Status, r, fmt.Errorf("%s in a batch: %d: undecodable body %.200q", op.Op, res.Status, res.Body)
	}
	return res.Status, r, nil
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
	return &shardBackend{
		base:  strings.TrimRight(base, "/"),
		host:  u.Host,
		auth:  "Bearer " + strings.TrimSpace(string(tok)),
		conns: make(chan *shardConn, max(conns, 1)*2),
	}, nil
}

func (b *shardBackend) conn() (*shardConn, error) {
	for {
		select {
		case c := <-b.conns:
			if c.host == b.target() {
				return c, nil
			}
			c.c.Close() // to a member that no longer leads
			continue
		default:
		}
		break
	}
	host := b.target()
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &shardConn{c: c, br: bufio.NewReaderSize(c, 8<<10), host: host}, nil
}

func (b *shardBackend) target() string {
	b.hostMu.Lock()
	defer b.hostMu.Unlock()
	return b.host
}

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

type shardReply struct {
	ID      string   `json:"id"`
	State   string   `json:"state"`
	Error   string   `json:"error"`
	Message string   `json:"message"`
	Seats   []string `json:"seats"`
	Leader  string   `json:"leader"` // 421 not_leader (cluster mode)
}

// do sends one request and decodes the JSON answer (hold or error).
func (b *shardBackend) do(ctx context.Context, method, path string, body []byte) (int, shardReply, error) {
	code, raw, err := b.roundTrip(ctx, method, path, body)
	if err != nil {
		return code, shardReply{}, err
	}
	var r shardReply
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r); err != nil {
			return code, r, fmt.Errorf("%s %s: %d: undecodable body %.200q", method, path, code, raw)
		}
	}
	return code, r, nil
}

// roundTrip sends one request on a pooled connection and reads the answer.
func (b *shardBackend) roundTrip(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	c, err := b.conn()
	if err != nil {
		return 0, nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.c.SetDeadline(deadline)
	q := append(c.req[:0], method...)
	q = append(q, ' ')
	q = append(q, path...)
	q = append(q, " HTTP/1.1\r\nHost: "...)
	q = append(q, c.host...)
	q = append(q, "\r\nAuthorization: "...)
	q = append(q, b.auth...)
	if body != nil {
		q = append(q, "\r\nContent-Type: application/json"...)
	}
	q = append(q, "\r\nContent-Length: "...)
	q = strconv.AppendInt(q, int64(len(body)), 10)
	q = append(q, "\r\n\r\n"...)
	q = append(q, body...)
	c.req = q
	if _, err := c.c.Write(q); err != nil {
		c.c.Close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.c.Close()
		return 0, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	resp.Body.Close()
	if err != nil || resp.Close {
		c.c.Close()
	} else {
		b.put(c)
	}
	return resp.StatusCode, raw, err
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
	code, r, err := b.call(ctx, http.MethodPost, "/v1/holds", body, batch.Op{Op: batch.OpHold, Seats: seats, Holder: ref})
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
	code, r, err := b.call(ctx, http.MethodPost, "/v1/holds/"+url.PathEscape(id)+"/confirm", body,
		batch.Op{Op: batch.OpConfirm, Hold: id, OrderID: orderID})
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("POST confirm: %d %s: %s", code, r.Error, r.Message)
	}
	return nil
}

func (b *shardBackend) Release(ctx context.Context, id string, _ []string) error {
	code, r, err := b.call(ctx, http.MethodDelete, "/v1/holds/"+url.PathEscape(id), nil, batch.Op{Op: batch.OpRelease, Hold: id})
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("DELETE hold: %d %s: %s", code, r.Error, r.Message)
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
