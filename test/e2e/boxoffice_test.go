//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/localcluster/network"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

const ns = "e2e"

var (
	showtimes     = schema.GroupVersionResource{Group: "boxoffice.dev", Version: "v1alpha1", Resource: "showtimes"}
	freezeWindow  = schema.GroupVersionResource{Group: "boxoffice.dev", Version: "v1alpha1", Resource: "freezewindows"}
	shardRollouts = schema.GroupVersionResource{Group: "boxoffice.dev", Version: "v1alpha1", Resource: "shardrollouts"}
)

// sampleShowtime is config/samples' Showtime, on sale since a minute ago,
// with demo payments.
func sampleShowtime() *unstructured.Unstructured {
	b, err := os.ReadFile(filepath.Join(repo, "config", "samples", "boxoffice_v1alpha1_showtime.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var m map[string]any
	Expect(yaml.Unmarshal(b, &m)).To(Succeed())
	u := &unstructured.Unstructured{Object: m}
	u.SetNamespace(ns)
	Expect(unstructured.SetNestedField(m, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "spec", "sales", "opensAt")).To(Succeed())
	Expect(unstructured.SetNestedField(m, time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339), "spec", "sales", "closesAt")).To(Succeed())
	Expect(unstructured.SetNestedField(m, time.Now().Add(31*24*time.Hour).UTC().Format(time.RFC3339), "spec", "startsAt")).To(Succeed())
	Expect(unstructured.SetNestedField(m, true, "spec", "frontend", "payments", "demo")).To(Succeed())
	// The suite talks plain HTTP to pod IPs, and all its buyers come from
	// one address: no Secure cookie, no per-client limits.
	Expect(unstructured.SetNestedField(m, true, "spec", "frontend", "plainHTTP")).To(Succeed())
	Expect(unstructured.SetNestedMap(m, map[string]any{"newSessionsPerMinute": int64(0), "seatsPerHoldTTL": int64(0),
		"streamsPerClient": int64(0)}, "spec", "frontend", "clientLimits")).To(Succeed())
	// The sale freeze (on by default around opensAt) would refuse the
	// suite's own edits and the final delete; the freeze test uses a window.
	Expect(unstructured.SetNestedField(m, false, "spec", "sales", "freeze", "enabled")).To(Succeed())
	return u
}

func getShowtime(ctx context.Context, name string) *unstructured.Unstructured {
	u, err := dyn.Resource(showtimes).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return u
}

func seatCount(u *unstructured.Unstructured, field string) int64 {
	v, _, _ := unstructured.NestedInt64(u.Object, "status", "seats", field)
	return v
}

func readyAddresses(ctx context.Context, svc string) []string {
	l, err := kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	Expect(err).NotTo(HaveOccurred())
	return network.ReadyAddresses(l.Items)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// buyer is one browser: a cookie jar (the session is the holder) and a front-end pod.
type buyer struct {
	c    *http.Client
	base string
}

func newBuyer(frontendIP string) *buyer {
	jar, _ := cookiejar.New(nil)
	return &buyer{c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, base: "http://" + frontendIP + ":8080"}
}

func (b *buyer) do(method, path string, body any) (int, map[string]any) {
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.base+path, r)
	Expect(err).NotTo(HaveOccurred())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (b *buyer) hold(seats ...string) (int, map[string]any) {
	return b.do(http.MethodPost, "/api/holds", map[string]any{"seats": seats})
}

func kubectl(args ...string) string {
	kc := filepath.Join(lc.Bins, "kubectl")
	if _, err := os.Stat(kc); err != nil {
		Skip("kubectl is not built in " + lc.Bins + " (hack/envtest-bins.sh kubectl)")
	}
	out, err := exec.Command(kc, append([]string{"--kubeconfig", lc.Kubeconfig}, args...)...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return string(out)
}

var _ = Describe("Box office on the local cluster", Ordered, func() {
	var (
		ctx       = context.Background()
		name      string
		showtime  *boxv1.Showtime // names the objects the sample owns
		seatIDs   []string
		frontends []string
		// holds acknowledged to buyers: hold id -> (buyer, state)
		acked = map[string]struct {
			b     *buyer
			state string
		}{}
	)

	BeforeAll(func() {
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
	})

	It("runs the sample Showtime: shard and front ends Ready, every seat free", func() {
		st := sampleShowtime()
		name = st.GetName()
		showtime = boxv1.NamedShowtime(ns, name)
		began := time.Now()
		_, err := dyn.Resource(showtimes).Namespace(ns).Apply(ctx, name, st, metav1.ApplyOptions{FieldManager: "e2e", Force: true})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			u := getShowtime(ctx, name)
			phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
			g.Expect(phase).To(BeElementOf("Ready", "OnSale"))
		}).WithTimeout(5 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
		timings["apply -> Showtime Ready"] = time.Since(began)

		// Ready needs a majority of the three members: the first may still
		// be catching up for a moment.
		var shard *corev1.Pod
		Eventually(func(g Gomega) {
			var err error
			shard, err = kube.CoreV1().Pods(ns).Get(ctx, showtime.ShardPodName(0), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(podReady(shard)).To(BeTrue())
		}).WithTimeout(60 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
		Eventually(func(g Gomega) {
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=frontend,boxoffice.dev/showtime=" + name})
			g.Expect(err).NotTo(HaveOccurred())
			ready := 0
			for i := range pods.Items {
				if podReady(&pods.Items[i]) {
					ready++
				}
			}
			g.Expect(ready).To(BeNumerically(">=", 2))
			frontends = readyAddresses(ctx, showtime.FrontendName())
			g.Expect(len(frontends)).To(BeNumerically(">=", 2))
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())
		timings["apply -> front ends Ready"] = time.Since(began)

		Eventually(func(g Gomega) {
			u := getShowtime(ctx, name)
			g.Expect(seatCount(u, "total")).To(BeEquivalentTo(2000))
			g.Expect(seatCount(u, "available")).To(BeEquivalentTo(2000))
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())

		code, seats := newBuyer(frontends[0]).do(http.MethodGet, "/api/seats", nil)
		Expect(code).To(Equal(http.StatusOK))
		// The page names the show, from the show file in the seat-map ConfigMap.
		startsAt, _, _ := unstructured.NestedString(st.Object, "spec", "startsAt")
		Expect(seats["show"]).To(Equal(map[string]any{"title": "Stand-up 10, night 1",
			"startsAt": startsAt, "venue": "Riverside Hall, Bangkok", "timeZone": "Asia/Bangkok"}))
		list, _ := seats["seats"].([]any)
		Expect(list).To(HaveLen(2000))
		for _, s := range list {
			m := s.(map[string]any)
			Expect(m["state"]).To(Equal("free"))
			seatIDs = append(seatIDs, m["id"].(string))
		}
	})

	It("books through the front end: a seat goes to one buyer only; kubectl shows held and sold", func() {
		// Eight buyers race for the same two seats, spread over both front ends.
		contested := seatIDs[:2]
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				b := newBuyer(frontends[i%len(frontends)])
				code, body := b.hold(contested...)
				mu.Lock()
				defer mu.Unlock()
				switch code {
				case http.StatusCreated:
					wins++
					acked[body["id"].(string)] = struct {
						b     *buyer
						state string
					}{b, "held"}
				case http.StatusConflict:
					conflicts++
					Expect(body["error"]).To(Equal("seats_unavailable"))
				default:
					Fail(fmt.Sprintf("hold answered %d %v", code, body))
				}
			}()
		}
		wg.Wait()
		Expect(wins).To(Equal(1), "exactly one buyer gets the contested seats")
		Expect(conflicts).To(Equal(7))

		// Six more buyers hold three seats each; three of them pay.
		for i := 0; i < 6; i++ {
			b := newBuyer(frontends[i%len(frontends)])
			code, body := b.hold(seatIDs[10+3*i : 13+3*i]...)
			Expect(code).To(Equal(http.StatusCreated), "%v", body)
			id := body["id"].(string)
			state := "held"
			if i%2 == 0 {
				code, body = b.do(http.MethodPost, "/api/holds/"+id+"/pay", map[string]any{})
				Expect(code).To(Equal(http.StatusOK), "%v", body)
				Expect(body["state"]).To(Equal("sold"))
				state = "sold"
			}
			acked[id] = struct {
				b     *buyer
				state string
			}{b, state}
		}
		// held: 2 contested + 3 buyers x 3 = 11; sold: 3 x 3 = 9
		Eventually(func(g Gomega) {
			u := getShowtime(ctx, name)
			g.Expect(seatCount(u, "held")).To(BeEquivalentTo(11))
			g.Expect(seatCount(u, "sold")).To(BeEquivalentTo(9))
			g.Expect(seatCount(u, "available")).To(BeEquivalentTo(2000 - 20))
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
		out := kubectl("get", "showtimes", "-n", ns)
		GinkgoWriter.Println(out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		Expect(lines).To(HaveLen(2))
		header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
		col := func(h string) string {
			for i, f := range header {
				if f == h && i < len(row) {
					return row[i]
				}
			}
			return ""
		}
		Expect(col("HELD")).To(Equal("11"))
		Expect(col("SOLD")).To(Equal("9"))
		Expect(col("AVAILABLE")).To(Equal("1980"))
	})

	It("loses nothing acknowledged when the shard pod is deleted during holds", func() {
		pvc, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, showtime.ShardClaimName(0), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		old, err := kube.CoreV1().Pods(ns).Get(ctx, showtime.ShardPodName(0), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())

		began := time.Now()
		Expect(kube.CoreV1().Pods(ns).Delete(ctx, old.Name, metav1.DeleteOptions{})).To(Succeed())
		// A hold sent while the old shard shuts down: whoever answers 201
		// (the old shard before it stops, or the new one through the front
		// end's retries) has it on disk.
		during := newBuyer(frontends[1%len(frontends)])
		if code, body := during.hold(seatIDs[99]); code == http.StatusCreated {
			acked[body["id"].(string)] = struct {
				b     *buyer
				state string
			}{during, "held"}
		}
		Eventually(func(g Gomega) {
			p, err := kube.CoreV1().Pods(ns).Get(ctx, showtime.ShardPodName(0), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.UID).NotTo(Equal(old.UID))
		}).WithTimeout(2 * time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
		// A buyer keeps booking through the front end; the front end retries
		// through the restart within its budget, the buyer retries after that.
		b := newBuyer(frontends[0])
		var holdID string
		Eventually(func(g Gomega) {
			code, body := b.hold(seatIDs[100])
			g.Expect(code).To(Equal(http.StatusCreated), "%v", body)
			holdID = body["id"].(string)
		}).WithTimeout(3 * time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
		timings["shard pod deleted -> new pod serving holds"] = time.Since(began)
		acked[holdID] = struct {
			b     *buyer
			state string
		}{b, "held"}

		now, err := kube.CoreV1().Pods(ns).Get(ctx, showtime.ShardPodName(0), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(now.UID).NotTo(Equal(old.UID), "a new shard pod")
		pvc2, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pvc2.UID).To(Equal(pvc.UID))
		Expect(pvc2.Spec.VolumeName).To(Equal(pvc.Spec.VolumeName), "the same volume")

		for id, a := range acked {
			code, body := a.b.do(http.MethodGet, "/api/holds/"+id, nil)
			Expect(code).To(Equal(http.StatusOK), "hold %s: %v", id, body)
			Expect(body["state"]).To(Equal(a.state), "hold %s", id)
		}
		Eventually(func(g Gomega) {
			u := getShowtime(ctx, name)
			held := int64(11)
			for _, a := range acked {
				if a.b == b || a.b == during {
					held++
				}
			}
			g.Expect(seatCount(u, "held")).To(BeEquivalentTo(held))
			g.Expect(seatCount(u, "sold")).To(BeEquivalentTo(9))
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
	})

	It("refuses an edit of the Showtime inside a FreezeWindow; break-glass by an allowed group passes", func() {
		if !lc.Webhooks {
			Skip("the manager's admission webhooks are not served on this local cluster (its build has no --enable-webhooks flag); freeze enforcement is covered by the envtest suites")
		}
		fw := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "boxoffice.dev/v1alpha1", "kind": "FreezeWindow",
			"metadata": map[string]any{"name": "e2e-freeze"},
			"spec": map[string]any{
				"reason": "end-to-end freeze",
				"oneOff": map[string]any{
					"start": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
					"end":   time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
				},
			},
		}}
		_, err := dyn.Resource(freezeWindow).Create(ctx, fw, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		lifted := false
		DeferCleanup(func() {
			if !lifted {
				_ = dyn.Resource(freezeWindow).Delete(ctx, "e2e-freeze", metav1.DeleteOptions{})
			}
		})
		attempt := 0
		Eventually(func() error {
			attempt++
			u := getShowtime(ctx, name)
			_ = unstructured.SetNestedField(u.Object, fmt.Sprintf("Stand-up 10, night 1 (edit %d)", attempt), "spec", "title")
			_, err := dyn.Resource(showtimes).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{})
			return err
		}).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).Should(MatchError(ContainSubstring("e2e-freeze")))

		// A member of the break-glass group may change it, with a reason.
		bgCfg, err := clientcmd.BuildConfigFromFlags("", lc.BreakGlassKubeconfig)
		Expect(err).NotTo(HaveOccurred())
		bg := dynamic.NewForConfigOrDie(bgCfg)
		u := getShowtime(ctx, name)
		_ = unstructured.SetNestedField(u.Object, "Stand-up 10, night 1 (break-glass)", "spec", "title")
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann["boxoffice.dev/break-glass"] = "e2e: fixing a typo during the freeze"
		u.SetAnnotations(ann)
		_, err = bg.Resource(showtimes).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		// The shard's volume cannot be deleted during the freeze (asked as a
		// dry run: were it let through, nothing is lost).
		err = kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, showtime.ShardClaimName(0), metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		Expect(err).To(MatchError(And(ContainSubstring("delete of PersistentVolumeClaim"), ContainSubstring("e2e-freeze"))))

		Expect(dyn.Resource(freezeWindow).Delete(ctx, "e2e-freeze", metav1.DeleteOptions{})).To(Succeed())
		lifted = true
	})

	It("upgrades the shard under booking load through a ShardRollout, then rolls a broken version back by itself", func() {
		shardImage := func() string {
			sts, err := kube.AppsV1().StatefulSets(ns).Get(ctx, showtime.ShardName(), metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			return sts.Spec.Template.Spec.Containers[0].Image
		}
		stable := shardImage()
		Expect(stable).To(Equal("boxoffice:dev"))

		// Buyers keep booking through both front ends while the shard moves:
		// each hold is one new buyer and one seat no one else asks for, so
		// every answer is 201 or a failure. Bounded in count and time.
		ld := startLoad(frontends, seatIDs[200:], 90*time.Second)

		runRollout := func(rolloutName, image string, wantPhase string, timeout time.Duration) *unstructured.Unstructured {
			ro := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "boxoffice.dev/v1alpha1", "kind": "ShardRollout",
				"metadata": map[string]any{"name": rolloutName},
				"spec": map[string]any{
					"target": map[string]any{"shardImage": image},
					"scope": map[string]any{"namespaceSelector": map[string]any{
						"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}}},
					"steps":            []any{map[string]any{"count": int64(1), "bake": "15s"}},
					"analysis":         map[string]any{"readyDeadline": "20s", "interval": "3s", "minWrites": int64(5)},
					"logCompatibility": map[string]any{"targetLogFormat": int64(1)},
				},
			}}
			_, err := dyn.Resource(shardRollouts).Create(ctx, ro, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { _ = dyn.Resource(shardRollouts).Delete(ctx, rolloutName, metav1.DeleteOptions{}) })
			var got *unstructured.Unstructured
			Eventually(func(g Gomega) {
				u, err := dyn.Resource(shardRollouts).Get(ctx, rolloutName, metav1.GetOptions{})
				g.Expect(err).NotTo(HaveOccurred())
				phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
				g.Expect(phase).NotTo(BeElementOf("Failed"), "%v", u.Object["status"])
				g.Expect(phase).To(Equal(wantPhase), "%v", u.Object["status"])
				got = u
			}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
			return got
		}
		shardPodReadyOn := func(image string, timeout time.Duration) {
			Eventually(func(g Gomega) {
				p, err := kube.CoreV1().Pods(ns).Get(ctx, showtime.ShardPodName(0), metav1.GetOptions{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(p.Spec.Containers[0].Image).To(Equal(image))
				g.Expect(podReady(p)).To(BeTrue())
			}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
		}
		entry := func(ro *unstructured.Unstructured) map[string]any {
			list, _, _ := unstructured.NestedSlice(ro.Object, "status", "showtimes")
			Expect(list).To(HaveLen(1))
			return list[0].(map[string]any)
		}

		// A healthy version: the one showtime moves, bakes, and stays.
		began := time.Now()
		ro := runRollout("e2e-next", "boxoffice:next", "Succeeded", 3*time.Minute)
		timings["rollout to a healthy version: create -> Succeeded"] = time.Since(began)
		e := entry(ro)
		Expect(e["state"]).To(Equal("Upgraded"))
		pause, err := time.ParseDuration(fmt.Sprint(e["writePause"]))
		Expect(err).NotTo(HaveOccurred(), "writePause %v", e["writePause"])
		timings["rollout: shard write pause (status.showtimes[].writePause)"] = pause
		Expect(shardImage()).To(Equal("boxoffice:next"))
		shardPodReadyOn("boxoffice:next", time.Minute)
		u := getShowtime(ctx, name)
		img, _, _ := unstructured.NestedString(u.Object, "spec", "shard", "image")
		Expect(img).To(Equal("boxoffice:next"))

		// A broken version (its binary exits at once): never ready, so the
		// rollout puts the showtime back on boxoffice:next without a human.
		began = time.Now()
		brokenStarted := began
		ro = runRollout("e2e-broken", "boxoffice:broken", "RolledBack", 3*time.Minute)
		timings["rollout to a broken version: create -> RolledBack"] = time.Since(began)
		reason, _, _ := unstructured.NestedString(ro.Object, "status", "reason")
		Expect(reason).NotTo(BeEmpty())
		Expect(entry(ro)["state"]).To(Equal("RolledBack"))
		Expect(shardImage()).To(Equal("boxoffice:next"))
		shardPodReadyOn("boxoffice:next", 2*time.Minute)

		res := ld.stop()
		timings["rollout: longest hold a buyer waited for"] = res.maxWait
		GinkgoWriter.Printf("booking load during the rollouts: %d holds acknowledged, %d failed, longest wait %s\n",
			len(res.acked), len(res.failures), res.maxWait)
		Expect(len(res.acked)).To(BeNumerically(">", 20), "the load ran")
		for _, f := range res.failures {
			GinkgoWriter.Printf("  failed hold at %s: %s\n", f.at.Format(time.RFC3339Nano), f.why)
		}
		// Through the healthy upgrade buyers waited, they saw no error. (The
		// broken version never served: holds that outlived the front end's
		// retry budget while it was rolled back may fail.)
		Expect(res.failedBefore(brokenStarted)).To(BeEmpty(), "holds failed during the healthy upgrade")
		// Every acknowledged hold is there, held, after both restarts.
		for id, b := range res.acked {
			code, body := b.do(http.MethodGet, "/api/holds/"+id, nil)
			Expect(code).To(Equal(http.StatusOK), "hold %s: %v", id, body)
			Expect(body["state"]).To(Equal("held"), "hold %s", id)
			acked[id] = struct {
				b     *buyer
				state string
			}{b, "held"}
		}
	})

	It("deleting the Showtime removes what it owns and keeps the shard's volume", func() {
		Expect(dyn.Resource(showtimes).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
		Eventually(func(g Gomega) {
			_, err := kube.AppsV1().StatefulSets(ns).Get(ctx, showtime.ShardName(), metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "statefulset")
			_, err = kube.AppsV1().Deployments(ns).Get(ctx, showtime.FrontendName(), metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "deployment")
			_, err = kube.CoreV1().Services(ns).Get(ctx, showtime.ShardName(), metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "shard service")
			_, err = kube.CoreV1().Services(ns).Get(ctx, showtime.FrontendName(), metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "front-end service")
			_, err = kube.CoreV1().ConfigMaps(ns).Get(ctx, showtime.SeatMapName(), metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "seat map")
			_, err = kube.CoreV1().Secrets(ns).Get(ctx, showtime.TokenSecretName(), metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "token")
			_, err = kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, showtime.FrontendName(), metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "autoscaler")
			pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "boxoffice.dev/showtime=" + name})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(pods.Items).To(BeEmpty(), "pods")
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		pvc, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, showtime.ShardClaimName(0), metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred(), "the volume is retained (storage.whenDeleted: Retain)")
		Expect(pvc.DeletionTimestamp).To(BeNil())
	})
})

// load is buyers booking in the background: each hold is a new buyer (a new
// session) asking for one seat no other buyer asks for.
type load struct {
	stopc chan struct{}
	done  sync.WaitGroup
	mu    sync.Mutex
	res   loadResult
}

type loadFailure struct {
	at  time.Time
	why string
}

type loadResult struct {
	acked    map[string]*buyer
	failures []loadFailure
	maxWait  time.Duration
}

// startLoad runs one booking loop per front end until stop, the seats run
// out or limit passes.
func startLoad(frontends, seats []string, limit time.Duration) *load {
	l := &load{stopc: make(chan struct{}), res: loadResult{acked: map[string]*buyer{}}}
	var next sync.Mutex
	i := 0
	deadline := time.Now().Add(limit)
	for _, fe := range frontends {
		l.done.Add(1)
		go func() {
			defer GinkgoRecover()
			defer l.done.Done()
			for time.Now().Before(deadline) {
				select {
				case <-l.stopc:
					return
				case <-time.After(50 * time.Millisecond):
				}
				next.Lock()
				if i >= len(seats) {
					next.Unlock()
					return
				}
				seat := seats[i]
				i++
				next.Unlock()
				// The page hands the buyer its session first, as a browser
				// gets it, so holds count against the session's rate limit
				// and not against the one address all test buyers share.
				b := newBuyer(fe)
				b.do(http.MethodGet, "/", nil)
				t := time.Now()
				code, body := b.hold(seat)
				wait := time.Since(t)
				l.mu.Lock()
				l.res.maxWait = max(l.res.maxWait, wait)
				if code == http.StatusCreated {
					l.res.acked[body["id"].(string)] = b
				} else {
					l.res.failures = append(l.res.failures, loadFailure{t, fmt.Sprintf("%s: %d %v after %s", seat, code, body, wait.Round(time.Millisecond))})
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// failedBefore lists the failures that started before t.
func (r loadResult) failedBefore(t time.Time) []string {
	var out []string
	for _, f := range r.failures {
		if f.at.Before(t) {
			out = append(out, f.why)
		}
	}
	return out
}

func (l *load) stop() loadResult {
	close(l.stopc)
	l.done.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}
