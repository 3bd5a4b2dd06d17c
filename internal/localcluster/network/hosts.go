package network

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// SvcHosts is what one Service contributes to pods' hosts files: the
// addresses its name should resolve to, and per-address host names (headless
// Services with pods that have a hostname, such as StatefulSet pods).
type SvcHosts struct {
	Namespace string
	Name      string
	// IPs the Service name resolves to, in order.
	IPs []string
	// Hostnames maps a pod IP to the pod's hostname inside the Service
	// (HOSTNAME.NAME.NAMESPACE.svc).
	Hostnames map[string]string
}

// ClusterDomain is the suffix every Service name also answers to.
const ClusterDomain = "cluster.local"

// RenderHosts builds the /etc/hosts of one pod. Names of Services in the pod's
// own namespace also resolve by their short name, as with a cluster's DNS
// search path. The output is deterministic for a given input.
func RenderHosts(podIP, hostname, podNamespace string, svcs []SvcHosts) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by the local cluster's node agent; kept current as Services change.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if podIP != "" && hostname != "" {
		fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
	}
	sorted := append([]SvcHosts(nil), svcs...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	for _, s := range sorted {
		base := s.Name + "." + s.Namespace
		names := []string{base + ".svc", base + ".svc." + ClusterDomain, base}
		if s.Namespace == podNamespace {
			names = append(names, s.Name)
		}
		for _, ip := range s.IPs {
			fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(names, " "))
		}
		ips := make([]string, 0, len(s.Hostnames))
		for ip := range s.Hostnames {
			ips = append(ips, ip)
		}
		sort.Strings(ips)
		for _, ip := range ips {
			h := s.Hostnames[ip] + "." + base
			line := []string{h + ".svc", h + ".svc." + ClusterDomain}
			if s.Namespace == podNamespace {
				line = append(line, s.Hostnames[ip]+"."+s.Name)
			}
			fmt.Fprintf(&b, "%s\t%s\n", ip, strings.Join(line, " "))
		}
	}
	return b.Bytes()
}
