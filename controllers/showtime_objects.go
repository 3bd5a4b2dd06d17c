package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// How the showtime controller reads, creates and applies the objects a
// showtime owns. The manager's cache holds only the Secrets, ConfigMaps and
// Pods labelled as this operator's (CacheByObject), so a miss in the cache is
// not proof that no such object exists: it is confirmed from the API server
// before anything is created. An object that exists and is not this
// showtime's own is never adopted: the showtime reports it (ObjectsOwned=False)
// and every other showtime goes on.

// defaultConflictRetry is how soon a showtime with a name conflict looks
// again: the object in the way may carry no label the cache sees, so its
// removal triggers no watch event.
const defaultConflictRetry = 30 * time.Second

func (r *ShowtimeReconciler) conflictRetry() time.Duration {
	if r.conflictRetryAfter > 0 {
		return r.conflictRetryAfter
	}
	return defaultConflictRetry
}

// CacheByObject limits the manager's cache for the kinds the cluster has many
// of that are none of this operator's business: only Pods, Secrets and
// ConfigMaps labelled app.kubernetes.io/managed-by=boxoffice-operator are
// cached and watched.
func CacheByObject() map[client.Object]cache.ByObject {
	managed := labels.SelectorFromSet(labels.Set{boxv1.LabelManagedBy: boxv1.ManagedBy})
	return map[client.Object]cache.ByObject{
		&corev1.Pod{}:       {Label: managed},
		&corev1.Secret{}:    {Label: managed},
		&corev1.ConfigMap{}: {Label: managed},
		// Shard members' claims carry the claim template's labels.
		&corev1.PersistentVolumeClaim{}: {Label: managed},
	}
}

// nameConflictError says an object a showtime needs exists under the name
// the showtime would give it, and is not the showtime's own.
type nameConflictError struct {
	kind string
	key  types.NamespacedName
	why  string
}

func (e *nameConflictError) Error() string {
	return fmt.Sprintf("%s %s already exists and %s; the operator does not take over objects it did not create: "+
		"delete or rename that %s and this showtime goes on by itself",
		e.kind, e.key, e.why, e.kind)
}

// checkOwned returns a *nameConflictError unless obj is controlled by st.
func checkOwned(obj client.Object, kind string, st *boxv1.Showtime) error {
	if metav1.IsControlledBy(obj, st) {
		return nil
	}
	e := &nameConflictError{kind: kind, key: client.ObjectKeyFromObject(obj)}
	ref := metav1.GetControllerOf(obj)
	switch {
	case ref != nil && ref.Kind == "Showtime" && ref.Name == st.Name:
		e.why = fmt.Sprintf("belongs to an earlier Showtime of this name (uid %s) that the garbage collector has not removed yet", ref.UID)
	case ref != nil:
		e.why = fmt.Sprintf("is controlled by %s %s", ref.Kind, ref.Name)
	case obj.GetLabels()[boxv1.LabelManagedBy] != boxv1.ManagedBy:
		e.why = fmt.Sprintf("was not made by this operator (no label %s=%s, no owner)", boxv1.LabelManagedBy, boxv1.ManagedBy)
	default:
		e.why = "has no controller owner (someone made it, or removed this showtime's owner reference)"
	}
	return e
}

// apiReader reads past the cache.
func (r *ShowtimeReconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// getLive reads obj from the cache and, when the cache has no such object,
// from the API server. found is false when neither has it.
func (r *ShowtimeReconciler) getLive(ctx context.Context, key types.NamespacedName, obj client.Object) (bool, error) {
	err := r.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = r.apiReader().Get(ctx, key, obj)
	}
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	default:
		return false, err
	}
}

