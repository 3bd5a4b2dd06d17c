package network

import (
	"fmt"
	"math/bits"
	"net/netip"
)

// NodeSpec is one node of the local cluster: its name, zone and its share of
// the pod range.
type NodeSpec struct {
	Name string
	Zone string
	Pool netip.Prefix
}

// PlanNodes names n nodes node-1..node-n, each in its own zone (zone-1..),
// and splits the pod range into the next power of two at or above n+1 equal
// parts: the first part keeps the host's address on the bridge, part i goes to
// node i. Every pod keeps the whole range as its on-link subnet, so pods on
// different nodes reach each other over the one bridge; the split is what
// lets a cut node's pods Blackhole the other nodes' parts.
func PlanNodes(pods netip.Prefix, n int) ([]NodeSpec, error) {
	if n < 1 {
		return nil, fmt.Errorf("--nodes %d: want at least 1", n)
	}
	pods = pods.Masked()
	extra := bits.Len(uint(n)) // 2^extra >= n+1
	partBits := pods.Bits() + extra
	if partBits > 29 {
		return nil, fmt.Errorf("--pod-cidr %s is too small for %d nodes: each node needs at least a /29", pods, n)
	}
	base := pods.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	size := uint32(1) << (32 - partBits)
	out := make([]NodeSpec, n)
	for i := range out {
		a := start + uint32(i+1)*size
		addr := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
		out[i] = NodeSpec{
			Name: fmt.Sprintf("node-%d", i+1),
			Zone: fmt.Sprintf("zone-%d", i+1),
			Pool: netip.PrefixFrom(addr, partBits),
		}
	}
	return out, nil
}

// OthersOf is every node's pool but the named node's.
func OthersOf(nodes []NodeSpec, name string) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range nodes {
		if n.Name != name {
			out = append(out, n.Pool)
		}
	}
	return out
}
