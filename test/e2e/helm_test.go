//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// startCluster runs a second local cluster with no manager of its own (its
// own state dir, bridge and pod range, so it runs beside the suite's) and
// returns what its ready file says and how to stop it.
func startCluster(name, bridge, cidr string, images ...string) (cluster, func()) {
	args := []string{"up", "--state-dir=/var/tmp/boxoffice-" + name, "--bridge=" + bridge, "--pod-cidr=" + cidr,
		"--bins=" + env("LOCALCLUSTER_BINS"), "--repo=" + repo}
	for _, img := range images {
		args = append(args, "--image="+img)
	}
	l := startLocalCluster(name, args...)
	return l.waitReady(3 * time.Minute), l.stop
}

// containerPID finds the host process of a pod's container on the local
// cluster: argv[0] is the image's entry point and HOSTNAME the pod's name.
func containerPID(pod, entry string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.HasPrefix(cmdline, []byte(entry+"\x00")) {
			continue
		}
		environ, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, environ...), []byte("\x00HOSTNAME="+pod+"\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		return pid
	}
	return 0
}

var _ = Describe("The Helm chart on the local cluster", Ordered, func() {
	const (
		release = "box"
		sysNS   = "boxoffice-system"
		leaseID = "boxoffice-operator.boxoffice.dev"
	)
	var (
		ctx     = context.Background()
		hc      cluster
		hkube   kubernetes.Interface
		hdyn    dynamic.Interface
		stName  string
		manager = "app.kubernetes.io/instance=" + release + ",control-plane=boxoffice-operator"
	)

	helm := func(args ...string) string {
		bin := env("HELM")
		home := GinkgoT().TempDir()
		cmd := exec.Command(bin, append(args, "--kubeconfig", hc.Kubeconfig)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "helm %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	managerPods := func() []corev1.Pod {
		l, err := hkube.CoreV1().Pods(sysNS).List(ctx, metav1.ListOptions{LabelSelector: manager})
		Expect(err).NotTo(HaveOccurred())
		return l.Items
	}
	readyWebhookEndpoints := func() int {
		l, err := hkube.DiscoveryV1().EndpointSlices(sysNS).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + release + "-boxoffice-webhook"})
		Expect(err).NotTo(HaveOccurred())
		n := 0
		for _, es := range l.Items {
			for _, ep := range es.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					n++
				}
			}
		}
		return n
	}
	patchShardImage := func(image string, dryRun bool) error {
		patch := fmt.Sprintf(`{"spec":{"shard":{"image":%q}}}`, image)
		opts := metav1.PatchOptions{}
		if dryRun {
			// The webhooks judge a dry run too (sideEffects NoneOnDryRun),
			// and a refused edit that slipped through changes nothing.
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err := hdyn.Resource(showtimes).Namespace(ns).Patch(ctx, stName, types.MergePatchType, []byte(patch), opts)
		return err
	}
	setShardImage := func(image string) error { return patchShardImage(image, false) }
	tryOtherImage := func() error { return patchShardImage("boxoffice:other", true) }
	shardRunning := func(image string, timeout time.Duration) {
		Eventually(func(g Gomega) {
			u, err := hdyn.Resource(showtimes).Namespace(ns).Get(ctx, stName, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			img, _, _ := unstructured.NestedString(u.Object, "status", "shard", "image")
			phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
			g.Expect(img).To(Equal(image), "%v", u.Object["status"])
			g.Expect(phase).To(Equal("OnSale"), "%v", u.Object["status"])
		}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
	}

	BeforeAll(func() {
		var stop func()
		box := env("BOXOFFICE_BIN")
		hc, stop = startCluster("e2e-helm", "bxe2h0", "10.244.8.0/24", "boxoffice:dev="+box, "boxoffice:next="+box)
		DeferCleanup(stop)
		c, err := clientcmd.BuildConfigFromFlags("", hc.Kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		hkube = kubernetes.NewForConfigOrDie(c)
		hdyn = dynamic.NewForConfigOrDie(c)
	})

	It("installs with helm install: two manager pods, the sample Showtime on sale", func() {
		began := time.Now()
		helm("install", release, filepath.Join(repo, "charts", "boxoffice"), "-n", sysNS, "--create-namespace",
			"--set", "image.repository=boxoffice", "--set", "image.tag=dev", "--wait", "--timeout", "2m")
		timings["helm install to both managers Ready"] = time.Since(began)
		pods := managerPods()
		Expect(pods).To(HaveLen(2))
		for _, p := range pods {
			Expect(podReady(&p)).To(BeTrue(), "%s: %v", p.Name, p.Status)
			Expect(*p.Spec.SecurityContext.RunAsUser).To(BeEquivalentTo(65532))
		}
		// Both serve the webhooks, leader or not. The EndpointSlice follows
		// the pods' readiness a moment after helm --wait saw it.
		Eventually(readyWebhookEndpoints).WithTimeout(20 * time.Second).WithPolling(250 * time.Millisecond).Should(Equal(2))
		_, err := hkube.PolicyV1().PodDisruptionBudgets(sysNS).Get(ctx, release+"-boxoffice", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())

		_, err = hkube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		st := sampleShowtime()
		stName = st.GetName()
		// The API server reaches the webhooks through their Service: a seat
		// listed twice (which only the webhook's parser sees) is refused.
		bad := st.DeepCopy()
		sections, _, _ := unstructured.NestedSlice(bad.Object, "spec", "seatMap", "sections")
		first := sections[0].(map[string]any)
		first["rows"] = append(first["rows"].([]any), map[string]any{"names": "A", "seats": "1"})
		Expect(unstructured.SetNestedSlice(bad.Object, sections, "spec", "seatMap", "sections")).To(Succeed())
		_, err = hdyn.Resource(showtimes).Namespace(ns).Create(ctx, bad, metav1.CreateOptions{})
		Expect(err).To(MatchError(And(ContainSubstring(`admission webhook "vshowtime.boxoffice.dev" denied the request`), ContainSubstring("spec.seatMap"))))

		began = time.Now()
		_, err = hdyn.Resource(showtimes).Namespace(ns).Create(ctx, st, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		shardRunning("boxoffice:dev", 90*time.Second)
		timings["chart-installed manager: apply to OnSale"] = time.Since(began)
	})

	It("admits a rollback during a freeze while one of the two manager pods is down", func() {
		// A new shard version, then a freeze: from here on only a rollback
		// (or a scale-up) of the Showtime passes the webhook.
		Expect(setShardImage("boxoffice:next")).To(Succeed())
		shardRunning("boxoffice:next", 90*time.Second)
		fw := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "boxoffice.dev/v1alpha1", "kind": "FreezeWindow",
			"metadata": map[string]any{"name": "e2e-helm-freeze"},
			"spec": map[string]any{"reason": "sale day", "oneOff": map[string]any{
				"start": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
				"end":   time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}},
		}}
		_, err := hdyn.Resource(freezeWindow).Create(ctx, fw, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(tryOtherImage).
			WithTimeout(20 * time.Second).WithPolling(500 * time.Millisecond).Should(MatchError(ContainSubstring("e2e-helm-freeze")))

		// The leader dies as if OOM-killed: its process gets SIGKILL, and the
		// pod stays down through the restart back-off.
		lease, err := hkube.CoordinationV1().Leases(sysNS).Get(ctx, leaseID, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		leader, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_")
		pid := containerPID(leader, "/boxoffice")
		Expect(pid).NotTo(BeZero(), "no process for manager pod %s", leader)
		Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed())
		downSince := time.Now()
		Eventually(readyWebhookEndpoints).WithTimeout(10 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(1))
		leaderDown := func() bool {
			p, err := hkube.CoreV1().Pods(sysNS).Get(ctx, leader, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			return !podReady(p)
		}
		Expect(leaderDown()).To(BeTrue())

		// The rollback passes, answered by the other replica; an ordinary
		// edit is still refused (the webhook answers, it does not fail open).
		Expect(setShardImage("boxoffice:dev")).To(Succeed())
		Expect(tryOtherImage()).To(MatchError(ContainSubstring("e2e-helm-freeze")))
		Expect(leaderDown()).To(BeTrue(), "the killed manager pod came back before the writes: nothing was shown")
		GinkgoWriter.Printf("rollback admitted %s after the leader was killed, with one manager pod down\n", time.Since(downSince).Round(100*time.Millisecond))

		// The surviving replica takes the lease and carries the rollback out.
		shardRunning("boxoffice:dev", 90*time.Second)
		timings["leader killed to rollback carried out"] = time.Since(downSince)
	})
})
