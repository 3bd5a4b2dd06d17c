package network

import (
	"bytes"
	"fmt"
)

// SvcHosts is what one Service's names resolve to (ServiceHosts): the
// addresses of its own name, and per-address host names (headless Services
// with pods that have a hostname, such as StatefulSet pods).
type SvcHosts struct {
	Namespace string
	Name      string
	// IPs the Service name resolves to, in order.
	IPs []string
	// Hostnames maps a pod IP to the pod's hostname inside the Service
	// (HOSTNAME.NAME.NAMESPACE.svc).
	Hostnames map[string]string
}

// ClusterDomain is the suffix of every Service and pod name the cluster DNS
// answers (internal/localcluster/clusterdns).
const ClusterDomain = "cluster.local"

// DNSPort is where the cluster DNS listens on the bridge's host address.
const DNSPort = 53

// RenderHosts builds the /etc/hosts of one pod: localhost and the pod's own
// names. Service and pod names come from the cluster DNS, so a pod that
// moves is found at its new address by the next lookup (Go programs re-read
// a hosts file only every 5 s).
func RenderHosts(podIP, hostname string) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by the local cluster's node agent; other names come from the cluster DNS.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if podIP != "" && hostname != "" {
		fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
	}
	return b.Bytes()
}

// ResolvConf is a pod's resolv.conf: the cluster DNS at nameserver, and a
// cluster's search path, so NAME, NAME.NS and NAME.NS.svc resolve as they
// do on a cluster.
func ResolvConf(namespace, nameserver string) string {
	return "search " + namespace + ".svc." + ClusterDomain + " svc." + ClusterDomain + " " + ClusterDomain + "\n" +
		"nameserver " + nameserver + "\noptions ndots:5 attempts:2 timeout:1\n"
}
