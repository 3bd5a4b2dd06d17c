package webhooks

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// TestDeleteJudgedAgainstLiveShowtime: the garbage collector deletes a
// Showtime's children as soon as the Showtime is gone, possibly before the
// manager's cache has seen it go. A delete the cache would deny is checked
// against the API server first.
func TestDeleteJudgedAgainstLiveShowtime(t *testing.T) {
	sch := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(sch))
	utilruntime.Must(boxv1.AddToScheme(sch))
	now := time.Now()
	st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: "standup", Namespace: "venues", UID: "st-1"}}
	// Inside its own sale freeze: opens in ten minutes.
	st.Spec.Sales = boxv1.Sales{OpensAt: metav1.NewTime(now.Add(10 * time.Minute)), ClosesAt: metav1.NewTime(now.Add(time.Hour))}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-standup-shard-0", Namespace: "venues",
		Labels: st.OwnedLabels(boxv1.ComponentShard)}}
	raw, err := json.Marshal(pvc)
	if err != nil {
		t.Fatal(err)
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Delete, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"},
		Namespace: "venues", Name: pvc.Name, OldObject: runtime.RawExtension{Raw: raw},
		UserInfo: authenticationv1.UserInfo{Username: "system:serviceaccount:kube-system:generic-garbage-collector"},
	}}
	cached := fake.NewClientBuilder().WithScheme(sch).WithObjects(st.DeepCopy()).Build()
	guard := func(live *fake.ClientBuilder) *WorkloadGuard {
		return &WorkloadGuard{g: newGate(cached, events.NewFakeRecorder(10), Config{}),
			decoder: admission.NewDecoder(sch), parents: live.WithScheme(sch).Build()}
	}

	if resp := guard(fake.NewClientBuilder().WithObjects(st.DeepCopy())).Handle(context.Background(), req); resp.Allowed {
		t.Fatalf("delete allowed while the showtime lives and is frozen: %+v", resp.Result)
	}
	if resp := guard(fake.NewClientBuilder()).Handle(context.Background(), req); !resp.Allowed {
		t.Fatalf("delete denied although the showtime is gone (only the cache still has it): %s", resp.Result.Message)
	}
	recreated := st.DeepCopy()
	recreated.UID = "st-2"
	owned := pvc.DeepCopy()
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: boxv1.GroupVersion.String(), Kind: "Showtime", Name: "standup", UID: "st-1"}}
	if raw, err = json.Marshal(owned); err != nil {
		t.Fatal(err)
	}
	req.OldObject.Raw = raw
	if resp := guard(fake.NewClientBuilder().WithObjects(recreated)).Handle(context.Background(), req); !resp.Allowed {
		t.Fatalf("delete of what an earlier showtime of the same name owned denied: %s", resp.Result.Message)
	}
}
