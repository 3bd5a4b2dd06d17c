package canary

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// waitingIsNormal are the waiting reasons of a container on its way up.
var waitingIsNormal = map[string]bool{"": true, "ContainerCreating": true, "PodInitializing": true}

// StartProblem reports why a pod's containers cannot start, when they
// cannot: a waiting reason such as ErrImagePull, ImagePullBackOff,
// CrashLoopBackOff, CreateContainerError, CreateContainerConfigError or
// InvalidImageName (with the kubelet's message), or a pod the scheduler
// could not place. ok is false while the pod is on its normal way up.
func StartProblem(pod *corev1.Pod) (reason, message string, ok bool) {
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && !waitingIsNormal[w.Reason] {
			msg := fmt.Sprintf("container %s: %s", cs.Name, w.Reason)
			if w.Message != "" {
				msg += ": " + w.Message
			}
			return w.Reason, msg, true
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return "Terminated", fmt.Sprintf("container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason), true
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			reason := c.Reason
			if reason == "" {
				reason = "Unschedulable"
			}
			return reason, "not scheduled: " + c.Message, true
		}
	}
	return "", "", false
}

// DescribeNewPod says what a new pod that is not Ready yet is doing, in the
// words of what (of whom) it is: "new shard pod cannot start: container
// shard: ImagePullBackOff: ...", "new shard pod created; container not
// started yet (ContainerCreating)", "new shard pod running, replaying its
// log (not ready yet)". replaying is what the running container does until
// it is Ready.
func DescribeNewPod(pod *corev1.Pod, what, replaying string) string {
	if _, msg, ok := StartProblem(pod); ok {
		return "new " + what + " pod cannot start: " + msg
	}
	running := len(pod.Status.ContainerStatuses) > 0
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil {
			running = false
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				return fmt.Sprintf("new %s pod created; container %s not started yet (%s)", what, cs.Name, w.Reason)
			}
		}
	}
	if !running {
		if pod.Spec.NodeName == "" {
			return "new " + what + " pod created; waiting to be scheduled"
		}
		return "new " + what + " pod created; its containers are not started yet"
	}
	return "new " + what + " pod running, " + replaying + " (not ready yet)"
}
