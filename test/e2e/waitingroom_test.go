//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
)

// queued is one waiting buyer of the waiting-room spec: the cookies a
// browser would keep (set by the front end; sent to whichever pod it asks),
// and what the line told it.
type queued struct {
	cookies map[string]string
	pod     int    // index into the front-end addresses it asks
	addr    string // its client address, as a trusted proxy in front reports it
	place   float64
	slot    float64
	ahead   float64
	state   string
}

// roomClient sends queued buyers' requests over one shared transport, so a
// few thousand buyers cost a few dozen sockets.
type roomClient struct{ hc *http.Client }

func newRoomClient() *roomClient {
	return &roomClient{hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}}
}

// do sends method /api/room for q to the front end at ip, keeping the
// cookies the answer sets.
func (rc *roomClient) do(q *queued, ip, method string) (int, map[string]any, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, "http://"+ip+":8080/api/room", body)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if q.addr != "" {
		req.Header.Set("X-Forwarded-For", q.addr)
	}
	for k, v := range q.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := rc.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(q.cookies, c.Name)
		} else {
			q.cookies[c.Name] = c.Value
		}
	}
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// forEach runs f for every buyer on workers goroutines and gives the first
// error.
func forEach(qs []*queued, workers int, f func(i int, q *queued) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(qs) {
					return
				}
				if err := f(i, qs[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// watchRoom reads a front end's room stream and records the most buyers
// ever admitted at once, until ctx ends.
func watchRoom(ctx context.Context, ip string, maxActive *atomic.Int64, summaries *atomic.Int64) {
	defer GinkgoRecover()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":8080/api/room/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("data: ")) {
				continue
			}
			var sum struct{ Active int64 }
			if json.Unmarshal(line[len("data: "):], &sum) == nil {
				summaries.Add(1)
				for {
					cur := maxActive.Load()
					if sum.Active <= cur || maxActive.CompareAndSwap(cur, sum.Active) {
						break
					}
				}
			}
		}
		resp.Body.Close()
	}
}