// ensureRandomSecret returns the value of a generated Secret, creating it with
// a fresh random value the first time. A Secret of that name that is not the
// showtime's own is reported, never read or adopted.
func (r *ShowtimeReconciler) ensureRandomSecret(ctx context.Context, st *boxv1.Showtime, name, component, dataKey string) (string, error) {
	sec := &corev1.Secret{}
	key := types.NamespacedName{Namespace: st.Namespace, Name: name}
	found, err := r.getLive(ctx, key, sec)
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", key, err)
	}
	if !found {
		v, err := specs.NewToken()
		if err != nil {
			return "", fmt.Errorf("making secret %s: %w", key, err)
		}
		err = r.Create(ctx, specs.RandomSecret(st, name, component, dataKey, v), client.FieldOwner(specs.FieldOwner))
		if err == nil {
			return v, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating secret %s: %w", key, err)
		}
		// Made between the read and the create: read it once, from the API
		// server, and judge it like any other.
		if err := r.apiReader().Get(ctx, key, sec); err != nil {
			return "", fmt.Errorf("reading secret %s, which its create reported as existing: %w", key, err)
		}
	}
	if err := checkOwned(sec, "Secret", st); err != nil {
		return "", err
	}
	v := sec.Data[dataKey]
	if len(v) == 0 {
		return "", fmt.Errorf("secret %s has no %q key; delete it to have a new one made", key, dataKey)
	}
	return string(v), nil
}

// applyable is an apply configuration that knows its own name.
type applyable interface {
	runtime.ApplyConfiguration
	GetName() *string
	GetNamespace() *string
}

// applyOwned applies desired with server-side apply, but only when the fields
// this operator owns on the live object differ from desired: a reconcile with
// nothing to do makes no API write. A field someone else took over (kubectl
// edit) shows up as a difference and is taken back; an object of that name
// that is not st's own is reported and left alone. live receives the object
// as the API server answered, never a cache read that may not have it yet.
func applyOwned[T client.Object](ctx context.Context, r *ShowtimeReconciler, st *boxv1.Showtime, desired applyable, live T,
	extract func(T) (any, error)) error {
	key := types.NamespacedName{Namespace: *desired.GetNamespace(), Name: *desired.GetName()}
	kind := kindName(r, live)
	found, err := r.getLive(ctx, key, live)
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", kind, key, err)
	}
	if found {
		if err := checkOwned(live, kind, st); err != nil {
			return err
		}
		if owned, xerr := extract(live); xerr == nil && ownsDesired(owned, desired) {
			return nil
		}
	}
	if err := r.Apply(ctx, desired, client.FieldOwner(specs.FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", kind, key, err)
	}
	logf.FromContext(ctx).V(1).Info("applied", "kind", kind, "object", key)
	// Apply wrote the API server's answer into desired.
	b, err := json.Marshal(desired)
	if err != nil {
		return fmt.Errorf("reading the applied %s %s: %w", kind, key, err)
	}
	reflect.ValueOf(live).Elem().SetZero()
	if err := json.Unmarshal(b, live); err != nil {
		return fmt.Errorf("reading the applied %s %s: %w", kind, key, err)
	}
	return nil
}

// kindName is obj's kind as on-call knows it (StatefulSet, not
// *v1.StatefulSet).
func kindName(r *ShowtimeReconciler, obj client.Object) string {
	if r.Scheme != nil {
		if gvks, _, err := r.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
			return gvks[0].Kind
		}
	}
	return fmt.Sprintf("%T", obj)
}

// ownsDesired reports whether every field of desired is already on the live
// object's owned fields with the same value. Fields the API server filled in
// by default inside atomic lists (a PVC template's volumeMode) are extra on
// the live side and do not count as drift.
func ownsDesired(owned, desired any) bool {
	var o, d any
	if !roundTrip(owned, &o) || !roundTrip(desired, &d) {
		return false
	}
	return jsonSubset(d, o)
}

func roundTrip(v any, out *any) bool {
	b, err := json.Marshal(v)
	return err == nil && json.Unmarshal(b, out) == nil
}

func jsonSubset(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			hv, present := h[k]
			if !present {
				if isZeroJSON(wv) {
					continue
				}
				return false
			}
			if !jsonSubset(wv, hv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !jsonSubset(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return want == have
	}
}

func isZeroJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	}
	return false
}
