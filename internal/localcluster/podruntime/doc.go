// Package podruntime runs the local cluster's pods as host processes, as a
// kubelet with a container runtime would: each pod gets a network namespace
// on the bridge, its own /etc (its own names in hosts, the cluster DNS in
// resolv.conf), its
// volumes and environment; each container is the host binary its image maps
// to, started through the hidden pod-exec subcommand that builds the
// container's root and mounts in a fresh mount namespace, chroots and execs.
// Containers restart with the kubelet's back-off, probes run against the
// pod's address, and the pod's status is written back to the API server.
package podruntime
