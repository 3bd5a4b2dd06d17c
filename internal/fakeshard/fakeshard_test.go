package fakeshard

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "-" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e struct{ Error, Message string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Message == "" {
		t.Fatalf("not the contract's error body: %q (%v)", body, err)
	}
	return e.Error
}

func TestAnswersPerAddress(t *testing.T) {
	s, err := New(Loopback, "127.0.0.2")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	defer s.Close()
	s.Set(Loopback, Member{Status: &shardapi.Status{Showtime: "ns/a", Version: 7}, Metrics: "m_total 1\n"})
	s.Set("127.0.0.2", Member{Status: &shardapi.Status{Showtime: "ns/b"}})

	if code, body := get(t, s.AddrURL(Loopback)+"/v1/status", "-"); code != 200 || !strings.Contains(body, `"version":7`) {
		t.Fatalf("first address: %d %s", code, body)
	}
	if code, body := get(t, s.AddrURL("127.0.0.2")+"/v1/status", "-"); code != 200 || !strings.Contains(body, `"ns/b"`) {
		t.Fatalf("second address: %d %s", code, body)
	}
	if code, body := get(t, s.AddrURL(Loopback)+"/metrics", "-"); code != 200 || body != "m_total 1\n" {
		t.Fatalf("metrics: %d %q", code, body)
	}
	if code, _ := get(t, s.AddrURL("127.0.0.2")+"/metrics", "-"); code != 404 {
		t.Fatalf("metrics not set: %d, want 404", code)
	}
	if err := s.Listen("127.0.0.3"); err != nil {
		t.Skipf("no third loopback address: %v", err)
	}
	if code, body := get(t, s.AddrURL("127.0.0.3")+"/v1/status", "-"); code != 503 || errorCode(t, body) != "not_ready" {
		t.Fatalf("address without a member: %d %s, want 503 not_ready", code, body)
	}
	s.Remove(Loopback)
	for _, path := range []string{"/v1/status", "/metrics"} {
		if code, _ := get(t, s.AddrURL(Loopback)+path, "-"); code != 503 {
			t.Fatalf("removed member %s: %d, want 503", path, code)
		}
	}
	if s.Hits() != 7 {
		t.Fatalf("Hits() = %d, want 7", s.Hits())
	}
}

func TestTokenAndErrors(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Set(Loopback, Member{Status: &shardapi.Status{Showtime: "ns/a"}})
	s.RequireToken("secret")
	if code, body := get(t, s.AddrURL(Loopback)+"/v1/status", "wrong"); code != 401 || errorCode(t, body) != "unauthorized" {
		t.Fatalf("wrong token: %d %s", code, body)
	}
	if code, _ := get(t, s.AddrURL(Loopback)+"/v1/status", "secret"); code != 200 {
		t.Fatalf("right token: %d", code)
	}
	s.Update(Loopback, func(m *Member) { m.Err = NotReady })
	if code, body := get(t, s.AddrURL(Loopback)+"/v1/status", "secret"); code != 503 || errorCode(t, body) != "not_ready" {
		t.Fatalf("failing member: %d %s", code, body)
	}
	s.Handle("GET /v1/seats", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]int{"version": 1})
	}))
	if code, _ := get(t, s.AddrURL(Loopback)+"/v1/seats", "secret"); code != 503 {
		t.Fatalf("a mounted route of a failing member: %d, want its error", code)
	}
	s.Update(Loopback, func(m *Member) { m.Err = nil })
	var seen []string
	s.Intercept(func(r *http.Request) *Error {
		seen = append(seen, r.Method+" "+r.URL.Path)
		if r.Method == http.MethodPost {
			return &Error{Code: shardapi.CodeHoldSold, Message: "test"}
		}
		return nil
	})
	if code, body := get(t, s.URL+"/v1/status", "secret"); code != 200 || !strings.Contains(body, "ns/a") {
		t.Fatalf("status through the interceptor: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/holds", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 409 || strings.Join(seen, ",") != "GET /v1/status,POST /v1/holds" {
		t.Fatalf("interceptor: answer %d, saw %v", resp.StatusCode, seen)
	}
	s.Intercept(nil)
	if code, body := get(t, s.AddrURL(Loopback)+"/v1/seats", "secret"); code != 200 || !strings.Contains(body, `"version":1`) {
		t.Fatalf("mounted route: %d %s", code, body)
	}
}
