// Package clusterdns is the local cluster's DNS: it answers the names a
// cluster's DNS gives Services and the pods of headless Services
// (NAME.NS.svc.cluster.local, HOSTNAME.NAME.NS.svc.cluster.local), from the
// API server's Services and EndpointSlices, so a replaced pod's new address
// is what the next lookup gets. Every pod's resolv.conf names it.
//
// The table is a pure function of the objects (Build); the server (Server)
// keeps it current from informers and answers A queries over UDP and TCP.
package clusterdns

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Table maps a fully qualified, lower-case name with its trailing dot to the
// IPv4 addresses it resolves to, in order.
type Table map[string][]netip.Addr

// Lookup returns the addresses of name (any case, with or without the
// trailing dot) and whether the name exists.
func (t Table) Lookup(name string) ([]netip.Addr, bool) {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	a, ok := t[name]
	return a, ok
}

// serviceKey names a Service.
type serviceKey struct{ ns, name string }

// endpoints is what a Service's EndpointSlices say: its ready addresses and,
// for pods with a hostname in the Service (StatefulSet pods), that name.
type endpoints struct {
	addrs     []netip.Addr
	hostnames map[string]netip.Addr
}

// Build computes the table for domain (cluster.local) the way a cluster's
// DNS does, with one difference that the local cluster needs: it has no
// kube-proxy, so a Service with a cluster IP resolves to one of its ready
// endpoints (the lowest address) instead of a virtual IP. A headless
// Service resolves to all its ready endpoints, and each of its pods that
// has a hostname gets HOSTNAME.SERVICE.NS.svc.DOMAIN. Endpoints count as
// ready as their EndpointSlice says (which includes not-ready pods of a
// Service that publishes them). A Service without ready endpoints has no
// name, as in a cluster; ExternalName Services are not served.
func Build(domain string, svcs []*corev1.Service, eps []*discoveryv1.EndpointSlice) Table {
	byService := collect(eps)
	t := Table{}
	for _, s := range svcs {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		e := byService[serviceKey{s.Namespace, s.Name}]
		if e == nil || len(e.addrs) == 0 {
			continue
		}
		base := strings.ToLower(s.Name + "." + s.Namespace + ".svc." + domain + ".")
		addrs := e.addrs
		if s.Spec.ClusterIP != corev1.ClusterIPNone {
			addrs = addrs[:1]
			t[base] = addrs
			continue
		}
		t[base] = addrs
		for host, a := range e.hostnames {
			t[strings.ToLower(host)+"."+base] = []netip.Addr{a}
		}
	}
	return t
}

// collect groups the ready IPv4 endpoints by Service, sorted and without
// duplicates.
func collect(eps []*discoveryv1.EndpointSlice) map[serviceKey]*endpoints {
	out := map[serviceKey]*endpoints{}
	for _, es := range eps {
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" || es.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		k := serviceKey{es.Namespace, svc}
		e := out[k]
		if e == nil {
			e = &endpoints{hostnames: map[string]netip.Addr{}}
			out[k] = e
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, s := range ep.Addresses {
				a, err := netip.ParseAddr(s)
				if err != nil || !a.Is4() {
					continue
				}
				e.addrs = append(e.addrs, a)
				if ep.Hostname != nil && *ep.Hostname != "" {
					e.hostnames[*ep.Hostname] = a
				}
			}
		}
	}
	for _, e := range out {
		slices.SortFunc(e.addrs, func(a, b netip.Addr) int { return a.Compare(b) })
		e.addrs = slices.Compact(e.addrs)
	}
	return out
}
