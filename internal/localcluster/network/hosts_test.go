package network

import (
	"strings"
	"testing"
)

func TestRenderHostsHasOnlyThePodsOwnNames(t *testing.T) {
	got := string(RenderHosts("10.244.0.5", "web-1.web.venues.svc.cluster.local web-1"))
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
	got := ResolvConf("venues", "10.244.0.1")
	for _, want := range []string{"search venues.svc.cluster.local svc.cluster.local cluster.local\n", "nameserver 10.244.0.1\n", "ndots:5"} {
		if !strings.Contains(got, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, got)
		}
	}
}
