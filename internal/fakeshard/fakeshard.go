package fakeshard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// Loopback is the first address a Server listens on unless told otherwise.
const Loopback = "127.0.0.1"

// Member is what one address answers.
type Member struct {
	// Status is the body of GET /v1/status. Nil: 503 not_ready, as a shard
	// that is still replaying answers.
	Status *shardapi.Status
	// Metrics is the body of GET /metrics. Empty: 404. (An address with no
	// Member answers 503 on both routes.)
	Metrics string
	// Err, when set, is the answer to every /v1 call.
	Err *Error
}

// Error is a shard error answer: shardapi's, with Status the HTTP status
// (the code's own status when zero).
type Error = shardapi.Error

// NotReady is the error a shard answers while it replays its log.
var NotReady = &Error{Code: shardapi.CodeNotReady, Message: "replaying"}

// Server is a fake shard on one port of one or more loopback addresses.
type Server struct {
	// URL is the base URL of the first address, http://ip:port.
	URL  string
	port int
	srv  *http.Server
	mux  *http.ServeMux
	hits atomic.Int64

	mu        sync.Mutex
	listeners []net.Listener
	members   map[string]*Member // by IP
	auth      bool
	token     string
	intercept func(*http.Request) *Error
}

// New starts a Server listening on every ip (Loopback when none), all on the
// same free port. It tries up to 50 ports before it gives up when another
// address has the chosen port taken (a benchmark holding tens of thousands of
// loopback sockets can take most of them).
func New(ips ...string) (*Server, error) {
	if len(ips) == 0 {
		ips = []string{Loopback}
	}
	s := &Server{members: map[string]*Member{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/status", s.status)
	s.mux.HandleFunc("GET /metrics", s.metrics)
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	var err error
	for range 50 {
		if err = s.listenAll(ips); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// listenAll listens on a free port of ips[0] and the same port of the others.
func (s *Server) listenAll(ips []string) error {
	first, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
	if err != nil {
		return err
	}
	s.port = first.Addr().(*net.TCPAddr).Port
	s.URL = "http://" + first.Addr().String()
	lns := []net.Listener{first}
	for _, ip := range ips[1:] {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(s.port)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listening on %s: %w", ip, err)
		}
		lns = append(lns, l)
	}
	for _, l := range lns {
		s.serveOn(l)
	}
	return nil
}

func (s *Server) serveOn(l net.Listener) {
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	go func() { _ = s.srv.Serve(l) }()
}

// Listen adds an address on the Server's port.
func (s *Server) Listen(ip string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(s.port)))
	if err != nil {
		return err
	}
	s.serveOn(l)
	return nil
}

// Port is the port every address listens on.
func (s *Server) Port() int { return s.port }

// AddrURL is the base URL of ip on the Server's port.
func (s *Server) AddrURL(ip string) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(s.port))
}

// Close stops listening on every address and ends open connections.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Hits counts the requests the Server got, answered or not.
func (s *Server) Hits() int64 { return s.hits.Load() }

// RequireToken makes every /v1 call need "Authorization: Bearer token"
// (token may be empty: then only "Bearer " passes); others get 401.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth, s.token = true, token
}

// Set makes ip answer as m says.
func (s *Server) Set(ip string, m Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[ip] = &m
}

// Update changes what ip answers (from the zero Member if it was not set).
func (s *Server) Update(ip string, fn func(*Member)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[ip]
	if m == nil {
		m = &Member{}
		s.members[ip] = m
	}
	fn(m)
}

// Remove makes ip answer like an address without a shard: 503 not_ready on
// /v1/status and /metrics.
func (s *Server) Remove(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members, ip)
}

// Intercept makes fn see every /v1 call that passed the token check, before
// it is answered; a non-nil Error is the answer instead. Tests record calls
// or fail some with it. Nil removes it.
func (s *Server) Intercept(fn func(*http.Request) *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = fn
}

// Handle mounts a further route (http.ServeMux pattern) on every address.
// The token check and a member's Err apply to it as to the status route.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }
