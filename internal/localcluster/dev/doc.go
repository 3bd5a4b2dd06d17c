// Package dev is the `localcluster up` flow: it checks the flags, brings up
// the bridge, the control plane (package controlplane) and the nodes
// (package nodeagent), serves fault injection on the control socket
// (package fault), and for development runs the operator beside them (its
// CRDs, the manager as a host process, its admission webhooks) and applies
// the sample Showtime, printing where to book and how to break nodes. On
// SIGINT or SIGTERM it removes everything it made; Clean removes what a
// crashed run left.
package dev
