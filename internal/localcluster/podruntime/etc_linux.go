package podruntime

import (
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
)

// writeEtc writes the pod's own /etc: hosts (its own names), resolv.conf
// (the cluster DNS on the bridge's host address: Service and pod names),
// nsswitch.conf, hostname, passwd and group.
func (r *Runner) writeEtc(pod *corev1.Pod) error {
	etc := filepath.Join(r.dir, "rootfs", "etc")
	files := map[string]string{
		"hostname":      podHostname(pod) + "\n",
		"nsswitch.conf": "hosts: files dns\n",
		"resolv.conf":   network.ResolvConf(pod.Namespace, r.node.Net.HostIP().String()),
		"passwd":        "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
		"group":         "root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return r.writeHosts()
}

// writeHosts writes the pod's hosts file: localhost and the pod's own names.
// Every other name comes from the cluster DNS.
func (r *Runner) writeHosts() error {
	if !r.ip.IsValid() {
		return nil
	}
	pod := r.latest()
	hostname := r.name
	if pod != nil {
		hostname = podHostname(pod)
		if pod.Spec.Subdomain != "" {
			hostname += "." + pod.Spec.Subdomain + "." + r.ns + ".svc." + network.ClusterDomain + " " + podHostname(pod)
		}
	}
	return os.WriteFile(filepath.Join(r.dir, "rootfs", "etc", "hosts"), network.RenderHosts(r.ip.String(), hostname), 0o644)
}
