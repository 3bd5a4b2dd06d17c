package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/freeze"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
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
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups="",resources=configmaps;secrets;services,verbs=update;delete,versions=v1,name=vworkloads-core.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"boxoffice-operator"}}}`
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=networking.k8s.io,resources=networkpolicies,verbs=update;delete,versions=v1,name=vworkloads-networking.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"boxoffice-operator"}}}`
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=policy,resources=poddisruptionbudgets,verbs=update;delete,versions=v1,name=vworkloads-policy.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"boxoffice-operator"}}}`

// The shard's volumes (made by the StatefulSet from its claim template,
// which carries the same labels) are guarded against deletion, and against
// a relabel that would take them out of the object selector first. Other
// updates are the storage controllers' (binding, resizing, ownership per
// the retention policy) and never reach the webhook: matchConditions keep
// them away, so they go on even while the webhook is down.
// +kubebuilder:webhook:path=/validate-boxoffice-dev-managed-workloads,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups="",resources=persistentvolumeclaims,verbs=update;delete,versions=v1,name=vworkloads-volumes.boxoffice.dev,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"objectSelector":{"matchLabels":{"app.kubernetes.io/managed-by":"boxoffice-operator"}},"matchConditions":[{"name":"delete-or-relabel","expression":"request.operation == 'DELETE' || (has(object.metadata.labels) ? object.metadata.labels : {}) != (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})"}]}`

// WorkloadGuard denies edits and deletes of the objects the operator makes
// for a showtime (StatefulSets, Deployments, HPAs, ConfigMaps, Secrets,
// Services, NetworkPolicies, PodDisruptionBudgets, and the shard's
// PersistentVolumeClaims: their deletion and relabelling) while their
// showtime is frozen, so kubectl edit or delete cannot bypass the freeze,
// and scale-downs of the StatefulSets and Deployments through their scale
// subresource, so kubectl scale cannot either. The operator itself, status
// writes, metadata-only changes, rollbacks to an image the showtime ran and
// scale-ups pass. A delete is allowed once the owning Showtime is gone or
// being deleted, which is how the garbage collector's deletes pass.
type WorkloadGuard struct {
	g       *gate
	decoder admission.Decoder
	// parents reads the StatefulSet or Deployment behind a scale request
	// from the API server, not a cache: the Scale carries none of its labels.
	parents client.Reader
}

const (
	workloadAllowed = "Allowed during a freeze: setting a container image back to a version the showtime has run, raising a container's resource requests and limits (none lowered, added as a limit or removed), raising a Deployment's replicas, raising an autoscaler's minReplicas or maxReplicas and lowering its CPU utilisation target. "
	scaleAllowed    = "Allowed during a freeze: scaling up. "
)

