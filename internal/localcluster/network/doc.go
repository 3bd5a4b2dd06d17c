// Package network is the local cluster's pod network: the bridge and the
// pod address range on it, each node's share of that range (PlanNodes), pod
// network namespaces with their veth pairs, the blackhole routes that cut a
// node off, and name resolution without cluster DNS: the hosts file every
// pod gets (RenderHosts) from Services and their ready endpoints
// (ServiceHosts), plus a small TCP forwarder standing in for a Service's load
// balancing on the host (Forward).
package network
