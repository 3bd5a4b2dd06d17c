package podruntime

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func now() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

// statusLoop writes the pod's status when it changed (and checks every 10 s).
func (r *Runner) statusLoop() {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-r.node.Ctx.Done():
			return
		case <-r.statusCh:
		case <-t.C:
		}
		// Let a burst of changes settle into one write.
		time.Sleep(50 * time.Millisecond)
		if r.node.Ctx.Err() == nil && !r.node.Frozen() {
			r.syncStatus()
		}
	}
}

func condition(conds []corev1.PodCondition, t corev1.PodConditionType, ok bool, reason string) []corev1.PodCondition {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	for i := range conds {
		if conds[i].Type == t {
			if conds[i].Status != status {
				conds[i].Status, conds[i].LastTransitionTime = status, now()
			}
			conds[i].Reason = reason
			if ok {
				conds[i].Reason = ""
			}
			return conds
		}
	}
	c := corev1.PodCondition{Type: t, Status: status, LastTransitionTime: now()}
	if !ok {
		c.Reason = reason
	}
	return append(conds, c)
}

// buildStatus is the pod status from the runner's state, on top of old.
func (r *Runner) buildStatus(old corev1.PodStatus, pod *corev1.Pod) corev1.PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := *old.DeepCopy()
	st.HostIP = r.node.Net.HostIP().String()
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	if r.ip.IsValid() {
		st.PodIP = r.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if !r.startTime.IsZero() && st.StartTime == nil {
		t := r.startTime
		st.StartTime = &t
	}
	st.ContainerStatuses = nil
	allReady, running, allDone, anyFailed := true, false, true, false
	for _, c := range r.ctrs {
		cs := corev1.ContainerStatus{
			Name: c.spec.Name, Image: c.spec.Image, ImageID: "localcluster://" + c.binary,
			ContainerID: c.id, RestartCount: c.restarts, State: *c.state.DeepCopy(), LastTerminationState: *c.lastState.DeepCopy(),
			Ready: c.ready && c.state.Running != nil,
		}
		started := c.started && c.state.Running != nil
		cs.Started = &started
		if c.state.Running != nil {
			running = true
		}
		if !cs.Ready {
			allReady = false
		}
		if c.state.Terminated == nil {
			allDone = false
		} else if c.state.Terminated.ExitCode != 0 {
			anyFailed = true
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	switch {
	case r.stopping && !running:
		// keep the phase: the pod is going away
	case running:
		st.Phase = corev1.PodRunning
	case allDone && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways && !r.stopping:
		if anyFailed && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			st.Phase = corev1.PodFailed
		} else if !anyFailed {
			st.Phase = corev1.PodSucceeded
		} else {
			st.Phase = corev1.PodRunning
		}
	case st.Phase == "" || st.Phase == corev1.PodPending:
		st.Phase = corev1.PodPending
	}
	sandbox := r.netUp
	st.Conditions = condition(st.Conditions, corev1.PodReadyToStartContainers, sandbox, "")
	st.Conditions = condition(st.Conditions, corev1.PodInitialized, true, "")
	why := "ContainersNotReady"
	st.Conditions = condition(st.Conditions, corev1.ContainersReady, allReady && !r.stopping, why)
	st.Conditions = condition(st.Conditions, corev1.PodReady, allReady && !r.stopping, why)
	if r.waitMsg != "" {
		st.Message, st.Reason = r.waitMsg, r.waitWhy
	}
	return st
}

func (r *Runner) syncStatus() {
	ctx := r.node.Ctx
	for attempt := 0; attempt < 4; attempt++ {
		pod, err := r.node.Client.CoreV1().Pods(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if attempt == 0 {
			if cached := r.node.CachedPod(r.ns, r.name); cached != nil {
				pod, err = cached, nil
			}
		}
		if err != nil || pod.UID != r.uid {
			return
		}
		st := r.buildStatus(pod.Status, pod)
		if apiequality.Semantic.DeepEqual(st, pod.Status) {
			return
		}
		p := pod.DeepCopy()
		p.Status = st
		if _, err = r.node.Client.CoreV1().Pods(r.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			if !apierrors.IsNotFound(err) {
				r.logf("status: %v", err)
			}
			return
		}
	}
}
