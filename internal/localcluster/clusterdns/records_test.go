package clusterdns

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func service(ns, name, clusterIP string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: clusterIP}}
}

type ep struct {
	ip, host string
	ready    *bool
}

func slice(ns, svc string, eps ...ep) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, e := range eps {
		d := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.host != "" {
			d.Hostname = &e.host
		}
		es.Endpoints = append(es.Endpoints, d)
	}
	return es
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestBuildHeadlessServiceNamesEveryPod(t *testing.T) {
	no := false
	tab := Build("cluster.local",
		[]*corev1.Service{service("ns", "show-shard", corev1.ClusterIPNone)},
		[]*discoveryv1.EndpointSlice{slice("ns", "show-shard",
			ep{ip: "10.0.0.9", host: "show-shard-2"},
			ep{ip: "10.0.0.3", host: "show-shard-0"},
			ep{ip: "10.0.0.5", host: "show-shard-1", ready: &no})},
	)
	got, ok := tab.Lookup("show-shard.ns.svc.cluster.local")
	if !ok || !slices.Equal(got, addrs("10.0.0.3", "10.0.0.9")) {
		t.Errorf("service name: %v %v, want the ready endpoints in order", got, ok)
	}
	got, ok = tab.Lookup("Show-Shard-2.show-shard.ns.svc.cluster.local.")
	if !ok || !slices.Equal(got, addrs("10.0.0.9")) {
		t.Errorf("pod name (any case, trailing dot): %v %v", got, ok)
	}
	if _, ok := tab.Lookup("show-shard-1.show-shard.ns.svc.cluster.local"); ok {
		t.Error("a not-ready endpoint has no name (a Service that publishes not-ready pods gets them as ready from the EndpointSlice controller)")
	}
	if _, ok := tab.Lookup("show-shard-0.show-shard.other.svc.cluster.local"); ok {
		t.Error("another namespace's name resolved")
	}
}

func TestBuildClusterIPServiceResolvesToOneEndpoint(t *testing.T) {
	tab := Build("cluster.local",
		[]*corev1.Service{service("ns", "fe", "10.96.0.10"), service("ns", "empty", "10.96.0.11"),
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}},
		[]*discoveryv1.EndpointSlice{
			slice("ns", "fe", ep{ip: "10.0.0.7", host: "a"}, ep{ip: "10.0.0.4"}),
			slice("ns", "fe", ep{ip: "10.0.0.4"}),
			slice("ns", "ext", ep{ip: "10.0.0.8"}),
		},
	)
	got, ok := tab.Lookup("fe.ns.svc.cluster.local")
	if !ok || !slices.Equal(got, addrs("10.0.0.4")) {
		t.Errorf("cluster-IP service: %v %v, want its lowest ready endpoint (no kube-proxy)", got, ok)
	}
	if _, ok := tab.Lookup("a.fe.ns.svc.cluster.local"); ok {
		t.Error("a cluster-IP Service's pods got hostnames")
	}
	for _, n := range []string{"empty.ns.svc.cluster.local", "ext.ns.svc.cluster.local"} {
		if _, ok := tab.Lookup(n); ok {
			t.Errorf("%s resolved: a Service without endpoints and an ExternalName Service have no records", n)
		}
	}
}
