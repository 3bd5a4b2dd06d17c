package network

import (
	"strings"
	"testing"
)

func TestPodLinkNames(t *testing.T) {
	netns, veth := PodLinkNames("bxlc0", "0f9a1c2e-7d3b-4e5f-9a8b-1c2d3e4f5a6b")
	if netns != "bxlc0-0f9a1c2e" || veth != "bxv0f9a1c2e" {
		t.Errorf("got %q %q", netns, veth)
	}
	// Linux interface names hold at most 15 bytes.
	if len(veth) > 15 {
		t.Errorf("veth name %q is too long for an interface", veth)
	}
	// The stale clean-up finds a bridge's namespaces by this prefix only.
	if !strings.HasPrefix(netns, NetnsPrefix("bxlc0")) || strings.HasPrefix(netns, NetnsPrefix("bxlc1")) {
		t.Errorf("namespace %q is not under its own bridge's prefix only", netns)
	}
	if netns, veth := PodLinkNames("b", "abc"); netns != "b-abc" || veth != "bxvabc" {
		t.Errorf("short UID: got %q %q", netns, veth)
	}
}
