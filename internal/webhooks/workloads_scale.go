package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The scale subresource is matched on the parent's group and version (apps/v1)
// although the object sent is an autoscaling/v1 Scale. A Scale has no labels
// (the API server copies only name, namespace, UID, resourceVersion and
// creation time from the parent), so an objectSelector would never match it
// and is not used: the handler reads the parent to check its managed-by label.
// matchConditions keep the webhook, and its failurePolicy Fail, to what a
// freeze can deny, so the rest of the cluster is not affected: scale-downs
// (a scale-up is never blocked, even while the webhook is down) of objects
// named like a shard or a front end, other than the autoscaler's own scaling
// of a Deployment (bounded by the HPA's minReplicas, which is frozen).
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=apps,resources=statefulsets/scale;deployments/scale,verbs=update,versions=v1,name=vworkloads-scale.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"matchConditions":[{"name":"scale-down","expression":"object != null && oldObject != null && (has(object.spec) && has(object.spec.replicas) ? object.spec.replicas : 0) < (has(oldObject.spec) && has(oldObject.spec.replicas) ? oldObject.spec.replicas : 0)"},{"name":"shard-or-frontend","expression":"request.name.endsWith('-shard') || request.name.endsWith('-frontend')"},{"name":"not-the-autoscaler","expression":"!(request.resource.resource == 'deployments' && request.userInfo.username in ['system:serviceaccount:kube-system:horizontal-pod-autoscaler', 'system:kube-controller-manager'])"}]}`

// scaleParents are the kinds whose scale subresource is guarded, by resource.
var scaleParents = map[string]string{"statefulsets": "StatefulSet", "deployments": "Deployment"}

// autoscalerUsers are the identities the HPA controller writes scales as:
// its own service account (kube-controller-manager
// --use-service-account-credentials) or the controller manager's. Its
// scale-downs of a front end stay within the HPA's minReplicas, which is
// frozen, so they pass; the webhook's matchConditions keep them away too.
var autoscalerUsers = []string{"system:serviceaccount:kube-system:horizontal-pod-autoscaler", "system:kube-controller-manager"}

// handleScale judges a write to the scale subresource of a StatefulSet or a
// Deployment. A scale-up always passes; a scale-down of a managed workload
// whose showtime is frozen is denied. A Scale has no annotations, so it
// cannot carry break-glass: the denial says to change spec.replicas on the
// object itself, in a request that adds the annotation.
func (w *WorkloadGuard) handleScale(ctx context.Context, req admission.Request) admission.Response {
	kind, ok := scaleParents[req.Resource.Resource]
	if !ok || req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	oldScale, newScale := &autoscalingv1.Scale{}, &autoscalingv1.Scale{}
	if err := w.decoder.DecodeRaw(req.OldObject, oldScale); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding old Scale: %w", err))
	}
	if err := w.decoder.DecodeRaw(req.Object, newScale); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding Scale: %w", err))
	}
	from, to := oldScale.Spec.Replicas, newScale.Spec.Replicas
	if to >= from {
		return admission.Allowed("not a scale-down")
	}
	if kind == "Deployment" && slices.Contains(autoscalerUsers, req.UserInfo.Username) {
		return admission.Allowed("the autoscaler")
	}
	parent := newFor(kind)
	if err := w.parents.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: req.Name}, parent); err != nil {
		if apierrors.IsNotFound(err) {
			return admission.Allowed("no such " + kind)
		}
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("reading %s %s/%s: %w", kind, req.Namespace, req.Name, err))
	}
	if parent.GetLabels()[boxv1.LabelManagedBy] != boxv1.ManagedBy {
		return admission.Allowed("not managed by Box office")
	}
	if !parent.GetDeletionTimestamp().IsZero() {
		return admission.Allowed("being deleted")
	}
	stName, st, hits, resp := w.freezes(ctx, req.Namespace, parent)
	if st == nil {
		return resp
	}
	resource := strings.ToLower(kind)
	c := change{op: "scale-down", kind: kind, namespace: req.Namespace, name: req.Name, user: req.UserInfo,
		dryRun: req.DryRun != nil && *req.DryRun, regarding: parent, allowedHint: scaleAllowed,
		breakGlassHint: fmt.Sprintf(" (the scale subresource carries no annotations: set spec.replicas on the %s itself in the same change, e.g. kubectl patch %s %s -p '{\"metadata\":{\"annotations\":{\"%s\":\"<reason>\"}},\"spec\":{\"replicas\":%d}}')",
			kind, resource, req.Name, boxv1.BreakGlassAnnotation, to)}
	if err := w.g.decide(ctx, c, hits); err != nil {
		return admission.Denied(err.Error() + fmt.Sprintf(" (%s %s belongs to Showtime %s; scale from %d to %d replicas)", kind, req.Name, stName, from, to))
	}
	return admission.Allowed("")
}
