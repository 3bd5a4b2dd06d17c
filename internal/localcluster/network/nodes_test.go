package network

import (
	"net/netip"
	"testing"
)

func TestPlanNodes(t *testing.T) {
	nodes, err := PlanNodes(netip.MustParsePrefix("10.244.7.0/24"), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeSpec{
		{"node-1", "zone-1", netip.MustParsePrefix("10.244.7.64/26")},
		{"node-2", "zone-2", netip.MustParsePrefix("10.244.7.128/26")},
		{"node-3", "zone-3", netip.MustParsePrefix("10.244.7.192/26")},
	}
	if len(nodes) != len(want) {
		t.Fatalf("got %d nodes", len(nodes))
	}
	for i := range want {
		if nodes[i] != want[i] {
			t.Errorf("node %d = %+v; want %+v", i, nodes[i], want[i])
		}
		if nodes[i].Pool.Contains(netip.MustParseAddr("10.244.7.1")) {
			t.Errorf("%s's pool holds the host address", nodes[i].Name)
		}
	}
	if got := OthersOf(nodes, "node-2"); len(got) != 2 || got[0] != want[0].Pool || got[1] != want[2].Pool {
		t.Errorf("OthersOf(node-2) = %v", got)
	}

	one, err := PlanNodes(netip.MustParsePrefix("10.244.0.0/24"), 1)
	if err != nil || one[0].Pool != netip.MustParsePrefix("10.244.0.128/25") {
		t.Errorf("one node: %+v, %v", one, err)
	}
	four, err := PlanNodes(netip.MustParsePrefix("10.244.0.0/16"), 4)
	if err != nil || four[3].Pool != netip.MustParsePrefix("10.244.128.0/19") {
		t.Errorf("four nodes: %+v, %v", four, err)
	}
	if _, err := PlanNodes(netip.MustParsePrefix("10.244.0.0/28"), 3); err == nil {
		t.Error("a /28 for 3 nodes: want an error")
	}
	if _, err := PlanNodes(netip.MustParsePrefix("10.244.0.0/24"), 0); err == nil {
		t.Error("0 nodes: want an error")
	}
}
