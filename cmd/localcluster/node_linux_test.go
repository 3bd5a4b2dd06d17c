//go:build linux

package main

import (
	"flag"
	"strings"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	for _, args := range [][]string{
		{"--state-dir=/s", "kill", "node-2"},
		{"kill", "--state-dir", "/s", "node-2"},
		{"kill", "node-2", "--state-dir=/s"},
	} {
		fs := flag.NewFlagSet("node", flag.ContinueOnError)
		dir := fs.String("state-dir", "/default", "")
		pos, err := parseInterleaved(fs, args)
		if err != nil || strings.Join(pos, " ") != "kill node-2" || *dir != "/s" {
			t.Errorf("%q: positional %q, state dir %s, %v", args, pos, *dir, err)
		}
	}
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	if _, err := parseInterleaved(fs, []string{"kill", "--bogus"}); err == nil {
		t.Error("an unknown flag: want an error")
	}
}
