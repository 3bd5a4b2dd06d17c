package controllers

import (
	"context"
	"fmt"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// selectedNodeAnnotation is set on a claim provisioned for the node its
// first pod was scheduled to (WaitForFirstConsumer storage).
const selectedNodeAnnotation = "volume.kubernetes.io/selected-node"

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;delete

// reconcileMemberReplacement replaces a replicated shard's member whose node
// is lost (deleted, or NotReady past NodeLostAfter): it deletes the member's
// claim and then its pod. The StatefulSet makes both again; the new pod
// starts on another node with an empty data directory, finds the cluster
// already running, and joins under a new Raft id that replaces the slot's
// old one in one membership change (shard/README.md "Cluster mode"), so the
// old identity can never vote or lead again, even if its node comes back.
func (r *ShowtimeReconciler) reconcileMemberReplacement(ctx context.Context, s *scope) error {
	if s.cluster == nil {
		return nil
	}
	facts, err := r.memberFacts(ctx, s)
	if err != nil {
		return err
	}
	plan := planReplacement(facts, s.cluster.Quorum(), s.now, r.nodeLostAfter())
	if plan.Recheck > 0 {
		s.requeue(plan.Recheck)
	}
	s.replacementBlocked = plan.Blocked
	if plan.Replace == nil {
		return nil
	}
	s.memberReplaced = true
	return r.replaceMember(ctx, s, plan)
}

func (r *ShowtimeReconciler) nodeLostAfter() time.Duration {
	if r.NodeLostAfter > 0 {
		return r.NodeLostAfter
	}
	return DefaultNodeLostAfter
}

// memberFacts reads where each member lives and whether that node is there.
func (r *ShowtimeReconciler) memberFacts(ctx context.Context, s *scope) ([]memberFacts, error) {
	var out []memberFacts
	for i, name := range s.st.ShardPodNames() {
		f := memberFacts{Ordinal: i, Pod: name}
		if p := s.memberPods[name]; p != nil {
			f.Ready = podServing(p)
			f.Node = p.Spec.NodeName
		}
		if f.Node == "" {
			pvc := &corev1.PersistentVolumeClaim{}
			err := r.Get(ctx, types.NamespacedName{Namespace: s.st.Namespace, Name: s.st.ShardClaimName(i)}, pvc)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading claim of member %s: %w", name, err)
			}
			f.Node = pvc.Annotations[selectedNodeAnnotation]
		}
		if f.Node != "" && !f.Ready {
			node := &corev1.Node{}
			err := r.Get(ctx, types.NamespacedName{Name: f.Node}, node)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return nil, fmt.Errorf("reading node %s of member %s: %w", f.Node, name, err)
			default:
				f.NodeFound = true
				for _, c := range node.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
						f.NodeNotReadySince = c.LastTransitionTime.Time
					}
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// replaceMember deletes the lost member's claim, then force-deletes its pod
// (its kubelet is gone and would never confirm a graceful delete). The claim
// goes once no pod uses it; the StatefulSet then makes a new, empty one.
func (r *ShowtimeReconciler) replaceMember(ctx context.Context, s *scope, plan replacementPlan) error {
	m := plan.Replace
	pvc := &corev1.PersistentVolumeClaim{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.st.Namespace, Name: s.st.ShardClaimName(m.Ordinal)}, pvc)
	if err == nil && pvc.DeletionTimestamp.IsZero() {
		if err := r.Delete(ctx, pvc, client.Preconditions{UID: &pvc.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the claim of lost member %s: %w", m.Pod, err)
		}
	} else if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading the claim of lost member %s: %w", m.Pod, err)
	}
	if p := s.memberPods[m.Pod]; p != nil {
		if err := r.Delete(ctx, p, client.Preconditions{UID: &p.UID}, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting lost member %s: %w", m.Pod, err)
		}
	}
	msg := fmt.Sprintf("replacing shard member %s: %s; its claim %s and pod were deleted, and the new member joins with an empty volume under a new Raft id",
		m.Pod, plan.Why, s.st.ShardClaimName(m.Ordinal))
	r.Recorder.Eventf(s.st, nil, corev1.EventTypeWarning, "ShardMemberReplaced", "Replace", "%s", msg)
	shardMemberReplacements.WithLabelValues(s.st.Namespace, s.st.Name).Inc()
	logf.FromContext(ctx).Info("replaced a lost shard member", "pod", m.Pod, "node", m.Node, "why", plan.Why)
	return nil
}

// nodeToShowtimes maps a node to the showtimes with a shard member on it.
func (r *ShowtimeReconciler) nodeToShowtimes() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
		pods := &corev1.PodList{}
		if err := r.List(ctx, pods, client.MatchingLabels{boxv1.LabelComponent: boxv1.ComponentShard}); err != nil {
			logf.FromContext(ctx).Error(err, "listing shard pods for a node change", "node", o.GetName())
			return nil
		}
		seen := map[types.NamespacedName]bool{}
		var out []ctrl.Request
		for _, p := range pods.Items {
			name, ok := p.Labels[boxv1.LabelShowtime]
			key := types.NamespacedName{Namespace: p.Namespace, Name: name}
			if ok && p.Spec.NodeName == o.GetName() && !seen[key] {
				seen[key] = true
				out = append(out, ctrl.Request{NamespacedName: key})
			}
		}
		return out
	})
}

// nodeReadinessChanged passes a node's deletion and changes of its Ready
// condition, not its frequent heartbeats.
func nodeReadinessChanged() predicate.Predicate {
	ready := func(o client.Object) corev1.ConditionStatus {
		n, ok := o.(*corev1.Node)
		if !ok {
			return ""
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status
			}
		}
		return corev1.ConditionUnknown
	}
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc:  func(e event.UpdateEvent) bool { return ready(e.ObjectOld) != ready(e.ObjectNew) },
	}
}
