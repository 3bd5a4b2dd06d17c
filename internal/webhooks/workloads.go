package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// WorkloadPath serves the freeze guard for the workloads the operator manages.
const WorkloadPath = "/validate-boxoffice-dev-managed-workloads"

// The object selector keeps every other object in the cluster away from
// this webhook, so its failurePolicy Fail only ever concerns Box office's own.
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=apps,resources=statefulsets;deployments,verbs=update;delete,versions=v1,name=vworkloads-apps.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"boxoffice-operator"}}}`
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=autoscaling,resources=horizontalpodautoscalers,verbs=update;delete,versions=v2,name=vworkloads-autoscaling.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"boxoffice-operator"}}}`
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups="",resources=configmaps;secrets,verbs=update;delete,versions=v1,name=vworkloads-core.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"boxoffice-operator"}}}`

// WorkloadGuard denies edits and deletes of the StatefulSets, Deployments,
// HPAs, ConfigMaps and Secrets the operator manages while their showtime is
// frozen, so kubectl edit cannot bypass the freeze. The operator itself,
// status writes (a subresource), metadata-only changes, rollbacks to the
// previous image and scale-ups pass.
type WorkloadGuard struct {
	g       *gate
	decoder admission.Decoder
}

const workloadAllowed = "Allowed during a freeze: setting a container image back to the version the showtime ran before, raising a Deployment's replicas, and raising an autoscaler's minReplicas or maxReplicas. "

// Handle implements admission.Handler.
func (w *WorkloadGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.SubResource != "" || w.g.isOperator(req.UserInfo) {
		return admission.Allowed("")
	}
	if req.Operation != admissionv1.Update && req.Operation != admissionv1.Delete {
		return admission.Allowed("")
	}
	oldObj, newObj, err := w.decode(req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if oldObj == nil {
		return admission.Allowed("not a managed kind")
	}
	subject := oldObj
	if newObj != nil {
		subject = newObj
	}
	if subject.GetLabels()[specs.LabelManagedBy] != specs.ManagedBy && oldObj.GetLabels()[specs.LabelManagedBy] != specs.ManagedBy {
		return admission.Allowed("not managed by Box office")
	}
	if newObj != nil && !newObj.GetDeletionTimestamp().IsZero() {
		return admission.Allowed("being deleted")
	}
	var kinds []string
	if req.Operation == admissionv1.Update {
		var material bool
		kinds, material = exceptions(oldObj, newObj)
		if !material {
			return admission.Allowed("no change to spec, data or labels")
		}
	}
	stName := oldObj.GetLabels()[specs.LabelShowtime]
	if stName == "" {
		return admission.Allowed("no showtime label")
	}
	st := &boxv1.Showtime{}
	if err := w.g.reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: stName}, st); err != nil {
		if apierrors.IsNotFound(err) {
			// An orphan, or the garbage collector cleaning up after a deleted showtime.
			return admission.Allowed("showtime gone")
		}
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if !st.DeletionTimestamp.IsZero() {
		return admission.Allowed("showtime being deleted")
	}
	hits, err := w.g.hitsFor(ctx, w.g.now(), st)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if len(hits) == 0 {
		return admission.Allowed("")
	}
	if len(kinds) > 0 && w.onlyExceptions(st, oldObj, newObj) {
		for _, k := range kinds {
			freezeExceptions.WithLabelValues(req.Kind.Kind, k).Inc()
		}
		return admission.Allowed("").WithWarnings(fmt.Sprintf("allowed during the freeze as a %s: %s", strings.Join(kinds, " and "), frozenBy(hits)))
	}
	op := strings.ToLower(string(req.Operation))
	ann := subject.GetAnnotations()
	c := change{op: op, kind: req.Kind.Kind, namespace: req.Namespace, name: req.Name, user: req.UserInfo,
		dryRun: req.DryRun != nil && *req.DryRun, annotations: ann, regarding: subject, allowedHint: workloadAllowed}
	if err := w.g.decide(ctx, c, hits); err != nil {
		return admission.Denied(err.Error() + fmt.Sprintf(" (%s %s belongs to Showtime %s)", req.Kind.Kind, req.Name, stName))
	}
	return admission.Allowed("")
}

func newFor(kind string) client.Object {
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "Deployment":
		return &appsv1.Deployment{}
	case "HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "ConfigMap":
		return &corev1.ConfigMap{}
	case "Secret":
		return &corev1.Secret{}
	}
	return nil
}

func (w *WorkloadGuard) decode(req admission.Request) (oldObj, newObj client.Object, err error) {
	oldObj = newFor(req.Kind.Kind)
	if oldObj == nil {
		return nil, nil, nil
	}
	if err := w.decoder.DecodeRaw(req.OldObject, oldObj); err != nil {
		return nil, nil, fmt.Errorf("decoding old %s: %w", req.Kind.Kind, err)
	}
	if req.Operation == admissionv1.Update {
		newObj = newFor(req.Kind.Kind)
		if err := w.decoder.DecodeRaw(req.Object, newObj); err != nil {
			return nil, nil, fmt.Errorf("decoding %s: %w", req.Kind.Kind, err)
		}
	}
	return oldObj, newObj, nil
}

// content is what a change to the object is judged on: its labels and its
// spec or data. Annotations, status and bookkeeping (the Deployment
// controller's revision annotation) are not frozen.
func content(o client.Object) []any {
	switch x := o.(type) {
	case *appsv1.StatefulSet:
		return []any{x.Labels, x.Spec}
	case *appsv1.Deployment:
		return []any{x.Labels, x.Spec}
	case *autoscalingv2.HorizontalPodAutoscaler:
		return []any{x.Labels, x.Spec}
	case *corev1.ConfigMap:
		return []any{x.Labels, x.Data, x.BinaryData, x.Immutable}
	case *corev1.Secret:
		return []any{x.Labels, x.Data, x.StringData, x.Type, x.Immutable}
	}
	return []any{o}
}

// exceptions reports whether the update changes anything that matters and,
// if it does, which exceptions (rollback, scale-up) it might be.
func exceptions(oldObj, newObj client.Object) ([]string, bool) {
	if equality.Semantic.DeepEqual(content(oldObj), content(newObj)) {
		return nil, false
	}
	var kinds []string
	switch n := newObj.(type) {
	case *appsv1.Deployment:
		o := oldObj.(*appsv1.Deployment)
		if imagesDiffer(o.Spec.Template.Spec.Containers, n.Spec.Template.Spec.Containers) {
			kinds = append(kinds, "rollback")
		}
		if replicas(n.Spec.Replicas) > replicas(o.Spec.Replicas) {
			kinds = append(kinds, "scale-up")
		}
	case *appsv1.StatefulSet:
		o := oldObj.(*appsv1.StatefulSet)
		if imagesDiffer(o.Spec.Template.Spec.Containers, n.Spec.Template.Spec.Containers) {
			kinds = append(kinds, "rollback")
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		o := oldObj.(*autoscalingv2.HorizontalPodAutoscaler)
		if n.Spec.MaxReplicas > o.Spec.MaxReplicas || replicas(n.Spec.MinReplicas) > replicas(o.Spec.MinReplicas) {
			kinds = append(kinds, "scale-up")
		}
	}
	return kinds, true
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func imagesDiffer(a, b []corev1.Container) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Image != b[i].Image {
			return true
		}
	}
	return false
}

// onlyExceptions undoes the allowed parts of the change (images set back to
// a version the showtime ran, replicas and autoscaler bounds raised) and
// reports whether nothing else changed.
func (w *WorkloadGuard) onlyExceptions(st *boxv1.Showtime, oldObj, newObj client.Object) bool {
	vers := st.Status.Versions
	switch n := newObj.DeepCopyObject().(type) {
	case *appsv1.Deployment:
		o := oldObj.(*appsv1.Deployment)
		if !rollBackContainers(o.Spec.Template.Spec.Containers, n.Spec.Template.Spec.Containers, vers.Frontend) {
			return false
		}
		if replicas(n.Spec.Replicas) > replicas(o.Spec.Replicas) {
			n.Spec.Replicas = o.Spec.Replicas
		}
		return equality.Semantic.DeepEqual(content(o), content(n))
	case *appsv1.StatefulSet:
		o := oldObj.(*appsv1.StatefulSet)
		if !rollBackContainers(o.Spec.Template.Spec.Containers, n.Spec.Template.Spec.Containers, vers.Shard) {
			return false
		}
		return equality.Semantic.DeepEqual(content(o), content(n))
	case *autoscalingv2.HorizontalPodAutoscaler:
		o := oldObj.(*autoscalingv2.HorizontalPodAutoscaler)
		if n.Spec.MaxReplicas > o.Spec.MaxReplicas {
			n.Spec.MaxReplicas = o.Spec.MaxReplicas
		}
		if replicas(n.Spec.MinReplicas) > replicas(o.Spec.MinReplicas) {
			n.Spec.MinReplicas = o.Spec.MinReplicas
		}
		return equality.Semantic.DeepEqual(content(o), content(n))
	}
	return false
}

// rollBackContainers sets each changed image back to the old one when the
// change is a rollback; it reports false when a changed image is not one.
func rollBackContainers(old, n []corev1.Container, h boxv1.ImageHistory) bool {
	if len(old) != len(n) {
		return len(old) == len(n)
	}
	for i := range n {
		if n[i].Image == old[i].Image {
			continue
		}
		if !isRollbackTarget(h, n[i].Image) {
			return false
		}
		n[i].Image = old[i].Image
	}
	return true
}

var _ runtime.Object = &appsv1.Deployment{}
