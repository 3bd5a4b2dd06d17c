package clusterdns

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// freeAddr is a loopback address with a port no one listens on (UDP and TCP).
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if p, err := net.ListenPacket("udp", addr); err == nil {
			p.Close()
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

// resolver is Go's own resolver (the one the pods' binaries use) asking
// only the server at addr, over the network it is asked to use.
func resolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func TestServerAnswersFromTheAPIAndFollowsAMovedPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs := fake.NewClientset(
		service("ns", "show-shard", corev1.ClusterIPNone),
		slice("ns", "show-shard", ep{ip: "10.0.0.3", host: "show-shard-0"}, ep{ip: "10.0.0.5", host: "show-shard-1"}),
	)
	s := &Server{Addr: freeAddr(t), Domain: "cluster.local", Client: cs}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := resolver(s.Addr)
	got, err := r.LookupHost(ctx, "show-shard-1.show-shard.ns.svc.cluster.local")
	if err != nil || !slices.Equal(got, []string{"10.0.0.5"}) {
		t.Fatalf("pod name: %v %v", got, err)
	}
	_, err = r.LookupHost(ctx, "show-shard-7.show-shard.ns.svc.cluster.local")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("unknown name: %v, want not found", err)
	}

	// The member is replaced on another node: a new address in the slice.
	moved := slice("ns", "show-shard", ep{ip: "10.0.0.3", host: "show-shard-0"}, ep{ip: "10.0.0.77", host: "show-shard-1"})
	if _, err := cs.DiscoveryV1().EndpointSlices("ns").Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err = r.LookupHost(ctx, "show-shard-1.show-shard.ns.svc.cluster.local")
		if err == nil && slices.Equal(got, []string{"10.0.0.77"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the move: %v %v, want 10.0.0.77", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// TCP answers too (a client retries over TCP when UDP is truncated).
	rt := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", s.Addr)
	}}
	if got, err := rt.LookupHost(ctx, "show-shard.ns.svc.cluster.local"); err != nil || !slices.Equal(got, []string{"10.0.0.3", "10.0.0.77"}) {
		t.Errorf("service name over TCP: %v %v", got, err)
	}

	cancel()
	time.Sleep(100 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Error("still listening after the context ended")
	}
}
