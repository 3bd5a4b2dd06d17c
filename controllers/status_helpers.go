package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Helpers every controller here shares: conditions and pod readiness.

// setStatusCondition sets one condition in conds, stamped with the
// generation of the object whose status holds them. meta.SetStatusCondition
// keeps the transition time while the status stays the same.
func setStatusCondition(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: generation,
	})
}

// conditionStatus is True when ok, else False.
func conditionStatus(ok bool) metav1.ConditionStatus {
	if ok {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// podReadyCondition is the pod's Ready condition, nil when it has none yet.
func podReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// isPodReady tells whether the pod's Ready condition is True.
func isPodReady(pod *corev1.Pod) bool {
	c := podReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// podServing tells whether the pod is Ready and not being deleted.
func podServing(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp.IsZero() && isPodReady(pod)
}
