// Package openapitest holds real HTTP exchanges with a running server to an
// OpenAPI 3 document (docs/api/*.openapi.yaml): every request a test sends
// and every answer it gets is validated against the document, the operations
// exercised are counted so that a test can require every documented one, and
// the routes a server's source registers can be listed so that a test can
// require every one of them to be documented.
//
// It is test tooling: only _test.go files import it. It validates; it does
// not send anything by itself beyond what the test asks for.
package openapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// Streams are validated as text (status, headers, content type); their
	// events are checked one by one with Checker.Event.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// Doc is the path of a document under docs/api of this repository.
func Doc(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "api", name)
}

// Checker validates exchanges with one server against one document.
type Checker struct {
	t      testing.TB
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]map[int]bool // "METHOD /path" -> statuses seen
}

// New loads and validates the document, makes every object schema that
// lists properties closed (no other property allowed: the test holds the
// server to exactly the fields documented, while the document itself tells
// clients to ignore unknown fields), and routes requests to the servers at
// baseURLs (several servers of one API share one Checker, and its counts).
func New(t testing.TB, docPath string, baseURLs ...string) *Checker {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(docPath)
	if err != nil {
		t.Fatalf("loading %s: %v", docPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", docPath, err)
	}
	closeSchemas(doc)
	doc.Servers = nil
	for _, u := range baseURLs {
		doc.Servers = append(doc.Servers, &openapi3.Server{URL: u})
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("routing %s: %v", docPath, err)
	}
	return &Checker{t: t, doc: doc, router: router, seen: map[string]map[int]bool{}}
}

// closeSchemas sets additionalProperties: false on every object schema with
// properties that does not say otherwise.
func closeSchemas(doc *openapi3.T) {
	no := false
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		for _, l := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range l {
				walk(x)
			}
		}
	}
	if doc.Components != nil {
		for _, s := range doc.Components.Schemas {
			walk(s)
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, r := range op.Responses.Map() {
				if r.Value != nil {
					for _, mt := range r.Value.Content {
						walk(mt.Schema)
					}
				}
			}
		}
	}
}

// Answer is a server's answer, its body read in full.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Exchange is one request and its answer for Check.
type Exchange struct {
	Req  *http.Request
	Body []byte // the request body sent
	Resp Answer
	// Bad says the request itself breaks the document (a test of an error
	// path): its validation must fail, and the answer is still validated.
	Bad bool
}

// Check validates a request and its answer against the document and counts
// the operation as exercised. It fails the test when the request does not
// map to a documented operation, when a request meant to be valid is not (or
// one meant to break the document does not), or when the answer does not
// match (an undocumented status counts).
func (c *Checker) Check(x Exchange) {
	c.t.Helper()
	what := x.Req.Method + " " + x.Req.URL.RequestURI()
	route, params, err := c.router.FindRoute(x.Req)
	if err != nil {
		c.t.Errorf("%s: not in the document: %v", what, err)
		return
	}
	c.mu.Lock()
	key := x.Req.Method + " " + route.Path
	if c.seen[key] == nil {
		c.seen[key] = map[int]bool{}
	}
	c.seen[key][x.Resp.Status] = true
	c.mu.Unlock()

	req := x.Req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(x.Body))
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			MultiError: true, IncludeResponseStatus: true,
			AuthenticationFunc: bearerPresent,
		},
	}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case err != nil && !x.Bad:
		c.t.Errorf("%s: the request breaks the document: %v", what, err)
	case err == nil && x.Bad:
		c.t.Errorf("%s: the request was meant to break the document, but the document allows it (body %q)", what, x.Body)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: x.Resp.Status, Header: x.Resp.Header,
		Options: in.Options,
	}
	out.SetBodyBytes(x.Resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s: answer %d breaks the document: %v\nbody: %.600s", what, x.Resp.Status, err, x.Resp.Body)
	}
	c.checkHeaders(what, route, x.Resp)
}

// checkHeaders requires the headers a response documents as required
// (ValidateResponse checks their values, not that they are there).
func (c *Checker) checkHeaders(what string, route *routers.Route, a Answer) {
	c.t.Helper()
	r := route.Operation.Responses.Status(a.Status)
	if r == nil || r.Value == nil {
		return
	}
	for name, h := range r.Value.Headers {
		if h.Value != nil && h.Value.Required && a.Header.Get(name) == "" {
			c.t.Errorf("%s: answer %d lacks the required header %s", what, a.Status, name)
		}
	}
}

// bearerPresent accepts a request whose Authorization header carries a
// bearer token; whether it is the right token is the server's business.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return fmt.Errorf("unsupported security scheme %s", in.SecuritySchemeName)
	}
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if len(h) <= len("Bearer ") || !strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
		return fmt.Errorf("no bearer token")
	}
	return nil
}

// Do sends a request with client, checks the exchange and returns the answer.
// body may be nil. bad is Exchange.Bad.
func (c *Checker) Do(client *http.Client, req *http.Request, body []byte, bad bool) Answer {
	c.t.Helper()
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	a := Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
	c.Check(Exchange{Req: req, Body: body, Resp: a, Bad: bad})
	return a
}

// Event validates one server-sent event's data against the named schema of
// components/schemas.
func (c *Checker) Event(schema string, data []byte) {
	c.t.Helper()
	var ref *openapi3.SchemaRef
	if c.doc.Components != nil {
		ref = c.doc.Components.Schemas[schema]
	}
	if ref == nil || ref.Value == nil {
		c.t.Fatalf("no schema %s in the document", schema)
	}
	v, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(data), nil, ref, nil)
	if err != nil {
		c.t.Errorf("event %s: data is not JSON: %v: %q", schema, err, data)
		return
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		c.t.Errorf("event %s breaks the document: %v\ndata: %.600s", schema, err, data)
	}
}

// Enum is the enum of a property of a component schema, as strings.
func (c *Checker) Enum(schema, property string) []string {
	c.t.Helper()
	var s *openapi3.SchemaRef
	if c.doc.Components != nil {
		s = c.doc.Components.Schemas[schema]
	}
	if s == nil || s.Value == nil || s.Value.Properties[property] == nil {
		c.t.Fatalf("no property %s.%s in the document", schema, property)
	}
	var out []string
	for _, v := range s.Value.Properties[property].Value.Enum {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// Operations lists the document's operations as "METHOD /path", sorted.
func (c *Checker) Operations() []string {
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// RequireAllExercised fails the test for every documented operation no
// exchange reached, so the document cannot list what the server lacks.
func (c *Checker) RequireAllExercised() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range c.Operations() {
		if c.seen[op] == nil {
			c.t.Errorf("%s is in the document but no test request reached it", op)
		}
	}
}

// Unexercised lists documented "METHOD /path STATUS" answers no exchange
// produced (for a test's log: some, a stalled disk say, are out of reach).
func (c *Checker) Unexercised() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				var n int
				if _, err := fmt.Sscan(code, &n); err == nil && !c.seen[method+" "+path][n] {
					out = append(out, method+" "+path+" "+code)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Request builds a request for Do: method and url, body as JSON text ("" for
// none, which sends no Content-Type), then hdr as name, value pairs applied
// in order (a value "" removes the header, so a test can drop a token set
// before).
func Request(method, url, body string, hdr ...string) (*http.Request, []byte) {
	req, _ := http.NewRequest(method, url, nil)
	var b []byte
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		b = []byte(body)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return req, b
}
