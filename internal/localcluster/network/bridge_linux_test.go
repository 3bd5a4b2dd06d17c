//go:build linux

package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAllocateGoesRound(t *testing.T) {
	n, err := NewPodNetwork("test0", "10.9.0.0/28") // .1 is the bridge, pods .2-.14, broadcast .15
	if err != nil {
		t.Fatal(err)
	}
	a, _ := n.Allocate("a")
	b, _ := n.Allocate("b")
	if a.String() != "10.9.0.2" || b.String() != "10.9.0.3" {
		t.Fatalf("got %s %s", a, b)
	}
	n.Release(a)
	c, _ := n.Allocate("c")
	if c.String() != "10.9.0.4" {
		t.Fatalf("a released address is not reused at once: got %s", c)
	}
	for _, want := range []string{"10.9.0.5", "10.9.0.6", "10.9.0.7", "10.9.0.8", "10.9.0.9", "10.9.0.10", "10.9.0.11", "10.9.0.12", "10.9.0.13", "10.9.0.14", "10.9.0.2"} {
		got, err := n.Allocate("x")
		if err != nil || got.String() != want {
			t.Fatalf("got %s %v, want %s", got, err, want)
		}
	}
	if _, err := n.Allocate("full"); err == nil {
		t.Fatal("want an error when the range is full")
	}
}

func TestNodeAllocatesFromItsPool(t *testing.T) {
	n, err := NewPodNetwork("test0", "10.9.0.0/24")
	if err != nil {
		t.Fatal(err)
	}
	node := n.ForNode(netip.MustParsePrefix("10.9.0.64/30"))
	a, err := node.Allocate("a")
	if err != nil || a.String() != "10.9.0.65" {
		t.Fatalf("got %s %v; want 10.9.0.65", a, err)
	}
	b, err := node.Allocate("b")
	if err != nil || b.String() != "10.9.0.66" {
		t.Fatalf("got %s %v; want 10.9.0.66", b, err)
	}
	if _, err := node.Allocate("c"); err == nil {
		t.Fatal("a /30 pool holds two pods; want an error for the third")
	}
	if node.hostIP != n.hostIP || node.prefix != n.prefix {
		t.Errorf("a node keeps the bridge's host address and range: %s %s", node.hostIP, node.prefix)
	}
}

// The route type is the keyword ip knows ("blackhole"): with another
// spelling ip refuses the route and a cut node stays connected.
func TestBlackholeArgsNameTheRouteType(t *testing.T) {
	got := strings.Join(blackholeArgs("ns-1", "add", netip.MustParsePrefix("10.244.0.64/26")), " ")
	if want := "-n ns-1 route add blackhole 10.244.0.64/26"; got != want {
		t.Errorf("ip %s, want ip %s", got, want)
	}
}
