// Package mdlinks checks the relative links of Markdown files: each one names
// a file or directory that exists, and each #anchor names a heading of its
// target the way GitHub makes heading anchors. It reads files only; it never
// follows links off the repository.
package mdlinks

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Problem is one broken link.
type Problem struct {
	File string // the Markdown file, as given
	Line int
	Dest string
	Why  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Dest, p.Why) }

var md = goldmark.New(goldmark.WithExtensions(extension.GFM))

// Slug is the anchor GitHub gives a heading's text: lower case; letters,
// digits, '-' and '_' kept; each space a '-'; everything else dropped.
func Slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// htmlAnchor finds <a id="..."> and <a name="..."> anchors written by hand.
var htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)

// Anchors are the anchors of a Markdown document: one per heading, a
// repeated slug numbered -1, -2 as GitHub does, plus hand-written ones.
func Anchors(src []byte) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	doc := md.Parser().Parse(text.NewReader(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		s := Slug(plainText(h, src))
		if k := seen[s]; k > 0 {
			out[fmt.Sprintf("%s-%d", s, k)] = true
		} else {
			out[s] = true
		}
		seen[s]++
		return ast.WalkSkipChildren, nil
	})
	for _, m := range htmlAnchor.FindAllSubmatch(src, -1) {
		out[string(m[1])] = true
	}
	return out
}

// plainText is the text of an inline tree as GitHub renders it, markup
// removed (`code` gives code, [text](url) gives text).
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(src))
			if t.SoftLineBreak() || t.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		case *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// link is one link destination found in a document.
type link struct {
	dest string
	line int
}

// links are the link and image destinations of a document, code excluded.
func links(src []byte) []link {
	var out []link
	doc := md.Parser().Parse(text.NewReader(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest []byte
		switch l := n.(type) {
		case *ast.Link:
			dest = l.Destination
		case *ast.Image:
			dest = l.Destination
		default:
			return ast.WalkContinue, nil
		}
		out = append(out, link{dest: string(dest), line: lineOf(n, src)})
		return ast.WalkContinue, nil
	})
	return out
}

// lineOf is the 1-based line of the first text under n, 0 if unknown.
func lineOf(n ast.Node, src []byte) int {
	for c := n; c != nil; c = c.FirstChild() {
		if t, ok := c.(*ast.Text); ok {
			return 1 + strings.Count(string(src[:t.Segment.Start]), "\n")
		}
	}
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Type() == ast.TypeBlock && p.Lines().Len() > 0 {
			return 1 + strings.Count(string(src[:p.Lines().At(0).Start]), "\n")
		}
	}
	return 0
}

// isExternal tells a link that leaves the repository (a scheme such as
// https: or mailto:) from a relative one.
func isExternal(dest string) bool {
	u, err := url.Parse(dest)
	return err == nil && u.Scheme != ""
}

// Check checks the relative links of files (paths relative to root).
func Check(root string, files []string) ([]Problem, error) {
	var problems []Problem
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) (map[string]bool, error) {
		if a, ok := anchors[path]; ok {
			return a, nil
		}
		src, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			return nil, err
		}
		anchors[path] = Anchors(src)
		return anchors[path], nil
	}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		for _, l := range links(src) {
			if l.dest == "" || isExternal(l.dest) {
				continue
			}
			if why := checkLink(root, f, l.dest, anchorsOf); why != "" {
				problems = append(problems, Problem{File: f, Line: l.line, Dest: l.dest, Why: why})
			}
		}
	}
	return problems, nil
}

// checkLink says what is wrong with one relative link of file, or "".
func checkLink(root, file, dest string, anchorsOf func(string) (map[string]bool, error)) string {
	pathPart, anchor, _ := strings.Cut(dest, "#")
	pathPart, err := url.PathUnescape(pathPart)
	if err != nil {
		return "cannot unescape the path: " + err.Error()
	}
	target := file
	if pathPart != "" {
		if strings.HasPrefix(pathPart, "/") {
			target = filepath.Clean(strings.TrimPrefix(pathPart, "/"))
		} else {
			target = filepath.Join(filepath.Dir(file), pathPart)
		}
		if strings.HasPrefix(target, "..") {
			return "points outside the repository"
		}
		if _, err := os.Stat(filepath.Join(root, target)); err != nil {
			return "no such file or directory: " + filepath.ToSlash(target)
		}
	}
	if anchor == "" || !strings.EqualFold(filepath.Ext(target), ".md") {
		return ""
	}
	a, err := anchorsOf(target)
	if err != nil {
		return err.Error()
	}
	if !a[strings.ToLower(anchor)] {
		return fmt.Sprintf("no heading with anchor #%s in %s", anchor, filepath.ToSlash(target))
	}
	return ""
}
