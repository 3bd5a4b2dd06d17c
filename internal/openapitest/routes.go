package openapitest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// muxPattern is a net/http ServeMux pattern with a method: "GET /v1/seats".
var muxPattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /\S*$`)

// RoutesInSource lists the ServeMux patterns with a method ("GET /a/{id}")
// written as string literals in the function fn of the Go file at path: the
// routes the server registers. ServeMux cannot list its routes, so the test
// reads them where they are written. "{$}" (exact match) is dropped, so
// "GET /{$}" reads "GET /". A pattern without a method (a catch-all) is not
// listed.
func RoutesInSource(t testing.TB, path, fn string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("reading the routes: %v", err)
	}
	var routes []string
	found := false
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn || fd.Body == nil {
			continue
		}
		found = true
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && muxPattern.MatchString(s) {
				routes = append(routes, strings.TrimSuffix(s, "{$}"))
			}
			return true
		})
	}
	if !found {
		t.Fatalf("no function %s in %s", fn, path)
	}
	if len(routes) == 0 {
		t.Fatalf("no routes found in %s of %s", fn, path)
	}
	slices.Sort(routes)
	return routes
}

// RequireDocumented fails the test for every route that is not one of the
// document's operations, except those in skip (with the reason the test
// gives for them).
func (c *Checker) RequireDocumented(routes []string, skip map[string]string) {
	c.t.Helper()
	ops := c.Operations()
	for _, r := range routes {
		if _, ok := skip[r]; ok {
			continue
		}
		if !slices.Contains(ops, r) {
			c.t.Errorf("the server registers %q but the document does not list it", r)
		}
	}
	for r := range skip {
		if !slices.Contains(routes, r) {
			c.t.Errorf("%q is skipped as undocumented but the server no longer registers it", r)
		}
	}
}
