package main

import (
	"strings"
	"testing"
)

func TestRenderHostsHasOnlyThePodsOwnNames(t *testing.T) {
	got := string(renderHosts("10.244.0.5", "web-1.web.venues.svc.cluster.local web-1"))
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.244.0.5\tweb-1.web.venues.svc.cluster.local web-1\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 4 {
		t.Errorf("hosts file has %d lines, want 4 (comment, two localhost, the pod):\n%s", n, got)
	}
}

func TestResolvConfNamesTheClusterDNSAndTheSearchPath(t *testing.T) {
	got := resolvConf("venues", "10.244.0.1")
	for _, want := range []string{"search venues.svc.cluster.local svc.cluster.local cluster.local\n", "nameserver 10.244.0.1\n", "ndots:5"} {
		if !strings.Contains(got, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, got)
		}
	}
}

func TestExpandVars(t *testing.T) {
	env := map[string]string{"A": "1", "POD": "p-0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":       "plain",
		"--x=$(A)":    "--x=1",
		"$(POD).$(A)": "p-0.1",
		"$$(A)":       "$(A)",
		"$(MISSING)":  "$(MISSING)",
		"$(unclosed":  "$(unclosed",
		"cost $5":     "cost $5",
		"trailing $":  "trailing $",
	} {
		if got := expandVars(in, lookup); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}
