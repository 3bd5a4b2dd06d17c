package volumes

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestFieldValue(t *testing.T) {
	s := &Pod{PodIP: "10.244.0.70", HostIP: "10.244.0.1"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "show-shard-0", Namespace: "venues", UID: "u-1",
			Labels: map[string]string{"b": "2", "a": `say "hi"`}, Annotations: map[string]string{"note": "x"}},
		Spec: corev1.PodSpec{NodeName: "node-2", ServiceAccountName: "shard"},
	}
	for path, want := range map[string]string{
		"metadata.name": "show-shard-0", "metadata.namespace": "venues", "metadata.uid": "u-1",
		"spec.nodeName": "node-2", "spec.serviceAccountName": "shard",
		"status.podIP": "10.244.0.70", "status.hostIP": "10.244.0.1",
		"metadata.labels":              "a=\"say \\\"hi\\\"\"\nb=\"2\"\n",
		"metadata.labels['b']":         "2",
		"metadata.annotations['note']": "x",
		"metadata.labels['none']":      "",
	} {
		if got, err := s.FieldValue(pod, path); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := s.FieldValue(pod, "status.phase"); err == nil {
		t.Error("an unsupported field path: want an error")
	}
}

func TestObjectData(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "venues"}, Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": {2}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok", Namespace: "venues"}, Data: map[string][]byte{"token": []byte("t")}},
	)
	s := &Pod{Client: cs, Namespace: "venues"}
	ctx := context.Background()
	cm, err := s.ConfigMapData(ctx, "cfg")
	if err != nil || string(cm["a"]) != "1" || len(cm["b"]) != 1 || cm["b"][0] != 2 {
		t.Errorf("configMap data (text and binary): %v, %v", cm, err)
	}
	sec, err := s.SecretData(ctx, "tok")
	if err != nil || string(sec["token"]) != "t" {
		t.Errorf("secret data: %v, %v", sec, err)
	}
	if _, err := s.SecretData(ctx, "none"); err == nil {
		t.Error("a missing secret: want an error")
	}
	if IsOptional(nil) || !IsOptional(ptr(true)) {
		t.Error("IsOptional: nil is required")
	}
}
