// Package frontend is the Box office booking front end: a stateless web
// server that serves the seat-map page and a buyer JSON API, forwards holds,
// payments and releases to the showtime's shard, and fans the shard's single
// event stream out to every connected browser.
package frontend

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"boxoffice.dev/boxoffice/internal/seatmap"
	"boxoffice.dev/boxoffice/internal/ticket"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

//go:embed web
var webFS embed.FS

// Server is one front-end pod.
type Server struct {
	cfg        Config
	log        *slog.Logger
	m          *metrics
	hub        *hub
	shard      *shardClient
	up         *upstream
	sess       *sessions
	lim        *limiter // API requests, per session (else per address)
	newSess    *limiter // new session cookies, per address
	seatBudget *limiter // seats held, per address
	streams    streamCounter
	origins    *http.CrossOriginProtection
	lateSeen   seenSet // paid orders without a seat already reported
	paySecret  []byte
	show       *showSource
	roomKeys   *ticket.Keys // waiting-room tickets (room.go)
	handler    http.Handler

	closing   chan struct{}
	closeOnce sync.Once
}

// New reads the secret files named in cfg and builds a server. Start begins
// the upstream stream; Handler serves requests.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := readSecret("session-key-file", cfg.SessionKeyFile, minSessionKeyBytes)
	if err != nil {
		return nil, err
	}
	var prevKey []byte
	if cfg.SessionPrevKey != "" {
		if _, serr := os.Stat(cfg.SessionPrevKey); serr == nil {
			if prevKey, err = readSecret("session-previous-key-file", cfg.SessionPrevKey, minSessionKeyBytes); err != nil {
				return nil, err
			}
		}
	}
	origins, err := newOriginCheck(cfg.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	var token []byte
	if cfg.ShardTokenFile != "" {
		if token, err = readSecret("shard-token-file", cfg.ShardTokenFile, 1); err != nil {
			return nil, err
		}
	}
	var paySecret []byte
	if cfg.PaymentSecretFile != "" {
		if paySecret, err = readSecret("payment-secret-file", cfg.PaymentSecretFile, 16); err != nil {
			return nil, err
		}
	}
	var fixed *seatmap.Layout
	if cfg.SeatMapFile != "" {
		b, err := os.ReadFile(cfg.SeatMapFile)
		if err != nil {
			return nil, fmt.Errorf("--seat-map: %v", err)
		}
		if fixed, err = seatmap.Parse(b); err != nil {
			return nil, fmt.Errorf("--seat-map %s: %v", cfg.SeatMapFile, err)
		}
	}
	show, err := newShowSource(cfg, log)
	if err != nil {
		return nil, err
	}
	rk, err := roomKeys(key, prevKey)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, show: show, roomKeys: rk,
		sess:       &sessions{key: key, prev: prevKey, secure: !cfg.InsecureCookies, maxAge: cfg.SessionMaxAge, now: time.Now},
		lim:        newLimiter(cfg.RateLimit, cfg.RateBurst, limiterMaxKeys),
		newSess:    newLimiter(cfg.NewSessionRate, cfg.NewSessionBurst, limiterMaxKeys),
		seatBudget: newLimiter(float64(cfg.ClientSeats)/cfg.HoldTTL.Seconds(), cfg.ClientSeats, limiterMaxKeys),
		streams:    streamCounter{max: cfg.MaxClientStreams, n: map[string]int{}},
		origins:    origins, lateSeen: seenSet{max: 4096},
		paySecret: paySecret, closing: make(chan struct{})}
	s.m = newMetrics(func() float64 { return float64(s.hub.subscribers()) })
	s.hub = newHub(log, s.m, cfg.Coalesce, cfg.ClientBuffer, fixed)
	s.shard = newShardClient(cfg.ShardURL, string(token), cfg.RetryBudget, s.m)
	s.shard.setDialTimeout(cfg.ShardDialTimeout)
	s.shard.hedge = cfg.ShardHedgeDelay
	s.shard.enableBatch(cfg.ShardBatch)
	s.up = &upstream{c: s.shard, hub: s.hub, log: log, m: s.m, showtime: cfg.Showtime}
	s.handler = s.routes()
	return s, nil
}

// Start runs the upstream stream and the fan-out until ctx ends.
func (s *Server) Start(ctx context.Context) {
	go s.up.run(ctx)
	go s.hub.run(ctx.Done())
}

// Handler is the HTTP handler for buyers, probes and metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// CloseStreams ends every browser stream (used on shutdown so that
// http.Server.Shutdown does not wait for them).
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.hub.closeAll()
	})
}

