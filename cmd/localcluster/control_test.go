//go:build linux

package main

import (
	"flag"
	"net/netip"
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

func TestFaultHelpNamesEveryCommand(t *testing.T) {
	specs, err := planNodes(netip.MustParsePrefix("10.244.0.0/24"), 3)
	if err != nil {
		t.Fatal(err)
	}
	h := faultHelp("/repo/bin/localcluster", "/var/tmp/other", specs)
	for _, want := range []string{
		"node-1 (zone-1), node-2 (zone-2), node-3 (zone-3)",
		"/repo/bin/localcluster node kill node-3 --state-dir=/var/tmp/other",
		"node pause node-3 --state-dir", "node cut node-3 --state-dir", "node heal node-3 --state-dir",
		"/repo/bin/localcluster nodes --state-dir=/var/tmp/other", "12s",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("help lacks %q:\n%s", want, h)
		}
	}
	if h := faultHelp("lc", defaultStateDir, specs); strings.Contains(h, "--state-dir") {
		t.Errorf("the default state dir needs no flag:\n%s", h)
	}
}
