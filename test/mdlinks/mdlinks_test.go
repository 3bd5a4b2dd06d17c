package mdlinks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Known limits":                            "known-limits",
		"Quick start (local cluster)":             "quick-start-local-cluster",
		"`kubectl boxoffice status`":              "kubectl-boxoffice-status",
		"Freeze windows & break-glass":            "freeze-windows--break-glass",
		"Helm: `--kube-version`":                  "helm---kube-version",
		"ShardRollout: canary, promote, rollback": "shardrollout-canary-promote-rollback",
		"Contract v2 (3.1)":                       "contract-v2-31",
		"snake_case stays":                        "snake_case-stays",
		"Ünïcode Señor":                           "ünïcode-señor",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnchors(t *testing.T) {
	src := "# Box office\n\n## Usage\n\n### Usage\n\n## `make build` and [links](x.md)\n\n```\n# not a heading\n```\n\n<a id=\"by-hand\"></a>\n"
	a := Anchors([]byte(src))
	for _, want := range []string{"box-office", "usage", "usage-1", "make-build-and-links", "by-hand"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Errorf("a comment in a code block made an anchor: %v", a)
	}
}

func TestCheck(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/guide.md", "# Guide\n\n## Known limits\n")
	write("hack/run.sh", "#!/bin/sh\n")
	write("README.md", strings.Join([]string{
		"# Top",
		"[ok](docs/guide.md) [ok anchor](docs/guide.md#known-limits) [dir](hack/) [file](hack/run.sh#L1)",
		"[here](#top) [web](https://example.com/x.md#nope) [mail](mailto:a@b.c)",
		"[missing file](docs/nope.md)",
		"[missing anchor](docs/guide.md#known-limitations)",
		"[missing here](#bottom)",
		"`[in code](docs/nope.md)`",
		"[up](../outside.md)",
		"![image](img/none.png)",
		"",
		"[ref]: docs/ref-missing.md",
		"See [the ref][ref].",
	}, "\n"))
	problems, err := Check(root, []string{"README.md"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		"README.md:4: docs/nope.md: no such file or directory: docs/nope.md",
		"README.md:5: docs/guide.md#known-limitations: no heading with anchor #known-limitations in docs/guide.md",
		"README.md:6: #bottom: no heading with anchor #bottom in README.md",
		"README.md:8: ../outside.md: points outside the repository",
		"README.md:9: img/none.png: no such file or directory: img/none.png",
		"README.md:12: docs/ref-missing.md: no such file or directory: docs/ref-missing.md",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRepositoryLinks checks every Markdown file git tracks in this
// repository.
func TestRepositoryLinks(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--", "*.md").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatal("git lists no Markdown files")
	}
	problems, err := Check(root, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