// Handle implements admission.Handler.
func (w *WorkloadGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	if w.g.isOperator(req.UserInfo) {
		return admission.Allowed("")
	}
	switch req.SubResource {
	case "":
	case "scale":
		return w.handleScale(ctx, req)
	default:
		// Status writes.
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
	if subject.GetLabels()[boxv1.LabelManagedBy] != boxv1.ManagedBy && oldObj.GetLabels()[boxv1.LabelManagedBy] != boxv1.ManagedBy {
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
	stName, st, hits, resp := w.freezes(ctx, req.Namespace, oldObj)
	if st != nil && req.Operation == admissionv1.Delete {
		// The cache may not have seen the Showtime go yet, while the garbage
		// collector already deletes what it owned: ask the API server.
		stName, st, hits, resp = w.freezesLive(ctx, req.Namespace, stName)
		if st != nil && ownedByAnother(oldObj, st) {
			return admission.Allowed("owned by an earlier showtime of that name, now gone")
		}
	}
	if st == nil {
		return resp
	}
	if len(kinds) > 0 && w.onlyExceptions(st, oldObj, newObj) {
		for _, k := range kinds {
			freezeExceptions.WithLabelValues(req.Kind.Kind, k).Inc()
		}
		return admission.Allowed("").WithWarnings(fmt.Sprintf("allowed during the freeze as a %s: %s", strings.Join(kinds, " and "), frozenBy(hits)))
	}
	op := strings.ToLower(string(req.Operation))
	var newAnn map[string]string
	if newObj != nil {
		newAnn = newObj.GetAnnotations()
	}
	why, stale := breakGlassOf(op, oldObj.GetAnnotations(), newAnn)
	hint := workloadAllowed
	if req.Operation == admissionv1.Delete {
		hint = "" // no exception applies to a delete
	}
	c := change{op: op, kind: req.Kind.Kind, namespace: req.Namespace, name: req.Name, user: req.UserInfo,
		dryRun: req.DryRun != nil && *req.DryRun, breakGlass: why, staleBreakGlass: stale, regarding: subject, allowedHint: hint}
	if err := w.g.decide(ctx, c, hits); err != nil {
		return admission.Denied(err.Error() + fmt.Sprintf(" (%s %s belongs to Showtime %s)", req.Kind.Kind, req.Name, stName))
	}
	return admission.Allowed("")
}

// freezes finds the showtime a managed object belongs to (by its showtime
// label) and the freezes in force on it. When st is nil the change is not
// frozen, or cannot be judged, and resp is the answer.
func (w *WorkloadGuard) freezes(ctx context.Context, namespace string, obj client.Object) (stName string, st *boxv1.Showtime, hits []freeze.Hit, resp admission.Response) {
	stName = obj.GetLabels()[boxv1.LabelShowtime]
	if stName == "" {
		return "", nil, nil, admission.Allowed("no showtime label")
	}
	return w.freezesOf(ctx, w.g.reader, namespace, stName)
}

// freezesLive is freezes with the Showtime read from the API server.
func (w *WorkloadGuard) freezesLive(ctx context.Context, namespace, stName string) (string, *boxv1.Showtime, []freeze.Hit, admission.Response) {
	return w.freezesOf(ctx, w.parents, namespace, stName)
}

func (w *WorkloadGuard) freezesOf(ctx context.Context, r client.Reader, namespace, stName string) (_ string, st *boxv1.Showtime, hits []freeze.Hit, resp admission.Response) {
	st = &boxv1.Showtime{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: stName}, st); err != nil {
		if apierrors.IsNotFound(err) {
			// An orphan, or the garbage collector cleaning up after a deleted showtime.
			return stName, nil, nil, admission.Allowed("showtime gone")
		}
		return stName, nil, nil, admission.Errored(http.StatusInternalServerError, err)
	}
	if !st.DeletionTimestamp.IsZero() {
		return stName, nil, nil, admission.Allowed("showtime being deleted")
	}
	hits, err := w.g.hitsFor(ctx, w.g.now(), st)
	if err != nil {
		return stName, nil, nil, admission.Errored(http.StatusInternalServerError, err)
	}
	if len(hits) == 0 {
		return stName, nil, nil, admission.Allowed("")
	}
	return stName, st, hits, admission.Response{}
}

// ownedByAnother reports whether obj names a Showtime owner, but not st:
// it was made for an earlier showtime of the same name, deleted since, and
// is the garbage collector's to remove.
func ownedByAnother(obj client.Object, st *boxv1.Showtime) bool {
	found := false
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == "Showtime" && ref.APIVersion == boxv1.GroupVersion.String() {
			if ref.UID == st.UID {
				return false
			}
			found = true
		}
	}
	return found
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
	case "Service":
		return &corev1.Service{}
	case "PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
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
// spec or data (a volume claim: its labels). Annotations, status and bookkeeping (the Deployment
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
	case *corev1.Service:
		return []any{x.Labels, x.Spec}
	case *networkingv1.NetworkPolicy:
		return []any{x.Labels, x.Spec}
	case *policyv1.PodDisruptionBudget:
		return []any{x.Labels, x.Spec}
	case *corev1.PersistentVolumeClaim:
		// Its spec and ownership are the storage controllers' to change.
		return []any{x.Labels}
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
		kinds = containerExceptions(o.Spec.Template.Spec.Containers, n.Spec.Template.Spec.Containers)
		if replicas(n.Spec.Replicas) > replicas(o.Spec.Replicas) && !slices.Contains(kinds, freeze.ExceptionScaleUp) {
			kinds = append(kinds, freeze.ExceptionScaleUp)
		}
	case *appsv1.StatefulSet:
		o := oldObj.(*appsv1.StatefulSet)
		kinds = containerExceptions(o.Spec.Template.Spec.Containers, n.Spec.Template.Spec.Containers)
	case *autoscalingv2.HorizontalPodAutoscaler:
		o := oldObj.(*autoscalingv2.HorizontalPodAutoscaler)
		if n.Spec.MaxReplicas > o.Spec.MaxReplicas || replicas(n.Spec.MinReplicas) > replicas(o.Spec.MinReplicas) ||
			restoreLoweredCPUTargets(o, n.DeepCopy()) {
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

// containerExceptions says which exceptions a change of containers might
// be: a rollback when an image changed, a scale-up when resources changed.
func containerExceptions(a, b []corev1.Container) []string {
	if len(a) != len(b) {
		return nil
	}
	var image, res bool
	for i := range a {
		image = image || a[i].Image != b[i].Image
		res = res || !equality.Semantic.DeepEqual(a[i].Resources, b[i].Resources)
	}
	var kinds []string
	if image {
		kinds = append(kinds, freeze.ExceptionRollback)
	}
	if res {
		kinds = append(kinds, freeze.ExceptionScaleUp)
	}
	return kinds
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
		restoreLoweredCPUTargets(o, n)
		return equality.Semantic.DeepEqual(content(o), content(n))
	}
	return false
}

// restoreLoweredCPUTargets sets each CPU utilisation target of n that is
// lower than the same metric's in o back to o's (a lower target scales up
// sooner), and reports whether there was any.
func restoreLoweredCPUTargets(o, n *autoscalingv2.HorizontalPodAutoscaler) bool {
	lowered := false
	for i := range n.Spec.Metrics {
		if i >= len(o.Spec.Metrics) {
			break
		}
		nt, ot := cpuUtilization(&n.Spec.Metrics[i]), cpuUtilization(&o.Spec.Metrics[i])
		if nt != nil && ot != nil && *nt < *ot {
			*nt, lowered = *ot, true
		}
	}
	return lowered
}

// cpuUtilization is the average utilisation target of a CPU resource
// metric, nil for any other metric.
func cpuUtilization(m *autoscalingv2.MetricSpec) *int32 {
	if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil || m.Resource.Name != corev1.ResourceCPU ||
		m.Resource.Target.Type != autoscalingv2.UtilizationMetricType {
		return nil
	}
	return m.Resource.Target.AverageUtilization
}

// rollBackContainers sets each changed image back to the old one when the
// change is a rollback, and each container's resources back when they are a
// vertical scale-up (freeze.JudgeResources); it reports false when a change
// is neither.
func rollBackContainers(old, n []corev1.Container, h boxv1.ImageHistory) bool {
	if len(old) != len(n) {
		return false
	}
	var v freeze.Verdict
	for i := range n {
		freeze.JudgeResources(&v, "resources", &old[i].Resources, &n[i].Resources)
		if n[i].Image == old[i].Image {
			continue
		}
		if !freeze.RanBefore(h, n[i].Image) {
			return false
		}
		n[i].Image = old[i].Image
	}
	return v.Allowed()
}

var _ runtime.Object = &appsv1.Deployment{}
