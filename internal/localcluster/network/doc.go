// Package network is the local cluster's pod network: the bridge and the
// pod address range on it, each node's share of that range (PlanNodes), pod
// network namespaces with their veth pairs, the blackhole routes that cut a
// node off, what Service and pod names resolve to from Services and their
// ready endpoints (ServiceHosts, which the cluster DNS in
// internal/localcluster/clusterdns serves), each pod's hosts file
// (RenderHosts: its own names) and resolv.conf (ResolvConf), plus a small TCP
// forwarder standing in for a Service's load balancing on the host
// (Forward).
package network
