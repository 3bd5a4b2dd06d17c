package podruntime

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"boxoffice.dev/boxoffice/internal/localcluster/volumes"
)

func TestBuildEnv(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "ns"}, Data: map[string]string{"B": "from-cm", "A": "a"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "ns"}, Data: map[string][]byte{"token": []byte("t0k")}},
	)
	yes := true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns"}, Spec: corev1.PodSpec{Hostname: "web"}}
	c := &corev1.Container{
		EnvFrom: []corev1.EnvFromSource{
			{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}},
		},
		Env: []corev1.EnvVar{
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "URL", Value: "http://$(POD):$(PORT)/$(CM_B)"},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
			{Name: "GONE", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "nope", Optional: &yes}}},
			{Name: "CPUS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "CM_A", Value: "overridden"},
		},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}},
	}
	r := testRunner(t, pod)
	r.node.APIHost, r.node.APIPort = "10.9.0.1", 6443
	r.vols = &volumes.Pod{Client: cs, Namespace: "ns", PodIP: "10.9.0.70", HostIP: "10.9.0.1"}
	got, err := r.buildEnv(context.Background(), pod, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=web",
		"KUBERNETES_SERVICE_HOST=10.9.0.1", "KUBERNETES_SERVICE_PORT=6443", "KUBERNETES_SERVICE_PORT_HTTPS=6443", "KUBERNETES_PORT=tcp://10.9.0.1:6443",
		"CM_A=overridden", "CM_B=from-cm", "POD=web-1", "URL=http://web-1:$(PORT)/from-cm", "TOKEN=t0k", "CPUS=2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env\n%q\nwant\n%q", got, want)
	}

	c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "nope"}}}}
	if _, err := r.buildEnv(context.Background(), pod, c); err == nil || err.Error() != `env X: secret sec has no key "nope"` {
		t.Errorf("a required key that is missing: %v", err)
	}
}

func TestResourceValue(t *testing.T) {
	c := &corev1.Container{Resources: corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
	}}
	for _, tc := range []struct {
		ref  corev1.ResourceFieldSelector
		want string
	}{
		{corev1.ResourceFieldSelector{Resource: "limits.cpu"}, "1"}, // rounded up to whole cores
		{corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}, "250"},
		{corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, "64"},
		{corev1.ResourceFieldSelector{Resource: "requests.memory"}, "33554432"},
		{corev1.ResourceFieldSelector{Resource: "requests.cpu"}, "1"}, // unset cpu: one core
		{corev1.ResourceFieldSelector{Resource: "limits.ephemeral-storage"}, "0"},
	} {
		if got := resourceValue(c, &tc.ref); got != tc.want {
			t.Errorf("%s (divisor %s) = %s, want %s", tc.ref.Resource, tc.ref.Divisor.String(), got, tc.want)
		}
	}
}

func TestImageListAndHostname(t *testing.T) {
	if got := imageList(map[string]string{"b:1": "/bin/b", "a:1": "/bin/a"}); got != "a:1=/bin/a,b:1=/bin/b" {
		t.Errorf("imageList = %q", got)
	}
	if podHostname(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}) != "p" ||
		podHostname(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Hostname: "h"}}) != "h" {
		t.Error("podHostname: spec.hostname, else the pod's name")
	}
}
