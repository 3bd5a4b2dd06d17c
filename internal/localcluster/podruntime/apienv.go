package podruntime

import (
	"net"
	"strconv"
)

// apiServerEnv is what a kubelet gives every container about the
// `kubernetes` Service, so that in-cluster clients (client-go's
// InClusterConfig) find the API server. With no kube-proxy the Service's
// cluster IP does not route, so the variables carry the API server's own
// address, which pods reach through their default route.
func apiServerEnv(host string, port int) []string {
	if host == "" || port == 0 {
		return nil
	}
	p := strconv.Itoa(port)
	url := "tcp://" + net.JoinHostPort(host, p)
	return []string{
		"KUBERNETES_SERVICE_HOST=" + host,
		"KUBERNETES_SERVICE_PORT=" + p,
		"KUBERNETES_SERVICE_PORT_HTTPS=" + p,
		"KUBERNETES_PORT=" + url,
	}
}
