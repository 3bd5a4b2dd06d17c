package volumes

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Pod makes and refreshes the volumes of one pod, reading its configMaps,
// secrets, claims and service-account tokens from the API server.
type Pod struct {
	Client    kubernetes.Interface
	Namespace string
	// Dir holds the pod's volumes, one directory each by volume name.
	Dir string
	// PodIP and HostIP answer the downward API's status.podIP and status.hostIP.
	PodIP, HostIP string
	Logf          func(string, ...any)
}

// rootCAConfigMap is published into every namespace by the control plane
// shortly after the namespace is made; a pod of a brand-new namespace (helm
// install --create-namespace) may start before it is there.
const rootCAConfigMap = "kube-root-ca.crt"

// ConfigMapData is the data (text and binary) of a configMap in the pod's
// namespace; the root CA configMap is waited for (bounded), see above.
func (s *Pod) ConfigMapData(ctx context.Context, name string) (map[string][]byte, error) {
	cm, err := s.Client.CoreV1().ConfigMaps(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	for deadline := time.Now().Add(30 * time.Second); name == rootCAConfigMap && apierrors.IsNotFound(err) && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		cm, err = s.Client.CoreV1().ConfigMaps(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, nil
}

// SecretData is the data of a secret in the pod's namespace.
func (s *Pod) SecretData(ctx context.Context, name string) (map[string][]byte, error) {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return sec.Data, nil
}

// IsOptional reads an optional flag of a reference (nil: required).
func IsOptional(p *bool) bool { return p != nil && *p }

// FieldValue answers a downward-API field path for this pod.
func (s *Pod) FieldValue(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return s.PodIP, nil
	case "status.hostIP", "status.hostIPs":
		return s.HostIP, nil
	case "metadata.labels", "metadata.annotations":
		m := pod.Labels
		if path == "metadata.annotations" {
			m = pod.Annotations
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q\n", k, m[k])
		}
		return b.String(), nil
	}
	for _, p := range []struct {
		prefix string
		m      map[string]string
	}{{"metadata.labels['", pod.Labels}, {"metadata.annotations['", pod.Annotations}} {
		if k, ok := strings.CutPrefix(path, p.prefix); ok {
			return p.m[strings.TrimSuffix(k, "']")], nil
		}
	}
	return "", fmt.Errorf("field path %q is not supported by the local cluster", path)
}
