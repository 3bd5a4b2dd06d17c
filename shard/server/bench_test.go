package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/shard/batch"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// BenchmarkHoldRelease measures the request path without the network: decode,
// writer, log append and fsync, answer. 64 goroutines; reports allocations.
func BenchmarkHoldRelease(b *testing.B) {
	s, cfg := benchServer(b)
	h := s.Handler()
	benchParallel(b, cfg.SeatIDs, func(pb *testing.PB, next func() (int64, string)) {
		for pb.Next() {
			n, seat := next()
			body := fmt.Sprintf(`{"seats":[%q],"holder":"b%d"}`, seat, n)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/holds", strings.NewReader(body)))
			if w.Code == http.StatusCreated {
				id := w.Body.String()[7:]
				id = id[:strings.IndexByte(id, '"')]
				w = httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("DELETE", "/v1/holds/"+id, nil))
			}
		}
	})
	b.StopTimer()
	s.BeginShutdown()
	s.Close(b.Context())
}

// BenchmarkHoldReleaseHTTP is BenchmarkHoldRelease through a real HTTP/1.1
// server on loopback, each of 64 clients on its own kept-alive connection,
// as the front end and the load generator talk to a shard: connection
// handling, header parsing and the answer's write syscalls included (the
// clients' own reading of answers is counted in the allocations too; it does
// not change between shard versions). Profile with -cpuprofile.
func BenchmarkHoldReleaseHTTP(b *testing.B) {
	s, cfg := benchServer(b)
	hs, addr := benchHTTP(b, s, cfg)
	benchParallel(b, cfg.SeatIDs, func(pb *testing.PB, next func() (int64, string)) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var req []byte
		do := func(method, path, body string) (int, string) {
			req = fmt.Appendf(req[:0], "%s %s HTTP/1.1\r\nHost: shard\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				method, path, len(body), body)
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return 0, ""
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return 0, ""
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(out)
		}
		for pb.Next() {
			n, seat := next()
			code, out := do("POST", "/v1/holds", fmt.Sprintf(`{"seats":[%q],"holder":"b%d"}`, seat, n))
			if code == http.StatusCreated {
				id := out[7:]
				id = id[:strings.IndexByte(id, '"')]
				do("DELETE", "/v1/holds/"+id, "")
			} else if code == 0 {
				return
			}
		}
	})
	b.StopTimer()
	hs.Close()
	s.BeginShutdown()
	s.Close(b.Context())
}

// benchServer is a recovered shard of 1,000 seats in a fresh directory, with
// no token and a discarded log, for the request-path benchmarks.
func benchServer(b *testing.B) (*Server, Config) {
	b.Helper()
	cfg := Config{
		Showtime: "venues/bench", SeatIDs: seatIDs("ABCDEFGHJK", 100), DataDir: b.TempDir(),
		HoldTTL: 10 * time.Minute, MaxHoldTTL: 2 * time.Hour, MaxSeatsPerHolder: 8,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Recover(); err != nil {
		b.Fatal(err)
	}
	return s, cfg
}

// BenchmarkHoldReleaseBatchHTTP is BenchmarkHoldReleaseHTTP with the 64
// clients' operations carried in POST /v2/batch requests through one
// batch.Coalescer (up to 128 operations a request), as the front end sends
// them, but with two batches in flight where a front-end pod keeps one (the
// figures in shard/README.md were taken so): per operation, the HTTP work is
// shared by a batch.
// The clients' coalescing and JSON are counted too. Profile with -cpuprofile.
func BenchmarkHoldReleaseBatchHTTP(b *testing.B) {
	s, cfg := benchServer(b)
	hs, addr := benchHTTP(b, s, cfg)
	conns := make(chan *benchConn, 4)
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns <- &benchConn{c: c, br: bufio.NewReader(c)}
	}
	co := batch.NewCoalescer(func(_ context.Context, ops []shardapi.BatchOp) ([]shardapi.BatchResult, error) {
		c := <-conns
		defer func() { conns <- c }()
		return c.batch(ops)
	}, 128, 2)
	benchParallel(b, cfg.SeatIDs, func(pb *testing.PB, next func() (int64, string)) {
		for pb.Next() {
			n, seat := next()
			r, err := co.Do(context.Background(), shardapi.BatchOp{Op: shardapi.BatchHold, Seats: []string{seat}, Holder: "b" + strconv.FormatInt(n, 10)})
			if err != nil {
				b.Error(err)
				return
			}
			if r.Status == http.StatusCreated {
				var h struct{ ID string }
				json.Unmarshal(r.Body, &h)
				if _, err := co.Do(context.Background(), shardapi.BatchOp{Op: shardapi.BatchRelease, Hold: h.ID}); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	b.StopTimer()
	hs.Close()
	s.BeginShutdown()
	s.Close(b.Context())
}

// benchHTTP serves s over HTTP/1.1 on a loopback port; close the server
// when done.
func benchHTTP(b *testing.B, s *Server, cfg Config) (*http.Server, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := NewHTTPServer(s.Handler(), cfg.Logger)
	go hs.Serve(ln)
	return hs, ln.Addr().String()
}

// benchParallel runs body on 32 goroutines per CPU with allocations
// reported; next hands out a fresh number and the seat it picks (the seats in
// turn).
func benchParallel(b *testing.B, seats []string, body func(pb *testing.PB, next func() (int64, string))) {
	var count atomic.Int64
	next := func() (int64, string) {
		n := count.Add(1)
		return n, seats[int(n)%len(seats)]
	}
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) { body(pb, next) })
}

// benchConn is one kept-alive client connection of the batch benchmark.
type benchConn struct {
	c    net.Conn
	br   *bufio.Reader
	req  []byte
	body []byte
}

func (c *benchConn) batch(ops []shardapi.BatchOp) ([]shardapi.BatchResult, error) {
	// As the front end writes and reads a batch: the contract's encoder
	// and decoder.
	c.body = (&shardapi.BatchRequest{Ops: ops}).AppendJSON(c.body[:0])
	c.req = fmt.Appendf(c.req[:0], "POST %s HTTP/1.1\r\nHost: shard\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		shardapi.PathBatch, len(c.body))
	c.req = append(c.req, c.body...)
	if _, err := c.c.Write(c.req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	res, err := shardapi.DecodeBatchResponse(ans)
	if err != nil {
		return nil, fmt.Errorf("%d: %w", resp.StatusCode, err)
	}
	return res, nil
}
