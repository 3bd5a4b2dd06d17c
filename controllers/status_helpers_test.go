package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodServing(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	withReady := func(s corev1.ConditionStatus) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: s},
		}}}
	}
	deleting := withReady(corev1.ConditionTrue)
	deleting.DeletionTimestamp = &now
	for _, tc := range []struct {
		name           string
		pod            *corev1.Pod
		ready, serving bool
	}{
		{"no conditions yet", &corev1.Pod{}, false, false},
		{"ready", withReady(corev1.ConditionTrue), true, true},
		{"not ready", withReady(corev1.ConditionFalse), false, false},
		{"ready but being deleted", deleting, true, false},
	} {
		if got := isPodReady(tc.pod); got != tc.ready {
			t.Errorf("%s: isPodReady = %v, want %v", tc.name, got, tc.ready)
		}
		if got := podServing(tc.pod); got != tc.serving {
			t.Errorf("%s: podServing = %v, want %v", tc.name, got, tc.serving)
		}
	}
}

func TestSetStatusConditionKeepsTransitionTime(t *testing.T) {
	var conds []metav1.Condition
	setStatusCondition(&conds, 3, "Ready", conditionStatus(true), "Up", "all good")
	c := meta.FindStatusCondition(conds, "Ready")
	if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != 3 || c.Reason != "Up" {
		t.Fatalf("condition %+v", c)
	}
	first := c.LastTransitionTime
	setStatusCondition(&conds, 4, "Ready", conditionStatus(true), "Up", "still good")
	c = meta.FindStatusCondition(conds, "Ready")
	if c.ObservedGeneration != 4 || c.Message != "still good" || !c.LastTransitionTime.Equal(&first) {
		t.Errorf("same status: %+v, want generation 4 and the first transition time", c)
	}
	setStatusCondition(&conds, 4, "Ready", conditionStatus(false), "Down", "gone")
	if c := meta.FindStatusCondition(conds, "Ready"); c.Status != metav1.ConditionFalse || len(conds) != 1 {
		t.Errorf("flip: %+v (%d conditions)", c, len(conds))
	}
}
