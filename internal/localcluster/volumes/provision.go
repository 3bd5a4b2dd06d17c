package volumes

import (
	"context"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Names the local cluster gives to its storage.
const (
	// StorageClassName is the local cluster's (default) storage class.
	StorageClassName = "local"
	// selectedNodeAnnotation is set on a claim by the scheduler for a
	// WaitForFirstConsumer class: the node the volume must be made on.
	selectedNodeAnnotation = "volume.kubernetes.io/selected-node"
	provisionerName        = "localcluster.boxoffice.dev/hostpath"
)

// EnsureStorageClass creates the default storage class if it is not there.
func EnsureStorageClass(ctx context.Context, cs kubernetes.Interface) error {
	retain := corev1.PersistentVolumeReclaimRetain
	// As a real local volume: the scheduler picks the node, the volume is
	// made on it, and its node affinity keeps the pod there from then on.
	binding := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: StorageClassName, Annotations: map[string]string{
			"storageclass.kubernetes.io/is-default-class": "true",
		}},
		Provisioner:       provisionerName,
		ReclaimPolicy:     &retain,
		VolumeBindingMode: &binding,
	}
	_, err := cs.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Provision makes a host directory volume for an unbound claim of the local
// class once the scheduler has picked node for it, pre-bound to the claim
// and tied to node by node affinity; the PV controller finishes the binding.
// Claims that are not node's to provision are left alone.
func Provision(ctx context.Context, cs kubernetes.Interface, pvc *corev1.PersistentVolumeClaim, node, stateDir string) error {
	pv := ClaimVolume(pvc, node, stateDir)
	if pv == nil {
		return nil
	}
	if err := os.MkdirAll(pv.Spec.HostPath.Path, 0o755); err != nil {
		return err
	}
	_, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ClaimVolume is the volume Provision makes for pvc on node, or nil when
// the claim is bound, going, of another class, or placed on another node.
func ClaimVolume(pvc *corev1.PersistentVolumeClaim, node, stateDir string) *corev1.PersistentVolume {
	if pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != StorageClassName {
		return nil
	}
	if pvc.Annotations[selectedNodeAnnotation] != node {
		return nil
	}
	name := "pvc-" + string(pvc.UID)
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisionerName}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              StorageClassName,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(stateDir, "volumes", name), Type: &dirOrCreate}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
}
