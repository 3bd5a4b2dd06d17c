package main

import (
	"fmt"
	"net/netip"
	"sync"
)

// podNetwork is the bridge and the pod address range on it. The host owns the
// range's first address on the bridge, so it reaches every pod directly.
type podNetwork struct {
	mu     sync.Mutex
	bridge string
	prefix netip.Prefix
	hostIP netip.Addr
	used   map[netip.Addr]string
	// last is the address handed out most recently. Allocation goes round
	// the range instead of reusing the lowest free address: a pod that comes
	// back at once on the address of the pod it replaces would be
	// unreachable from other pods until their neighbour (ARP) entries for
	// the old interface expire, which takes tens of seconds.
	last netip.Addr
}

func newPodNetwork(bridge, cidr string) (*podNetwork, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 || p.Bits() < 16 {
		return nil, fmt.Errorf("--pod-cidr %q: want an IPv4 range between /16 and /28", cidr)
	}
	p = p.Masked()
	return &podNetwork{bridge: bridge, prefix: p, hostIP: p.Addr().Next(), used: map[netip.Addr]string{}}, nil
}

func (n *podNetwork) up() error {
	if err := run("ip", "link", "add", n.bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := run("ip", "addr", "add", fmt.Sprintf("%s/%d", n.hostIP, n.prefix.Bits()), "dev", n.bridge); err != nil {
		return err
	}
	return run("ip", "link", "set", n.bridge, "up")
}

func (n *podNetwork) down() {
	_ = run("ip", "link", "delete", n.bridge)
}

func (n *podNetwork) allocate(owner string) (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	first := n.hostIP.Next()
	size := 1 << (32 - n.prefix.Bits())
	a := n.last
	if !a.IsValid() {
		a = n.hostIP
	}
	for i := 0; i < size; i++ {
		a = a.Next()
		if !n.prefix.Contains(a) || !n.prefix.Contains(a.Next()) { // past the end, or broadcast
			a = first
		}
		if _, taken := n.used[a]; !taken {
			n.used[a] = owner
			n.last = a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod range %s is full", n.prefix)
}

func (n *podNetwork) release(a netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.used, a)
}

// setupPod makes a network namespace with a veth pair: eth0 inside with ip,
// the host end on the bridge, and a default route through the host.
func (n *podNetwork) setupPod(ns, veth string, ip netip.Addr) error {
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", n.bridge},
		{"link", "set", veth, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", ip, n.prefix.Bits()), "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", n.hostIP.String()},
	}
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			n.teardownPod(ns, veth)
			return err
		}
	}
	return nil
}

func (n *podNetwork) teardownPod(ns, veth string) {
	_ = run("ip", "link", "delete", veth)
	_ = run("ip", "netns", "delete", ns)
}
