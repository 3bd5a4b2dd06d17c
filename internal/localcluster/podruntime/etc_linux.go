package podruntime

import (
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
)

// writeEtc writes the pod's own /etc: hosts (kept current by the agent),
// resolv.conf, nsswitch.conf, hostname, passwd and group.
func (r *Runner) writeEtc(pod *corev1.Pod) error {
	etc := filepath.Join(r.dir, "rootfs", "etc")
	files := map[string]string{
		"hostname":      podHostname(pod) + "\n",
		"nsswitch.conf": "hosts: files dns\n",
		// No cluster DNS: names come from the hosts file.
		"resolv.conf": "search " + pod.Namespace + ".svc." + network.ClusterDomain + " svc." + network.ClusterDomain + " " + network.ClusterDomain + "\nnameserver 127.0.0.1\noptions ndots:5 attempts:1 timeout:1\n",
		"passwd":      "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
		"group":       "root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return r.WriteHosts(r.node.Services())
}

// WriteHosts replaces the pod's hosts file atomically (the container sees
// the directory, not a bind-mounted file, so a rename shows at once).
func (r *Runner) WriteHosts(svcs []network.SvcHosts) error {
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
	content := network.RenderHosts(r.ip.String(), hostname, r.ns, svcs)
	p := filepath.Join(r.dir, "rootfs", "etc", "hosts")
	if old, err := os.ReadFile(p); err == nil && string(old) == string(content) {
		return nil
	}
	tmp := p + ".new"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
