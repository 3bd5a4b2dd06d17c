package openapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) has(sub string) bool {
	return slices.ContainsFunc(r.errs, func(e string) bool { return strings.Contains(e, sub) })
}

// TestCheckerCatchesDrift: an undocumented field, an undocumented status and
// an operation never reached are all reported; a matching answer is not.
func TestCheckerCatchesDrift(t *testing.T) {
	body := `{"id":"a"}`
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	c := New(rec, filepath.Join("testdata", "tiny.yaml"), srv.URL)
	get := func() {
		req, _ := http.NewRequest("GET", srv.URL+"/things/a", nil)
		c.Do(srv.Client(), req, nil, false)
	}
	get()
	if len(rec.errs) != 0 {
		t.Fatalf("a matching answer was reported: %v", rec.errs)
	}
	body = `{"id":"a","extra":1}`
	get()
	if !rec.has(`"extra" is unsupported`) {
		t.Fatalf("an undocumented field passed: %v", rec.errs)
	}
	body, status = `{"id":"a"}`, 201
	get()
	if !rec.has("answer 201 breaks the document") {
		t.Fatalf("an undocumented status passed: %v", rec.errs)
	}
	c.RequireAllExercised()
	if !rec.has("GET /other is in the document") {
		t.Fatalf("an operation never reached passed: %v", rec.errs)
	}
	c.RequireDocumented([]string{"GET /things/{id}", "GET /other", "POST /things"}, nil)
	if !rec.has(`registers "POST /things"`) {
		t.Fatalf("an undocumented route passed: %v", rec.errs)
	}
}

func TestRoutesInSource(t *testing.T) {
	src := `package x
func routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", nil)
	v1("POST /v1/holds/{id}/confirm", "confirm", nil)
	mux.HandleFunc("/v1/", nil)
	_ = "not a route"
}
func other() { _ = "GET /elsewhere" }
`
	path := filepath.Join(t.TempDir(), "x.go")
	os.WriteFile(path, []byte(src), 0o644)
	got := RoutesInSource(t, path, "routes")
	want := []string{"GET /", "POST /v1/holds/{id}/confirm"}
	if !slices.Equal(got, want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
}

func TestStream(t *testing.T) {
	s := NewStream(strings.NewReader("retry: 1000\n\n: resumed\n\nid: 7\nevent: seats\ndata: {\"version\":7}\n\n: ping\n\nid: 8\nevent: seats\ndata: a\ndata: b\n\nbogus line\n\n"))
	ev, err := s.Next()
	if err != nil || ev != (Event{ID: "7", Event: "seats", Data: `{"version":7}`}) {
		t.Fatalf("first event %+v %v", ev, err)
	}
	ev, err = s.Next()
	if err != nil || ev.Data != "a\nb" || ev.ID != "8" {
		t.Fatalf("second event %+v %v", ev, err)
	}
	if !slices.Equal(s.Comments, []string{"resumed", "ping"}) || !slices.Equal(s.Retry, []string{"1000"}) {
		t.Fatalf("comments %q, retry %q", s.Comments, s.Retry)
	}
	if _, err := s.Next(); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("an unknown line passed: %v", err)
	}
}
