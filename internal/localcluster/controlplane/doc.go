// Package controlplane runs the local cluster's Kubernetes control plane as
// host processes: etcd, kube-apiserver (on the host's address on the pod
// bridge), kube-controller-manager and kube-scheduler, with the cluster's
// certificate authority (PKI), the service-account keys and the kubeconfigs
// of the admin, the operator and a break-glass user. StartComponent and
// WaitHTTP also serve the dev flow that runs the operator beside them.
package controlplane
