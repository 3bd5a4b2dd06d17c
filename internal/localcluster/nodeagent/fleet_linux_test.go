//go:build linux

package nodeagent

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"boxoffice.dev/boxoffice/internal/localcluster/fault"
	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/state"
)

// testFleet is three nodes with agents on a fake API server (no pods, so no
// namespaces or processes are touched).
func testFleet(t *testing.T) (*Fleet, *fake.Clientset) {
	t.Helper()
	pn, err := network.NewPodNetwork("test0", "10.9.0.0/24")
	if err != nil {
		t.Fatal(err)
	}
	specs, err := network.PlanNodes(pn.Prefix(), 3)
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := NewFleet(ctx, specs, pn, Config{Client: cs, StateDir: t.TempDir(), Record: state.NewRecord(t.TempDir()+"/r.json", "test0"), Logf: t.Logf})
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	return f, cs
}

func TestFleetRegistersNodesInZones(t *testing.T) {
	f, cs := testFleet(t)
	for i, want := range []struct{ name, zone, cidr string }{
		{"node-1", "zone-1", "10.9.0.64/26"}, {"node-2", "zone-2", "10.9.0.128/26"}, {"node-3", "zone-3", "10.9.0.192/26"},
	} {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), want.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Labels[corev1.LabelHostname] != want.name || n.Labels[corev1.LabelTopologyZone] != want.zone || n.Spec.PodCIDR != want.cidr {
			t.Errorf("node %s: labels %v, pod CIDR %s", want.name, n.Labels, n.Spec.PodCIDR)
		}
		if st := f.Nodes()[i]; st.State != fault.Running || st.Zone != want.zone {
			t.Errorf("status %+v", st)
		}
	}
}

func TestFleetKillAndHealReboots(t *testing.T) {
	f, cs := testFleet(t)
	n := f.node("node-2")
	first := n.ag
	if _, err := f.Apply("node-2", fault.Kill); err != nil {
		t.Fatal(err)
	}
	if first.ctx.Err() == nil || !first.mute.Load() {
		t.Fatal("a killed node's agent keeps running")
	}
	if f.node("node-1").ag.ctx.Err() != nil {
		t.Fatal("killing node-2 stopped node-1")
	}
	if _, err := f.Apply("node-2", fault.Cut); !errors.Is(err, fault.ErrTransition) {
		t.Fatalf("cut a killed node: %v; want a refused transition", err)
	}
	st, err := f.Apply("node-2", fault.Heal)
	if err != nil || st.State != fault.Running {
		t.Fatalf("heal = %+v, %v", st, err)
	}
	if n.ag == first || n.ag.ctx.Err() != nil || n.ag.mute.Load() {
		t.Fatal("heal of a killed node does not boot a new agent")
	}
	// The Node was kept (its pods stay bound to it) and reported Ready again.
	node, err := cs.CoreV1().Nodes().Get(context.Background(), "node-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := node.Status.Conditions; len(c) == 0 || c[0].Type != corev1.NodeReady || c[0].Status != corev1.ConditionTrue {
		t.Errorf("conditions after reboot: %+v", c)
	}
}

func TestFleetPauseAndCut(t *testing.T) {
	f, _ := testFleet(t)
	n := f.node("node-3")
	if _, err := f.Apply("node-3", fault.Pause); err != nil {
		t.Fatal(err)
	}
	if !n.ag.frozen.Load() || !n.ag.mute.Load() {
		t.Error("a paused node's agent still acts or beats")
	}
	if _, err := f.Apply("node-3", fault.Heal); err != nil {
		t.Fatal(err)
	}
	if n.ag.frozen.Load() || n.ag.mute.Load() || !n.ag.repost.Load() {
		t.Error("heal of a paused node: the agent must resume and report Ready at its next beat")
	}

	if _, err := f.Apply("node-3", fault.Cut); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.9.0.64/26"), netip.MustParsePrefix("10.9.0.128/26")}
	got := n.net.CurrentBlackholes()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || !n.ag.mute.Load() || n.ag.frozen.Load() {
		t.Errorf("cut node-3: blackholes %v (want %v), mute %v, frozen %v", got, want, n.ag.mute.Load(), n.ag.frozen.Load())
	}
	if _, err := f.Apply("node-3", fault.Heal); err != nil {
		t.Fatal(err)
	}
	if len(n.net.CurrentBlackholes()) != 0 || n.ag.mute.Load() {
		t.Error("heal of a cut node leaves it cut")
	}
	if _, err := f.Apply("node-9", fault.Heal); !errors.Is(err, fault.ErrUnknownNode) {
		t.Errorf("unknown node: %v", err)
	}
}
