package volumes

import (
	"context"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func claim(class, node string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-show-shard-0", Namespace: "venues", UID: "c-1",
			Annotations: map[string]string{selectedNodeAnnotation: node}},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
		},
	}
}

func TestClaimVolume(t *testing.T) {
	pv := ClaimVolume(claim(StorageClassName, "node-2"), "node-2", "/state")
	if pv == nil {
		t.Fatal("a claim of the local class placed on this node: want a volume")
	}
	if pv.Name != "pvc-c-1" || pv.Spec.HostPath.Path != filepath.Join("/state", "volumes", "pvc-c-1") ||
		pv.Spec.ClaimRef.Name != "data-show-shard-0" || pv.Spec.ClaimRef.UID != "c-1" ||
		pv.Spec.Capacity.Storage().String() != "2Gi" || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("volume %+v", pv.Spec)
	}
	term := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0]
	if term.Key != corev1.LabelHostname || term.Values[0] != "node-2" {
		t.Errorf("node affinity %+v; want the volume tied to node-2", term)
	}

	noSize := claim(StorageClassName, "node-2")
	noSize.Spec.Resources.Requests = nil
	if pv := ClaimVolume(noSize, "node-2", "/state"); pv.Spec.Capacity.Storage().String() != "1Gi" {
		t.Errorf("no request: capacity %s; want 1Gi", pv.Spec.Capacity.Storage())
	}
	bound := claim(StorageClassName, "node-2")
	bound.Spec.VolumeName = "pv-x"
	deleting := claim(StorageClassName, "node-2")
	deleting.DeletionTimestamp = &metav1.Time{}
	for name, c := range map[string]*corev1.PersistentVolumeClaim{
		"bound": bound, "being deleted": deleting, "other class": claim("fast", "node-2"), "other node": claim(StorageClassName, "node-1"),
	} {
		if ClaimVolume(c, "node-2", "/state") != nil {
			t.Errorf("%s claim: want no volume from node-2", name)
		}
	}
}

func TestProvisionAndStorageClass(t *testing.T) {
	cs := fake.NewClientset()
	ctx := context.Background()
	for range 2 { // idempotent: every node agent ensures it
		if err := EnsureStorageClass(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := cs.StorageV1().StorageClasses().Get(ctx, StorageClassName, metav1.GetOptions{})
	if err != nil || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" || *sc.VolumeBindingMode != "WaitForFirstConsumer" {
		t.Fatalf("storage class %+v, %v", sc, err)
	}
	state := t.TempDir()
	for range 2 { // a claim seen twice makes one volume
		if err := Provision(ctx, cs, claim(StorageClassName, "node-1"), "node-1", state); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().PersistentVolumes().Get(ctx, "pvc-c-1", metav1.GetOptions{}); err != nil {
		t.Errorf("volume not created: %v", err)
	}
	if err := Provision(ctx, cs, claim(StorageClassName, "node-3"), "node-1", state); err != nil {
		t.Errorf("a claim for another node: %v; want it left alone", err)
	}
}
