package network

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, clusterIP string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Type: typ}}
}

type ep struct {
	addr, hostname string
	ready          *bool
}

func slice(ns, svcName string, family discoveryv1.AddressType, eps ...ep) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svcName + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: family,
	}
	for _, e := range eps {
		var h *string
		if e.hostname != "" {
			h = &e.hostname
		}
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.addr}, Hostname: h, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}})
	}
	return es
}

func TestServiceHosts(t *testing.T) {
	no := false
	v4 := discoveryv1.AddressTypeIPv4
	got := ServiceHosts(
		[]*corev1.Service{
			svc("shows", "web", "10.96.0.7", corev1.ServiceTypeClusterIP),
			svc("shows", "db", corev1.ClusterIPNone, corev1.ServiceTypeClusterIP),
			svc("shows", "idle", "10.96.0.8", corev1.ServiceTypeClusterIP),
			svc("shows", "ext", "", corev1.ServiceTypeExternalName),
			svc("shows", "v6", "10.96.0.9", corev1.ServiceTypeClusterIP),
		},
		[]*discoveryv1.EndpointSlice{
			// Two slices of one Service, one address in both, one not ready.
			slice("shows", "web", v4, ep{addr: "10.244.0.9"}, ep{addr: "10.244.0.3"}),
			slice("shows", "web", v4, ep{addr: "10.244.0.3"}, ep{addr: "10.244.0.2", ready: &no}),
			slice("shows", "db", v4, ep{addr: "10.244.0.5", hostname: "db-1"}, ep{addr: "10.244.0.4", hostname: "db-0"}, ep{addr: "10.244.0.6"}),
			slice("shows", "idle", v4, ep{addr: "10.244.0.7", ready: &no}),
			slice("shows", "ext", v4, ep{addr: "10.244.0.8"}),
			slice("shows", "v6", discoveryv1.AddressTypeIPv6, ep{addr: "fd00::1"}),
		})
	want := []SvcHosts{
		// A cluster IP would not route: one ready endpoint, the lowest.
		{Namespace: "shows", Name: "web", IPs: []string{"10.244.0.3"}},
		// Headless: every ready endpoint, and per-pod names where they have one.
		{Namespace: "shows", Name: "db", IPs: []string{"10.244.0.4", "10.244.0.5", "10.244.0.6"},
			Hostnames: map[string]string{"10.244.0.4": "db-0", "10.244.0.5": "db-1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ServiceHosts =\n%+v\nwant\n%+v", got, want)
	}
}

func TestServiceHostsWithoutSlices(t *testing.T) {
	if got := ServiceHosts([]*corev1.Service{svc("a", "b", "10.96.0.1", corev1.ServiceTypeClusterIP)}, nil); len(got) != 0 {
		t.Errorf("a Service with no endpoints resolves: %+v", got)
	}
}

func TestReadyAddresses(t *testing.T) {
	no, yes := false, true
	v4 := discoveryv1.AddressTypeIPv4
	got := ReadyAddresses([]discoveryv1.EndpointSlice{
		*slice("shows", "web", v4, ep{addr: "10.244.0.9"}, ep{addr: "10.244.0.2", ready: &no}),
		*slice("shows", "web", v4, ep{addr: "10.244.0.3", ready: &yes}),
	})
	if want := []string{"10.244.0.3", "10.244.0.9"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadyAddresses = %v, want %v (ready or unsaid, sorted)", got, want)
	}
	if got := ReadyAddresses(nil); got != nil {
		t.Fatalf("ReadyAddresses(nil) = %v, want nil", got)
	}
}
