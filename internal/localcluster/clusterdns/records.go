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
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
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

// Build computes the table for domain (cluster.local) from what Service
// names resolve to (network.ServiceHosts): the way a cluster's DNS does,
// with one difference that the local cluster needs: it has no kube-proxy,
// so a Service with a cluster IP resolves to one of its ready endpoints
// (the lowest address) instead of a virtual IP. A headless Service resolves
// to all its ready endpoints, and each of its pods that has a hostname gets
// HOSTNAME.SERVICE.NS.svc.DOMAIN. Endpoints count as ready as their
// EndpointSlice says (which includes not-ready pods of a Service that
// publishes them). A Service without ready endpoints has no name, as in a
// cluster; ExternalName Services are not served.
func Build(domain string, svcs []*corev1.Service, eps []*discoveryv1.EndpointSlice) Table {
	t := Table{}
	for _, sh := range network.ServiceHosts(svcs, eps) {
		base := strings.ToLower(sh.Name + "." + sh.Namespace + ".svc." + domain + ".")
		t[base] = addrsOf(sh.IPs)
		for ip, host := range sh.Hostnames {
			if a := addrsOf([]string{ip}); len(a) == 1 {
				t[strings.ToLower(host)+"."+base] = a
			}
		}
	}
	return t
}

// addrsOf parses the IPv4 addresses of ips, in order, skipping anything else.
func addrsOf(ips []string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ips))
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			out = append(out, a)
		}
	}
	return out
}
