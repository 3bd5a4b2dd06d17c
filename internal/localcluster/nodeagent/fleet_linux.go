package nodeagent

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"boxoffice.dev/boxoffice/internal/localcluster/fault"
	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/podruntime"
)

// Fleet is the cluster's nodes, one agent each, and what fault injection
// does to them. It implements fault.Fleet for the control socket.
type Fleet struct {
	root  context.Context
	nodes []*fleetNode
	cfg   Config
	logf  func(string, ...any)
}

type fleetNode struct {
	spec network.NodeSpec
	net  *network.PodNetwork
	// others is every other node's pool: what a cut blackholes.
	others []netip.Prefix

	mu     sync.Mutex
	state  fault.State
	ag     *agent
	cancel context.CancelFunc
}

// NewFleet is the nodes of specs on the bridge pn, each with an agent made
// from cfg once Start boots it; cancelling root stops them all.
func NewFleet(root context.Context, specs []network.NodeSpec, pn *network.PodNetwork, cfg Config) *Fleet {
	f := &Fleet{root: root, cfg: cfg, logf: cfg.Logf}
	for _, s := range specs {
		f.nodes = append(f.nodes, &fleetNode{spec: s, net: pn.ForNode(s.Pool), others: network.OthersOf(specs, s.Name), state: fault.Running})
	}
	return f
}

// Start boots every node.
func (f *Fleet) Start() error {
	for _, n := range f.nodes {
		if err := f.boot(n); err != nil {
			return fmt.Errorf("node %s: %w", n.spec.Name, err)
		}
	}
	return nil
}

// boot starts a fresh agent for n: at start, and when a killed node is healed.
func (f *Fleet) boot(n *fleetNode) error {
	ctx, cancel := context.WithCancel(f.root)
	ag := newAgent(ctx, n.spec, n.net, f.cfg)
	if err := ag.start(); err != nil {
		cancel()
		return err
	}
	n.ag, n.cancel = ag, cancel
	return nil
}

// Wait waits (bounded) for every node's pods to stop once root is cancelled.
func (f *Fleet) Wait(timeout time.Duration) {
	for _, n := range f.nodes {
		n.mu.Lock()
		ag := n.ag
		n.mu.Unlock()
		if ag != nil && ag.runners != nil {
			ag.wait(timeout)
		}
	}
}

func (f *Fleet) node(name string) *fleetNode {
	for _, n := range f.nodes {
		if n.spec.Name == name {
			return n
		}
	}
	return nil
}

// Nodes implements fault.Fleet.
func (f *Fleet) Nodes() []fault.NodeStatus {
	out := make([]fault.NodeStatus, 0, len(f.nodes))
	for _, n := range f.nodes {
		n.mu.Lock()
		out = append(out, n.status())
		n.mu.Unlock()
	}
	return out
}

func (n *fleetNode) status() fault.NodeStatus {
	return fault.NodeStatus{Name: n.spec.Name, Zone: n.spec.Zone, State: n.state, PodCIDR: n.spec.Pool.String()}
}

// Apply implements fault.Fleet.
func (f *Fleet) Apply(name string, a fault.Action) (fault.NodeStatus, error) {
	n := f.node(name)
	if n == nil {
		return fault.NodeStatus{}, fmt.Errorf("%w %q", fault.ErrUnknownNode, name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	next, err := fault.Next(n.state, a)
	if err != nil {
		return n.status(), err
	}
	switch a {
	case fault.Kill:
		f.kill(n)
	case fault.Pause:
		n.ag.mute.Store(true)
		n.ag.frozen.Store(true)
		n.ag.signalPods(syscall.SIGSTOP)
	case fault.Cut:
		n.ag.mute.Store(true)
		n.net.SetBlackholes(n.others)
		for _, r := range n.ag.runnerList() {
			if err := network.Blackhole(r.Netns(), n.others, false); err != nil {
				f.logf("node %s: cutting pod %s: %v", n.spec.Name, r.Key(), err)
			}
		}
	case fault.Heal:
		if err := f.heal(n); err != nil {
			return n.status(), err
		}
	}
	f.logf("node %s: %s (was %s)", n.spec.Name, next, n.state)
	n.state = next
	return n.status(), nil
}

// kill is a power loss: every pod process gets SIGKILL, then the agent stops
// without a word to the API server (no status, no heartbeats), and its pods'
// namespaces go as a reboot would clear them.
func (f *Fleet) kill(n *fleetNode) {
	ag := n.ag
	ag.mute.Store(true)
	ag.frozen.Store(true)
	ag.signalPods(syscall.SIGKILL)
	n.cancel()
	ag.wait(20 * time.Second)
	n.net.SetBlackholes(nil)
}

// heal undoes what the node's state says was done to it.
func (f *Fleet) heal(n *fleetNode) error {
	switch n.state {
	case fault.Killed:
		return f.boot(n)
	case fault.Paused:
		n.ag.signalPods(syscall.SIGCONT)
		n.ag.frozen.Store(false)
		n.ag.resync()
	case fault.Partitioned:
		n.net.SetBlackholes(nil)
		for _, r := range n.ag.runnerList() {
			_ = network.Blackhole(r.Netns(), n.others, true)
		}
	}
	n.ag.repost.Store(true)
	n.ag.mute.Store(false)
	return nil
}

func (a *agent) runnerList() []*podruntime.Runner {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*podruntime.Runner, 0, len(a.runners))
	for _, r := range a.runners {
		out = append(out, r)
	}
	return out
}

// signalPods sends sig to every process of every pod on the node.
func (a *agent) signalPods(sig syscall.Signal) {
	for _, r := range a.runnerList() {
		r.Signal(sig)
	}
}

// resync catches up with what changed while the node was paused: pods bound,
// changed or deleted, and status not written.
func (a *agent) resync() {
	seen := map[types.UID]bool{}
	for _, o := range a.podInf.GetStore().List() {
		p := o.(*corev1.Pod)
		if p.Spec.NodeName == a.node {
			seen[p.UID] = true
			a.onPod(p)
		}
	}
	for _, r := range a.runnerList() {
		if !seen[r.UID()] {
			r.Update(nil)
		}
		r.Changed()
	}
}
