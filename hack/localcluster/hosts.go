package main

import (
	"bytes"
	"fmt"
	"strings"
)

// clusterDomain is the suffix of every Service and pod name the cluster DNS
// answers (internal/localcluster/clusterdns).
const clusterDomain = "cluster.local"

// dnsPort is where the cluster DNS listens on the bridge's host address.
const dnsPort = 53

// renderHosts builds the /etc/hosts of one pod: localhost and the pod's own
// names. Service and pod names come from the cluster DNS, so a pod that
// moves is found at its new address by the next lookup (a hosts file is
// re-read by Go programs only every few seconds).
func renderHosts(podIP, hostname string) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by the local cluster's node agent; other names come from the cluster DNS.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if podIP != "" && hostname != "" {
		fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
	}
	return b.Bytes()
}

// resolvConf is a pod's resolv.conf: the cluster DNS, and a cluster's search
// path, so NAME, NAME.NS and NAME.NS.svc resolve as they do on a cluster.
func resolvConf(namespace, nameserver string) string {
	return "search " + namespace + ".svc." + clusterDomain + " svc." + clusterDomain + " " + clusterDomain + "\n" +
		"nameserver " + nameserver + "\noptions ndots:5 attempts:2 timeout:1\n"
}

// expandVars replaces $(VAR) references the way Kubernetes does for command,
// args and env values: $$ escapes a dollar, and unknown references stay as
// they are.
func expandVars(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