// shardLeader finds the replicated shard's leader pod by asking each member.
func shardLeader(ctx context.Context, showtime *boxv1.Showtime) string {
	sec, err := kube.CoreV1().Secrets(ns).Get(ctx, showtime.TokenSecretName(), metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	token := strings.TrimSpace(string(sec.Data["token"]))
	for _, name := range showtime.ShardPodNames() {
		pod, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || pod.Status.PodIP == "" {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pod.Status.PodIP+":7070/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var st struct{ Role string }
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Role == "leader" || st.Role == "single" {
			return pod.Name
		}
	}
	return ""
}

var _ = Describe("The waiting room on the local cluster", Ordered, func() {
	const (
		buyers    = 2000
		maxActive = 50
		members   = 3
	)
	var (
		ctx       = context.Background()
		name      = "waiting-room"
		showtime  = boxv1.NamedShowtime(ns, name)
		frontends []string
		qs        []*queued
	)

	BeforeAll(func() {
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
	})

	It("queues a few thousand buyers across two front ends, keeps every place through a front-end pod deletion and a shard leader kill, admits each place once and never more than the cap", func() {
		st := sampleShowtime()
		st.SetName(name)
		Expect(unstructured.SetNestedField(st.Object, int64(members), "spec", "shard", "replicas")).To(Succeed())
		showtime.Spec.Shard.Replicas = members
		// Buyers come through a proxy that names each one's address, as an
		// ingress would: limits are per buyer, not per test process.
		Expect(unstructured.SetNestedField(st.Object, int64(1), "spec", "frontend", "trustedProxyHops")).To(Succeed())
		Expect(unstructured.SetNestedMap(st.Object, map[string]any{"enabled": true, "maxActiveBuyers": int64(maxActive),
			"idleTimeout": "30s", "preQueue": "0s"}, "spec", "sales", "waitingRoom")).To(Succeed())
		_, err := dyn.Resource(showtimes).Namespace(ns).Apply(ctx, name, st, metav1.ApplyOptions{FieldManager: "e2e", Force: true})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			_ = dyn.Resource(showtimes).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		})
		began := time.Now()
		Eventually(func(g Gomega) {
			frontends = readyAddresses(ctx, showtime.FrontendName())
			g.Expect(len(frontends)).To(BeNumerically(">=", 2))
			g.Expect(shardLeader(ctx, showtime)).NotTo(BeEmpty())
			// The pods see the room configured and open.
			code, body, err := newRoomClient().do(&queued{cookies: map[string]string{}}, frontends[0], http.MethodDelete)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(code).To(Equal(http.StatusOK))
			g.Expect(body["enabled"]).To(BeTrue())
		}).WithTimeout(4 * time.Minute).WithPolling(time.Second).Should(Succeed())
		timings["waiting room: apply -> room on"] = time.Since(began)
		frontends = frontends[:2]

		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		var most, summaries atomic.Int64
		go watchRoom(wctx, frontends[1], &most, &summaries)

		By(fmt.Sprintf("%d buyers join, half on each front end", buyers))
		rc := newRoomClient()
		qs = make([]*queued, buyers)
		for i := range qs {
			qs[i] = &queued{cookies: map[string]string{}, pod: i % 2, addr: fmt.Sprintf("10.%d.%d.%d", 100+i/62500, i/250%250, i%250+1)}
		}
		joined := time.Now()
		Expect(forEach(qs, 32, func(i int, q *queued) error {
			code, body, err := rc.do(q, frontends[q.pod], http.MethodPost)
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("buyer %d join: %d %v %v", i, code, body, err)
			}
			q.place, q.state = body["place"].(float64), body["state"].(string)
			q.slot, _ = body["slot"].(float64)
			q.ahead, _ = body["ahead"].(float64)
			return nil
		})).To(Succeed())
		timings["waiting room: 2000 joins"] = time.Since(joined)
		places := map[float64]bool{}
		admitted := map[float64]bool{}
		for _, q := range qs {
			Expect(places[q.place]).To(BeFalse(), "place %v given twice", q.place)
			places[q.place] = true
			if q.state == "admitted" {
				admitted[q.place] = true
			}
		}
		Expect(admitted).To(HaveLen(maxActive), "the first %d are admitted at once, nobody else", maxActive)

		By("deleting a front-end pod and SIGKILLing the shard's leader while they wait")
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=frontend,boxoffice.dev/showtime=" + name})
		Expect(err).NotTo(HaveOccurred())
		for _, p := range pods.Items {
			if p.Status.PodIP == frontends[0] {
				Expect(kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})).To(Succeed())
			}
		}
		leader := shardLeader(ctx, showtime)
		pid := containerPID(leader, "/boxoffice")
		Expect(pid).NotTo(BeZero(), "no process for shard pod %s", leader)
		Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed())
		killed := time.Now()

		By("every waiting buyer asks again, all on the surviving front end: the same place, nobody ahead who was not")
		Expect(forEach(qs, 32, func(i int, q *queued) error {
			if q.state == "admitted" {
				return nil
			}
			var code int
			var body map[string]any
			var err error
			for try := 0; try < 5; try++ { // the leader's election: the front end retries for 15 s, we a little longer
				if code, body, err = rc.do(q, frontends[1], http.MethodPost); err == nil && code == http.StatusOK {
					break
				}
				time.Sleep(time.Second)
			}
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("buyer %d again: %d %v %v", i, code, body, err)
			}
			if body["place"].(float64) != q.place {
				return fmt.Errorf("buyer %d lost place %v: now %v", i, q.place, body)
			}
			if a, ok := body["ahead"].(float64); ok && a > q.ahead {
				return fmt.Errorf("buyer %d had %v ahead, now %v", i, q.ahead, a)
			}
			if body["state"] == "admitted" {
				q.state = "admitted"
			}
			return nil
		})).To(Succeed())
		timings["waiting room: leader killed -> every place read again"] = time.Since(killed)
		Eventually(func() string { return shardLeader(ctx, showtime) }).WithTimeout(20*time.Second).
			WithPolling(200*time.Millisecond).ShouldNot(Or(BeEmpty(), Equal(leader)), "another member leads after %s was killed", leader)

		By("the admitted leave; the next are admitted, each place once")
		for round := 0; round < 3; round++ {
			Expect(forEach(qs, 32, func(i int, q *queued) error {
				if q.state != "admitted" || q.pod < 0 {
					return nil
				}
				if code, body, err := rc.do(q, frontends[1], http.MethodDelete); err != nil || code != http.StatusOK {
					return fmt.Errorf("buyer %d leave: %d %v %v", i, code, body, err)
				}
				q.pod = -1 // done: never asks again
				return nil
			})).To(Succeed())
			var mu sync.Mutex
			fresh := 0
			Eventually(func(g Gomega) {
				g.Expect(forEach(qs, 32, func(i int, q *queued) error {
					if q.pod < 0 || q.state == "admitted" {
						return nil
					}
					code, body, err := rc.do(q, frontends[1], http.MethodPost)
					if err != nil || code != http.StatusOK {
						return fmt.Errorf("buyer %d: %d %v %v", i, code, body, err)
					}
					if body["place"].(float64) != q.place {
						return fmt.Errorf("buyer %d lost place %v: now %v", i, q.place, body)
					}
					if body["state"] == "admitted" {
						mu.Lock()
						defer mu.Unlock()
						if admitted[q.place] {
							return fmt.Errorf("place %v admitted twice", q.place)
						}
						admitted[q.place] = true
						q.state = "admitted"
						fresh++
					}
					return nil
				})).To(Succeed())
				g.Expect(fresh).To(BeNumerically(">=", maxActive))
			}).WithTimeout(20 * time.Second).WithPolling(time.Second).Should(Succeed())
		}
		Expect(most.Load()).To(BeNumerically("<=", maxActive), "admitted at once, from the room's summaries")
		Expect(summaries.Load()).To(BeNumerically(">", 0), "the room stream sent summaries")
		GinkgoWriter.Printf("waiting room: %d places, %d admitted in turn, at most %d at once over %d summaries\n",
			len(places), len(admitted), most.Load(), summaries.Load())
	})
})
