package fakeshard

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// member is a copy of what the request's local address answers (nil: none).
func (s *Server) member(r *http.Request) *Member {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if local == nil {
		return nil
	}
	ip, _, _ := net.SplitHostPort(local.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.members[ip]; m != nil {
		c := *m
		return &c
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		s.mu.Lock()
		auth, token, intercept := s.auth, s.token, s.intercept
		s.mu.Unlock()
		if auth && r.Header.Get("Authorization") != "Bearer "+token {
			WriteError(w, &Error{Code: shardapi.CodeUnauthorized, Message: "bad token"})
			return
		}
		if intercept != nil {
			if e := intercept(r); e != nil {
				WriteError(w, e)
				return
			}
		}
		if m := s.member(r); m != nil && m.Err != nil {
			WriteError(w, m.Err)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	m := s.member(r)
	if m == nil {
		WriteError(w, noShard)
		return
	}
	if m.Status == nil {
		WriteError(w, &Error{Code: shardapi.CodeNotReady, Message: "no status set"})
		return
	}
	WriteJSON(w, http.StatusOK, m.Status)
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	m := s.member(r)
	if m == nil {
		WriteError(w, noShard)
		return
	}
	if m.Metrics == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(m.Metrics))
}

// noShard is the answer of an address no Member is set for.
var noShard = &Error{Code: shardapi.CodeNotReady, Message: "no shard at this address"}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers with e's status (its code's when e.Status is zero)
// and the contract's error body.
func WriteError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = e.Code.HTTPStatus()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(e.AppendJSON(nil))
}
