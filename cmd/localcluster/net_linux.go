package main

import (
	"errors"
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
	// pool is the part of prefix this node's pods take addresses from.
	pool netip.Prefix
	// blackholes are other nodes' pools, unreachable from this node's pods
	// while the node is cut.
	blackholes []netip.Prefix
}

func newPodNetwork(bridge, cidr string) (*podNetwork, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 || p.Bits() < 16 {
		return nil, fmt.Errorf("--pod-cidr %q: want an IPv4 range between /16 and /28", cidr)
	}
	p = p.Masked()
	return &podNetwork{bridge: bridge, prefix: p, pool: p, hostIP: p.Addr().Next(), used: map[netip.Addr]string{}}, nil
}

// forNode is the bridge seen by one node: the same range and host address,
// addresses handed out from pool only.
func (n *podNetwork) forNode(pool netip.Prefix) *podNetwork {
	return &podNetwork{bridge: n.bridge, prefix: n.prefix, pool: pool, hostIP: n.hostIP, used: map[netip.Addr]string{}}
}

// setBlackholes sets the ranges new pods cannot reach (nil: none).
func (n *podNetwork) setBlackholes(p []netip.Prefix) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blackholes = p
}

func (n *podNetwork) currentBlackholes() []netip.Prefix {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.blackholes
}

// blackhole adds (or with del, removes) routes in a pod's namespace that
// drop its traffic to the given ranges.
func blackhole(netns string, ranges []netip.Prefix, del bool) error {
	verb := "add"
	if del {
		verb = "del"
	}
	var errs []error
	for _, p := range ranges {
		if err := run("ip", "-n", netns, "route", verb, "blackhole", p.String()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
	first := n.pool.Addr()
	size := 1 << (32 - n.pool.Bits())
	a := n.last
	if !a.IsValid() {
		a = first
	}
	for i := 0; i < size; i++ {
		a = a.Next()
		if !n.pool.Contains(a) || !n.pool.Contains(a.Next()) { // past the end, or the pool's last address
			a = first.Next()
		}
		if _, taken := n.used[a]; !taken && a != n.hostIP {
			n.used[a] = owner
			n.last = a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod range %s is full", n.pool)
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
	if err := blackhole(ns, n.currentBlackholes(), false); err != nil {
		n.teardownPod(ns, veth)
		return err
	}
	return nil
}

func (n *podNetwork) teardownPod(ns, veth string) {
	_ = run("ip", "link", "delete", veth)
	_ = run("ip", "netns", "delete", ns)
}
