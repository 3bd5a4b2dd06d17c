//go:build e2e

package e2e

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"boxoffice.dev/boxoffice/internal/localcluster/fault"
)

// spreadDeployment is n sleeping pods that must each be on their own node.
func spreadDeployment(name string, n int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	grace := int64(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers:                    []corev1.Container{{Name: "sleep", Image: "sleep", Args: []string{"600"}}},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
							LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
							TopologyKey:   corev1.LabelHostname,
						}},
					}},
				},
			},
		},
	}
}

func nodeReady(ctx context.Context, name string) corev1.ConditionStatus {
	n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// spreadPods are the Deployment's ready pods by node.
func spreadPods(ctx context.Context, app string) map[string]corev1.Pod {
	pods, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	Expect(err).NotTo(HaveOccurred())
	out := map[string]corev1.Pod{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && podReady(&p) {
			out[p.Spec.NodeName] = p
		}
	}
	return out
}

var _ = Describe("Nodes", func() {
	It("spreads required anti-affinity over three zones, and a killed node goes NotReady and comes back Ready with its pod", func(ctx SpecContext) {
		began := time.Now()
		Expect(lc.Nodes).To(HaveLen(3))
		zones := map[string]bool{}
		for _, name := range lc.Nodes {
			n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(n.Labels).To(HaveKeyWithValue(corev1.LabelHostname, name))
			zones[n.Labels[corev1.LabelTopologyZone]] = true
		}
		Expect(zones).To(HaveLen(3), "one zone per node")

		By("scheduling three replicas that refuse to share a node")
		d := spreadDeployment("spread", 3)
		_, err := kube.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			_ = kube.AppsV1().Deployments("default").Delete(ctx, d.Name, metav1.DeleteOptions{})
		})
		Eventually(func() map[string]corev1.Pod { return spreadPods(ctx, d.Name) }).
			WithTimeout(30*time.Second).WithPolling(500*time.Millisecond).Should(HaveLen(3), "one ready pod on each node")

		fc := fault.NewClient(lc.ControlSocket)
		victim := lc.Nodes[1]
		before := spreadPods(ctx, d.Name)[victim]
		By("killing " + victim)
		st, err := fc.Do(ctx, victim, fault.Kill)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.State).To(Equal(fault.Killed))
		_, err = fc.Do(ctx, victim, fault.Pause)
		Expect(err).To(MatchError(ContainSubstring("409")), "a killed node cannot be paused")
		Eventually(func() corev1.ConditionStatus { return nodeReady(ctx, victim) }).
			WithTimeout(30*time.Second).WithPolling(time.Second).Should(Equal(corev1.ConditionUnknown), "the node controller sees the silent node")
		Eventually(func() bool {
			p, err := kube.CoreV1().Pods("default").Get(ctx, before.Name, metav1.GetOptions{})
			return err == nil && !podReady(p)
		}).WithTimeout(10*time.Second).WithPolling(time.Second).Should(BeTrue(), "the killed node's pod is marked not ready")
		Expect(spreadPods(ctx, d.Name)).To(HaveLen(2), "the other nodes' pods run on")
		timings["nodes: spread, kill, NotReady"] = time.Since(began)

		By("healing " + victim)
		st, err = fc.Do(ctx, victim, fault.Heal)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.State).To(Equal(fault.Running))
		Eventually(func() corev1.ConditionStatus { return nodeReady(ctx, victim) }).
			WithTimeout(15 * time.Second).WithPolling(500 * time.Millisecond).Should(Equal(corev1.ConditionTrue))
		Eventually(func() map[string]corev1.Pod { return spreadPods(ctx, d.Name) }).
			WithTimeout(30*time.Second).WithPolling(500*time.Millisecond).Should(HaveKeyWithValue(victim, HaveField("Name", before.Name)), "the rebooted node restarts its pod")
		timings["nodes: spread, kill, heal, Ready"] = time.Since(began)
	})

	It("pauses a node: NotReady while its pods are stopped, Ready again on heal", func(ctx SpecContext) {
		fc := fault.NewClient(lc.ControlSocket)
		victim := lc.Nodes[2]
		_, err := fc.Do(ctx, victim, fault.Pause)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { _, _ = fc.Do(ctx, victim, fault.Heal) })
		nodes, err := fc.Nodes(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(nodes).To(ContainElement(HaveField("State", fault.Paused)))
		Eventually(func() corev1.ConditionStatus { return nodeReady(ctx, victim) }).
			WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Equal(corev1.ConditionUnknown))
		_, err = fc.Do(ctx, victim, fault.Heal)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() corev1.ConditionStatus { return nodeReady(ctx, victim) }).
			WithTimeout(15 * time.Second).WithPolling(500 * time.Millisecond).Should(Equal(corev1.ConditionTrue))
	})
})
