package podruntime

import (
	"context"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/state"
)

// Node is what a pod runner needs from the node agent that runs its pod.
type Node struct {
	// Ctx ends when the node stops (or is killed): every pod stops with it.
	Ctx    context.Context
	Client kubernetes.Interface
	// Net hands out pod addresses from the node's share of the range.
	Net *network.PodNetwork
	// Images maps each image a container may name to the host binary it runs.
	Images map[string]string
	// Self is the localcluster binary, which turns itself into a container
	// (the pod-exec subcommand).
	Self     string
	Record   *state.Record
	StateDir string
	Logf     func(string, ...any)
	// APIHost and APIPort are the API server's address as pods reach it
	// (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT).
	APIHost string
	APIPort int
	// Frozen reports a paused node: its pods neither probe nor report.
	Frozen func() bool
	// CachedPod is the informer's copy of a pod (nil when there is none).
	CachedPod func(ns, name string) *corev1.Pod
}

// imageList is the image map as the --image flags spell it.
func imageList(images map[string]string) string {
	var l []string
	for k, v := range images {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}
