package controllers

import (
	"fmt"
	"slices"
	"testing"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestNoteImage(t *testing.T) {
	img := func(v int) string { return fmt.Sprintf("registry.example/boxoffice:v%d", v) }
	tests := []struct {
		name    string
		h       boxv1.ImageHistory
		running string
		want    boxv1.ImageHistory
	}{
		{name: "first image", running: img(1), want: boxv1.ImageHistory{Current: img(1), History: []string{img(1)}}},
		{name: "nothing running", h: boxv1.ImageHistory{Current: img(1), History: []string{img(1)}},
			want: boxv1.ImageHistory{Current: img(1), History: []string{img(1)}}},
		{name: "same image again", h: boxv1.ImageHistory{Current: img(2), Previous: img(1), History: []string{img(2), img(1)}}, running: img(2),
			want: boxv1.ImageHistory{Current: img(2), Previous: img(1), History: []string{img(2), img(1)}}},
		{name: "new image", h: boxv1.ImageHistory{Current: img(2), Previous: img(1), History: []string{img(2), img(1)}}, running: img(3),
			want: boxv1.ImageHistory{Current: img(3), Previous: img(2), History: []string{img(3), img(2), img(1)}}},
		{name: "back to an older image moves it to the front", h: boxv1.ImageHistory{Current: img(3), Previous: img(2), History: []string{img(3), img(2), img(1)}},
			running: img(1), want: boxv1.ImageHistory{Current: img(1), Previous: img(3), History: []string{img(1), img(3), img(2)}}},
		{name: "recorded before the history existed", h: boxv1.ImageHistory{Current: img(2), Previous: img(1)}, running: img(3),
			want: boxv1.ImageHistory{Current: img(3), Previous: img(2), History: []string{img(3), img(2), img(1)}}},
		{name: "recorded before the history existed, nothing new", h: boxv1.ImageHistory{Current: img(2), Previous: img(1)},
			want: boxv1.ImageHistory{Current: img(2), Previous: img(1), History: []string{img(2), img(1)}}},
		{name: "bounded: the oldest goes",
			h:       boxv1.ImageHistory{Current: img(10), Previous: img(9), History: []string{img(10), img(9), img(8), img(7), img(6), img(5), img(4), img(3), img(2), img(1)}},
			running: img(11),
			want: boxv1.ImageHistory{Current: img(11), Previous: img(10),
				History: []string{img(11), img(10), img(9), img(8), img(7), img(6), img(5), img(4), img(3), img(2)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.History = slices.Clone(tc.h.History)
			noteImage(&h, tc.running)
			if h.Current != tc.want.Current || h.Previous != tc.want.Previous || !slices.Equal(h.History, tc.want.History) {
				t.Errorf("noteImage = %+v, want %+v", h, tc.want)
			}
			if len(h.History) > boxv1.MaxImageHistory {
				t.Errorf("history has %d entries, more than %d", len(h.History), boxv1.MaxImageHistory)
			}
		})
	}
}

func TestReadyFrontendImage(t *testing.T) {
	dep := func(gen, observed int64, replicas, updated, ready int32) *appsv1.Deployment {
		d := &appsv1.Deployment{}
		d.Generation = gen
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "sidecar", Image: "other"}, {Name: boxv1.ComponentFrontend, Image: "fe:v2"}}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated, ReadyReplicas: ready}
		return d
	}
	tests := []struct {
		name string
		dep  *appsv1.Deployment
		want string
	}{
		{name: "no deployment", dep: nil},
		{name: "rolled out and ready", dep: dep(3, 3, 2, 2, 2), want: "fe:v2"},
		{name: "rolled out, one of two ready", dep: dep(3, 3, 2, 2, 1), want: "fe:v2"},
		{name: "new template not acted on yet", dep: dep(4, 3, 2, 2, 2)},
		{name: "rolling update: old pods still run", dep: dep(3, 3, 3, 1, 2)},
		{name: "none ready", dep: dep(3, 3, 2, 2, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := readyFrontendImage(tc.dep); got != tc.want {
				t.Errorf("readyFrontendImage = %q, want %q", got, tc.want)
			}
		})
	}
}
