package network

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// PodNetwork is the bridge and the pod address range on it. The host owns the
// range's first address on the bridge, so it reaches every pod directly.
type PodNetwork struct {
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

func NewPodNetwork(bridge, cidr string) (*PodNetwork, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 || p.Bits() < 16 {
		return nil, fmt.Errorf("--pod-cidr %q: want an IPv4 range between /16 and /28", cidr)
	}
	p = p.Masked()
	return &PodNetwork{bridge: bridge, prefix: p, pool: p, hostIP: p.Addr().Next(), used: map[netip.Addr]string{}}, nil
}

// ForNode is the bridge seen by one node: the same range and host address,
// addresses handed out from pool only.
func (n *PodNetwork) ForNode(pool netip.Prefix) *PodNetwork {
	return &PodNetwork{bridge: n.bridge, prefix: n.prefix, pool: pool, hostIP: n.hostIP, used: map[netip.Addr]string{}}
}

// SetBlackholes sets the ranges new pods cannot reach (nil: none).
func (n *PodNetwork) SetBlackholes(p []netip.Prefix) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blackholes = p
}

func (n *PodNetwork) CurrentBlackholes() []netip.Prefix {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.blackholes
}

// Prefix is the whole pod range; HostIP the host's address on the bridge;
// Pool the part of the range this network hands out; Bridge the bridge's name.
func (n *PodNetwork) Prefix() netip.Prefix { return n.prefix }
func (n *PodNetwork) HostIP() netip.Addr   { return n.hostIP }
func (n *PodNetwork) Pool() netip.Prefix   { return n.pool }
func (n *PodNetwork) Bridge() string       { return n.bridge }

// Blackhole adds (or with del, removes) routes in a pod's namespace that
// drop its traffic to the given ranges.
func Blackhole(netns string, ranges []netip.Prefix, del bool) error {
	verb := "add"
	if del {
		verb = "del"
	}
	var errs []error
	for _, p := range ranges {
		if err := IP(blackholeArgs(netns, verb, p)...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// blackholeArgs are the ip arguments that add or delete (verb) a route in
// netns that drops traffic to p.
func blackholeArgs(netns, verb string, p netip.Prefix) []string {
	return []string{"-n", netns, "route", verb, "blackhole", p.String()}
}

func (n *PodNetwork) Up() error {
	if err := IP("link", "add", n.bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := IP("addr", "add", fmt.Sprintf("%s/%d", n.hostIP, n.prefix.Bits()), "dev", n.bridge); err != nil {
		return err
	}
	return IP("link", "set", n.bridge, "up")
}

func (n *PodNetwork) Down() {
	_ = IP("link", "delete", n.bridge)
}

func (n *PodNetwork) Allocate(owner string) (netip.Addr, error) {
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

func (n *PodNetwork) Release(a netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.used, a)
}

// SetupPod makes a network namespace with a veth pair: eth0 inside with ip,
// the host end on the bridge, and a default route through the host.
func (n *PodNetwork) SetupPod(ns, veth string, ip netip.Addr) error {
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
		if err := IP(s...); err != nil {
			n.TeardownPod(ns, veth)
			return err
		}
	}
	if err := Blackhole(ns, n.CurrentBlackholes(), false); err != nil {
		n.TeardownPod(ns, veth)
		return err
	}
	return nil
}

func (n *PodNetwork) TeardownPod(ns, veth string) {
	_ = IP("link", "delete", veth)
	_ = IP("netns", "delete", ns)
}
