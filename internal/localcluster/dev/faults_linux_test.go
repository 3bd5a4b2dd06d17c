package dev

import (
	"net/netip"
	"strings"
	"testing"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
)

func TestFaultHelpNamesEveryCommand(t *testing.T) {
	specs, err := network.PlanNodes(netip.MustParsePrefix("10.244.0.0/24"), 3)
	if err != nil {
		t.Fatal(err)
	}
	h := FaultHelp("/repo/bin/localcluster", "/var/tmp/other", specs)
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
	if h := FaultHelp("lc", DefaultStateDir, specs); strings.Contains(h, "--state-dir") {
		t.Errorf("the default state dir needs no flag:\n%s", h)
	}
}
