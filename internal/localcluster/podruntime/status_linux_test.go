package podruntime

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
)

// testRunner is a runner of pod on a node whose network is never set up:
// what it computes needs no namespace or process.
func testRunner(t *testing.T, pod *corev1.Pod) *Runner {
	t.Helper()
	pn, err := network.NewPodNetwork("test0", "10.9.0.0/24")
	if err != nil {
		t.Fatal(err)
	}
	return New(&Node{Net: pn, StateDir: t.TempDir(), Logf: t.Logf}, pod)
}

func twoContainerPod(policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "0123456789abcdef"},
		Spec:       corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "a", Image: "i"}, {Name: "b", Image: "i"}}},
	}
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func exited(code int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
}

func cond(st corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestBuildStatusPhases(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy corev1.RestartPolicy
		states [2]corev1.ContainerState
		ready  [2]bool
		phase  corev1.PodPhase
		isRdy  corev1.ConditionStatus
	}{
		{"both running and ready", corev1.RestartPolicyAlways, [2]corev1.ContainerState{running(), running()}, [2]bool{true, true}, corev1.PodRunning, corev1.ConditionTrue},
		{"one not ready", corev1.RestartPolicyAlways, [2]corev1.ContainerState{running(), running()}, [2]bool{true, false}, corev1.PodRunning, corev1.ConditionFalse},
		{"still creating", corev1.RestartPolicyAlways, [2]corev1.ContainerState{}, [2]bool{}, corev1.PodPending, corev1.ConditionFalse},
		{"job done", corev1.RestartPolicyOnFailure, [2]corev1.ContainerState{exited(0), exited(0)}, [2]bool{}, corev1.PodSucceeded, corev1.ConditionFalse},
		{"job failed, never restarts", corev1.RestartPolicyNever, [2]corev1.ContainerState{exited(0), exited(1)}, [2]bool{}, corev1.PodFailed, corev1.ConditionFalse},
		{"job failed, restarts on failure", corev1.RestartPolicyOnFailure, [2]corev1.ContainerState{exited(0), exited(1)}, [2]bool{}, corev1.PodRunning, corev1.ConditionFalse},
	} {
		pod := twoContainerPod(tc.policy)
		r := testRunner(t, pod)
		for i, c := range r.ctrs {
			if tc.states[i] != (corev1.ContainerState{}) {
				c.state = tc.states[i]
			}
			c.ready = tc.ready[i]
		}
		st := r.buildStatus(corev1.PodStatus{}, pod)
		if st.Phase != tc.phase || cond(st, corev1.PodReady) != tc.isRdy || cond(st, corev1.ContainersReady) != tc.isRdy {
			t.Errorf("%s: phase %s, Ready %s; want %s, %s", tc.name, st.Phase, cond(st, corev1.PodReady), tc.phase, tc.isRdy)
		}
		if st.HostIP != "10.9.0.1" || len(st.ContainerStatuses) != 2 {
			t.Errorf("%s: host IP %s, %d container statuses", tc.name, st.HostIP, len(st.ContainerStatuses))
		}
	}
}

func TestBuildStatusStoppingPodIsNotReady(t *testing.T) {
	pod := twoContainerPod(corev1.RestartPolicyAlways)
	r := testRunner(t, pod)
	for _, c := range r.ctrs {
		c.state, c.ready = running(), true
	}
	r.stopping = true
	if st := r.buildStatus(corev1.PodStatus{Phase: corev1.PodRunning}, pod); cond(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Error("a pod being stopped must leave its Services at once")
	}
}

func TestConditionKeepsTransitionTime(t *testing.T) {
	conds := condition(nil, corev1.PodReady, false, "ContainersNotReady")
	if len(conds) != 1 || conds[0].Status != corev1.ConditionFalse || conds[0].Reason != "ContainersNotReady" {
		t.Fatalf("new condition %+v", conds)
	}
	old := metav1.NewTime(time.Unix(1000, 0))
	conds[0].LastTransitionTime = old
	conds = condition(conds, corev1.PodReady, false, "ContainersNotReady")
	if !conds[0].LastTransitionTime.Equal(&old) {
		t.Error("an unchanged status moved its transition time")
	}
	conds = condition(conds, corev1.PodReady, true, "ContainersNotReady")
	if len(conds) != 1 || conds[0].Status != corev1.ConditionTrue || conds[0].Reason != "" || conds[0].LastTransitionTime.Equal(&old) {
		t.Errorf("turned true: %+v", conds[0])
	}
}

func TestGraceFor(t *testing.T) {
	r := testRunner(t, twoContainerPod(corev1.RestartPolicyAlways))
	sec := func(s int64) *int64 { return &s }
	for _, tc := range []struct {
		pod  *corev1.Pod
		want time.Duration
	}{
		{nil, 2 * time.Second},
		{&corev1.Pod{}, 30 * time.Second},
		{&corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: sec(5)}}, 5 * time.Second},
		{&corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionGracePeriodSeconds: sec(1)}, Spec: corev1.PodSpec{TerminationGracePeriodSeconds: sec(5)}}, time.Second},
	} {
		if got := r.graceFor(tc.pod); got != tc.want {
			t.Errorf("graceFor(%+v) = %s, want %s", tc.pod, got, tc.want)
		}
	}
}

func TestNewNamesThePodsLinks(t *testing.T) {
	r := testRunner(t, twoContainerPod(corev1.RestartPolicyAlways))
	if r.Netns() != "test0-01234567" || r.veth != "bxv01234567" || r.Key() != "ns/p" || len(r.ctrs) != 2 {
		t.Errorf("netns %s veth %s key %s containers %d", r.Netns(), r.veth, r.Key(), len(r.ctrs))
	}
	if w := r.ctrs[0].state.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Errorf("a new container waits in ContainerCreating: %+v", r.ctrs[0].state)
	}
}
