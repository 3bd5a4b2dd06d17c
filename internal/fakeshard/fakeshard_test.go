package fakeshard

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
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

type status struct {
	Showtime string `json:"showtime"`
	Version  uint64 `json:"version"`
}

func TestAnswersPerAddress(t *testing.T) {
	s, err := New(Loopback, "127.0.0.2")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	defer s.Close()
	s.Set(Loopback, Member{Status: status{Showtime: "ns/a", Version: 7}, Metrics: "m_total 1\n"})
	s.Set("127.0.0.2", Member{Status: map[string]any{"showtime": "ns/b"}})

	if code, body := get(t, s.URL(Loopback)+"/v1/status", "-"); code != 200 || !strings.Contains(body, `"version":7`) {
		t.Fatalf("first address: %d %s", code, body)
	}
	if code, body := get(t, s.URL("127.0.0.2")+"/v1/status", "-"); code != 200 || !strings.Contains(body, `"ns/b"`) {
		t.Fatalf("second address: %d %s", code, body)
	}
	if code, body := get(t, s.URL(Loopback)+"/metrics", "-"); code != 200 || body != "m_total 1\n" {
		t.Fatalf("metrics: %d %q", code, body)
	}
	if code, _ := get(t, s.URL("127.0.0.2")+"/metrics", "-"); code != 404 {
		t.Fatalf("metrics not set: %d, want 404", code)
	}
	if err := s.Listen("127.0.0.3"); err != nil {
		t.Skipf("no third loopback address: %v", err)
	}
	if code, body := get(t, s.URL("127.0.0.3")+"/v1/status", "-"); code != 503 || errorCode(t, body) != "not_ready" {
		t.Fatalf("address without a member: %d %s, want 503 not_ready", code, body)
	}
	s.Remove(Loopback)
	for _, path := range []string{"/v1/status", "/metrics"} {
		if code, _ := get(t, s.URL(Loopback)+path, "-"); code != 503 {
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
	s.Set(Loopback, Member{Status: status{Showtime: "ns/a"}})
	s.RequireToken("secret")
	if code, body := get(t, s.URL(Loopback)+"/v1/status", "wrong"); code != 401 || errorCode(t, body) != "unauthorized" {
		t.Fatalf("wrong token: %d %s", code, body)
	}
	if code, _ := get(t, s.URL(Loopback)+"/v1/status", "secret"); code != 200 {
		t.Fatalf("right token: %d", code)
	}
	s.Update(Loopback, func(m *Member) { m.Err = NotReady })
	if code, body := get(t, s.URL(Loopback)+"/v1/status", "secret"); code != 503 || errorCode(t, body) != "not_ready" {
		t.Fatalf("failing member: %d %s", code, body)
	}
	s.Handle("GET /v1/seats", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]int{"version": 1})
	}))
	if code, _ := get(t, s.URL(Loopback)+"/v1/seats", "secret"); code != 503 {
		t.Fatalf("a mounted route of a failing member: %d, want its error", code)
	}
	s.Update(Loopback, func(m *Member) { m.Err = nil })
	if code, body := get(t, s.URL(Loopback)+"/v1/seats", "secret"); code != 200 || !strings.Contains(body, `"version":1`) {
		t.Fatalf("mounted route: %d %s", code, body)
	}
}
