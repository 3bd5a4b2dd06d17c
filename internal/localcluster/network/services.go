package network

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// ServiceHosts is what Service names resolve to (the cluster DNS answers
// from it), from the
// Services and their EndpointSlices: each name resolves to its ready IPv4
// endpoints (one of them for a Service with a cluster IP: with no
// kube-proxy a cluster IP would not route), and a headless Service's
// endpoints with a hostname get per-pod names. Services with no ready
// endpoint and ExternalName Services are left out.
func ServiceHosts(services []*corev1.Service, slices []*discoveryv1.EndpointSlice) []SvcHosts {
	type key struct{ ns, name string }
	ready := map[key][]string{}
	hostnames := map[key]map[string]string{}
	for _, es := range slices {
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" || es.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		k := key{es.Namespace, svc}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, addr := range ep.Addresses {
				ready[k] = append(ready[k], addr)
				if ep.Hostname != nil && *ep.Hostname != "" {
					if hostnames[k] == nil {
						hostnames[k] = map[string]string{}
					}
					hostnames[k][addr] = *ep.Hostname
				}
			}
		}
	}
	var out []SvcHosts
	for _, s := range services {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		k := key{s.Namespace, s.Name}
		ips := append([]string(nil), ready[k]...)
		sort.Strings(ips)
		ips = dedupe(ips)
		headless := s.Spec.ClusterIP == corev1.ClusterIPNone
		if !headless && len(ips) > 1 {
			ips = ips[:1]
		}
		if len(ips) == 0 {
			continue
		}
		sh := SvcHosts{Namespace: s.Namespace, Name: s.Name, IPs: ips}
		if headless {
			sh.Hostnames = hostnames[k]
		}
		out = append(out, sh)
	}
	return out
}

// dedupe drops repeats from a sorted slice, in place.
func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// ReadyAddresses are the endpoint IPs in slices that are ready (or do not say),
// sorted: a Service's ready endpoints when slices are the ones labelled with
// its name.
func ReadyAddresses(slices []discoveryv1.EndpointSlice) []string {
	var ips []string
	for _, es := range slices {
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ips = append(ips, ep.Addresses...)
			}
		}
	}
	sort.Strings(ips)
	return ips
}