// Run serves on cfg.Listen until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	s, err := New(cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %v", cfg.Listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.Start(ctx)
	srv := s.HTTPServer()
	if cfg.PprofListen != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() {
			log.Info("profiles served", "addr", cfg.PprofListen)
			if err := http.ListenAndServe(cfg.PprofListen, pm); err != nil {
				log.Error("--pprof-listen", "err", err)
			}
		}()
	}
	log.Info("front end listening", "addr", ln.Addr().String(), "shard", cfg.ShardURL,
		"showtime", cfg.Showtime, "demoPayments", cfg.DemoPayments)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.CloseStreams()
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}

// HTTPServer is the http.Server for Handler, with the timeouts that keep a
// client that sends or reads slowly from holding a goroutine for long: the
// request head within 5 s, the whole request within --read-timeout, and
// each response within --write-timeout (event streams push their own
// deadline forward before every write instead).
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(5*time.Second, s.cfg.ReadTimeout),
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
}

// apiError is the error body, same shape as the shard's.
type apiError struct {
	Error   string   `json:"error"`
	Message string   `json:"message"`
	Seats   []string `json:"seats,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, apiError{Error: errCode, Message: msg})
}

func writeRaw(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// recorder notes the status for metrics and still lets handlers flush.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	fileServer := http.FileServerFS(static)

	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.Handle("GET /static/", http.StripPrefix("/static/", fileServer))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{Registry: s.m.reg}))

	api := func(route string, h http.HandlerFunc) http.Handler { return s.apiMiddleware(route, h) }
	mux.Handle("GET /api/session", api("session", s.handleSession))
	mux.Handle("GET /api/seats", api("seats", s.handleSeats))
	mux.Handle("GET /api/events", api("events", s.handleEvents))
	mux.Handle("POST /api/holds", api("hold", s.handleHold))
	mux.Handle("GET /api/holds/{id}", api("hold_status", s.handleHoldStatus))
	mux.Handle("POST /api/holds/{id}/extend", api("extend", s.handleExtend))
	mux.Handle("POST /api/holds/{id}/pay", api("pay", s.handlePay))
	mux.Handle("DELETE /api/holds/{id}", api("release", s.handleRelease))
	mux.Handle("POST /api/room", api("room_join", s.handleRoomJoin))
	mux.Handle("DELETE /api/room", api("room_leave", s.handleRoomLeave))
	mux.Handle("GET /api/room/events", api("room_events", s.handleRoomEvents))
	mux.Handle("POST /payments/callback", s.countOnly("payment_callback", s.handlePaymentCallback))
	return mux
}

func (s *Server) countOnly(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		h(rec, r)
		s.m.requests.WithLabelValues(route, strconv.Itoa(max(rec.code, 200))).Inc()
	})
}

type ctxKey int

const holderKey ctxKey = 0

// apiMiddleware applies the rate limit, the body limit, the write guards
// (same-origin, JSON content type) and the session, then counts the result.
func (s *Server) apiMiddleware(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		defer func() { s.m.requests.WithLabelValues(route, strconv.Itoa(max(rec.code, 200))).Inc() }()
		se, valid := s.sess.fromRequest(r)
		holder := se.holder
		addr := clientAddr(r, s.cfg.TrustedProxyHops)
		key := holder
		if key == "" {
			key = "addr:" + addr
		}
		if !s.lim.allow(key) {
			s.m.rateLimited.Inc()
			rec.Header().Set("Retry-After", "1")
			writeErr(rec, http.StatusTooManyRequests, "rate_limited", "too many requests; slow down")
			return
		}
		// A request without a valid cookie gets a new session, and with it a
		// fresh bucket above; new sessions are therefore limited per address.
		if !valid && !s.newSess.allow(addr) {
			s.m.sessionsLimited.Inc()
			rec.Header().Set("Retry-After", s.newSessionRetryAfter())
			writeErr(rec, http.StatusTooManyRequests, "rate_limited", "too many new sessions from your address; retry shortly")
			return
		}
		if s.writeGuard(rec, r) {
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		switch {
		case !valid:
			holder = s.sess.issue(rec)
		case se.stale:
			s.sess.set(rec, holder, se.issued) // re-signed with the current key
		}
		h(rec, r.WithContext(context.WithValue(r.Context(), holderKey, holder)))
	})
}

// newSessionRetryAfter is the Retry-After for a refused new session: the
// time one new session takes to become available again.
func (s *Server) newSessionRetryAfter() string {
	return strconv.Itoa(max(1, int(math.Ceil(1/s.cfg.NewSessionRate))))
}

func holderOf(r *http.Request) string { v, _ := r.Context().Value(holderKey).(string); return v }

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	// The page itself is static and served to anyone; a session cookie comes
	// with it only while the client's address may have new sessions. Without
	// one the page's first API call asks again (and waits when refused).
	if se, ok := s.sess.fromRequest(r); !ok {
		if s.newSess.allow(clientAddr(r, s.cfg.TrustedProxyHops)) {
			s.sess.issue(w)
		} else {
			s.m.sessionsLimited.Inc()
		}
	} else if se.stale {
		s.sess.set(w, se.holder, se.issued)
	}
	b, err := webFS.ReadFile("web/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.hub.Loaded():
		_, _ = io.WriteString(w, "ok\n")
	default:
		http.Error(w, "seat snapshot not loaded from the shard yet", http.StatusServiceUnavailable)
	}
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"holder": holderOf(r), "showtime": s.cfg.Showtime, "demoPayments": s.cfg.DemoPayments,
	})
}

func (s *Server) handleSeats(w http.ResponseWriter, r *http.Request) {
	v, ok := s.hub.view()
	if !ok {
		writeErr(w, http.StatusServiceUnavailable, string(shardapi.CodeNotReady), "the seat map is not loaded yet; retry shortly")
		return
	}
	v.Showtime = s.cfg.Showtime
	v.Show = s.show.get()
	v.DemoPayments = s.cfg.DemoPayments
	v.PaymentURL = s.cfg.PaymentURL
	writeJSON(w, http.StatusOK, v)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, http.StatusRequestEntityTooLarge, string(shardapi.CodePayloadTooLarge), fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
			return false
		}
		writeErr(w, http.StatusBadRequest, string(shardapi.CodeInvalidRequest), "body is not valid JSON for this request: "+err.Error())
		return false
	}
	return true
}

// shardAnswer relays a shard answer or explains why there was none.
func (s *Server) shardAnswer(w http.ResponseWriter, resp *shardapi.Answer, err error) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.log.Warn("shard request failed", "err", err)
		w.Header().Set("Retry-After", "2")
		writeErr(w, http.StatusServiceUnavailable, "shard_unavailable", "the box office is briefly unavailable; your request is safe to retry")
		return
	}
	if resp.Status == http.StatusUnauthorized {
		s.log.Error("shard refused our token; check --shard-token-file")
		writeErr(w, http.StatusBadGateway, "upstream_misconfigured", "the box office is misconfigured")
		return
	}
	if resp.Status/100 == 3 {
		s.log.Error("shard answered a redirect, which the contract never does; not followed", "status", resp.Status)
		writeErr(w, http.StatusBadGateway, "bad_upstream", "unexpected answer from the box office")
		return
	}
	writeRaw(w, resp.Status, resp.Body)
}

// handleEvents is the browser event stream, served from memory.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) { s.serveStream(w, r, false) }

// handleRoomEvents is a queue page's stream: room summaries only.
func (s *Server) handleRoomEvents(w http.ResponseWriter, r *http.Request) { s.serveStream(w, r, true) }

// serveStream serves one browser stream: seat events, or with roomOnly the
// waiting room's summaries.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, roomOnly bool) {
	release, ok := s.admitStream(w, r)
	if !ok {
		return
	}
	defer func() { release() }() // replaced by a no-op once the hub owns the stream
	if !roomOnly && !s.waitLoaded(w, r) {
		return
	}
	last, have := lastEventID(r)
	out, handed := s.openSink(w, r, roomOnly, last, have, &release)
	if handed || out == nil {
		return
	}
	if c, ok := out.(*connSink); ok {
		defer c.conn.Close()
	}
	sub, first := s.hub.subscribe(last, have, roomOnly)
	defer s.hub.unsubscribe(sub)
	if out.write(append([][]byte{[]byte("retry: 1000\n\n")}, first...)) != nil {
		return
	}
	s.pumpStream(r, sub, out)
}

// admitStream applies the pod's and the client address's stream limits;
// false: refused and answered. release gives the client's slot back.
func (s *Server) admitStream(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if s.cfg.MaxStreams > 0 && s.hub.subscribers() >= int64(s.cfg.MaxStreams) {
		w.Header().Set("Retry-After", "5")
		writeErr(w, http.StatusServiceUnavailable, "too_many_streams", "this server is full; retry shortly")
		return nil, false
	}
	release, ok = s.streams.acquire(clientAddr(r, s.cfg.TrustedProxyHops))
	if !ok {
		s.m.refused.WithLabelValues("client_streams").Inc()
		w.Header().Set("Retry-After", "5")
		writeErr(w, http.StatusTooManyRequests, "too_many_streams", "too many live updates open from your address; close a tab")
		return nil, false
	}
	return release, true
}

// lastEventID is where a resuming stream left off (the header, or the
// query parameter a page reload carries); have: one was given.
func lastEventID(r *http.Request) (last uint64, have bool) {
	lastStr := r.Header.Get("Last-Event-ID")
	if lastStr == "" {
		lastStr = r.URL.Query().Get("lastEventId")
	}
	last, perr := strconv.ParseUint(lastStr, 10, 64)
	return last, lastStr != "" && perr == nil
}

// openSink starts the response. On HTTP/1.1 the connection is taken over:
// the response is written without chunk framing, and on a plain socket the
// hub writes frames to it directly from its fan-out workers (see
// directConn), so an idle browser costs no goroutine: handed is true and
// the hub owns the stream (and *release). Elsewhere (HTTP/2 through a
// proxy, TLS) a goroutine per stream writes through the ResponseWriter or
// the connection; out is nil when the head could not be written.
func (s *Server) openSink(w http.ResponseWriter, r *http.Request, roomOnly bool, last uint64, have bool, release *func()) (out sink, handed bool) {
	if r.ProtoMajor == 1 {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			// The server's read and write deadlines stay on a taken-over
			// connection; the stream sets its own write deadlines.
			_ = conn.SetDeadline(time.Time{})
			head := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" +
				"Cache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: 1000\n\n")
			if d, ok := newDirectConn(conn, s.cfg.ClientBuffer); ok {
				d.roomOnly = roomOnly
				d.release, *release = *release, func() {} // freed when the hub closes it
				if !s.hub.subscribeDirect(d, last, have, head) {
					d.close()
				}
				return nil, true
			}
			c := &connSink{conn: conn}
			if err := c.write([][]byte{head[:len(head)-len("retry: 1000\n\n")]}); err != nil {
				conn.Close()
				return nil, false
			}
			return c, false
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &httpSink{w: w, rc: http.NewResponseController(w)}, false
}

// pumpStream writes the subscriber's frames, up to 64 at a time in one
// write, until the client goes, the hub drops it or the pod stops.
func (s *Server) pumpStream(r *http.Request, sub *subscriber, out sink) {
	batch := make([][]byte, 0, 8)
	var frames []*frame
	for {
		select {
		case f := <-sub.ch:
			frames = append(frames[:0], f)
		drain:
			for len(frames) < 64 {
				select {
				case f := <-sub.ch:
					frames = append(frames, f)
				default:
					break drain
				}
			}
			batch = batch[:0]
			for _, f := range frames {
				batch = append(batch, f.data)
			}
			if out.write(batch) != nil {
				return
			}
			now := time.Now()
			for _, f := range frames {
				if !f.heartbeat {
					s.m.fanoutDelay.Observe(now.Sub(f.at).Seconds())
				}
			}
		case <-sub.dropped:
			return
		case <-s.closing:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// waitLoaded waits (bounded) for the pod's seat copy; false: answered.
func (s *Server) waitLoaded(w http.ResponseWriter, r *http.Request) bool {
	select {
	case <-s.hub.Loaded():
		return true
	case <-time.After(10 * time.Second):
		writeErr(w, http.StatusServiceUnavailable, string(shardapi.CodeNotReady), "the seat map is not loaded yet; retry shortly")
		return false
	case <-r.Context().Done():
		return false
	}
}

// sink writes event-stream bytes to one browser.
type sink interface {
	write(bufs [][]byte) error
}

// streamWriteTimeout bounds how long a write to a browser may block. The
// deadline is refreshed only now and then, not per write, to keep timer
// updates off the hot path.
const streamWriteTimeout = 20 * time.Second

type connSink struct {
	conn     net.Conn
	deadline time.Time
}

func (c *connSink) write(bufs [][]byte) error {
	now := time.Now()
	if c.deadline.Sub(now) < streamWriteTimeout/2 {
		c.deadline = now.Add(streamWriteTimeout)
		_ = c.conn.SetWriteDeadline(c.deadline)
	}
	nb := net.Buffers(bufs)
	_, err := nb.WriteTo(c.conn)
	return err
}

type httpSink struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	deadline time.Time
}

func (h *httpSink) write(bufs [][]byte) error {
	now := time.Now()
	if h.deadline.Sub(now) < streamWriteTimeout/2 {
		h.deadline = now.Add(streamWriteTimeout)
		_ = h.rc.SetWriteDeadline(h.deadline)
	}
	for _, b := range bufs {
		if _, err := h.w.Write(b); err != nil {
			return err
		}
	}
	return h.rc.Flush()
}
