package canary

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func waiting(reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "shard", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
}

func TestDescribeNewPod(t *testing.T) {
	running := corev1.ContainerStatus{Name: "shard", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	cases := []struct {
		name   string
		pod    corev1.Pod
		want   string
		reason string
	}{
		{"image not present",
			corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
				waiting("ErrImageNeverPull", `image "boxoffice:next" is not present`)}}},
			`new shard pod cannot start: container shard: ErrImageNeverPull: image "boxoffice:next" is not present`, "ErrImageNeverPull"},
		{"pull back-off",
			corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
				waiting("ImagePullBackOff", "Back-off pulling image")}}},
			"new shard pod cannot start: container shard: ImagePullBackOff: Back-off pulling image", "ImagePullBackOff"},
		{"crash loop",
			corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
				waiting("CrashLoopBackOff", "")}}},
			"new shard pod cannot start: container shard: CrashLoopBackOff", "CrashLoopBackOff"},
		{"create container error",
			corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
				waiting("CreateContainerConfigError", `secret "x" not found`)}}},
			`new shard pod cannot start: container shard: CreateContainerConfigError: secret "x" not found`, "CreateContainerConfigError"},
		{"unschedulable",
			corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Reason: "Unschedulable", Message: "0/3 nodes are available"}}}},
			"new shard pod cannot start: not scheduled: 0/3 nodes are available", "Unschedulable"},
		{"not scheduled yet", corev1.Pod{}, "new shard pod created; waiting to be scheduled", ""},
		{"creating",
			corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating", "")}}},
			"new shard pod created; container shard not started yet (ContainerCreating)", ""},
		{"running, not ready",
			corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{running}}},
			"new shard pod running, replaying its log (not ready yet)", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DescribeNewPod(&c.pod, "shard", "replaying its log"); got != c.want {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
			reason, _, ok := StartProblem(&c.pod)
			if reason != c.reason || ok != (c.reason != "") {
				t.Fatalf("StartProblem = %q %v; want %q", reason, ok, c.reason)
			}
		})
	}
}
