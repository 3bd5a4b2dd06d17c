//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/internal/localcluster/fault"
)

// failoverNS keeps the node-loss showtime apart from the main suite's.
const failoverNS = "e2e-failover"

// failover names the objects the node-loss showtime owns.
var failover = boxv1.NamedShowtime(failoverNS, "failover")

// selector selects one component of the failover showtime.
func selector(component string) string {
	return labels.SelectorFromSet(failover.SelectorLabels(component)).String()
}

// failoverShowtime is the sample Showtime (three members) in failoverNS.
func failoverShowtime() *unstructured.Unstructured {
	u := sampleShowtime()
	u.SetNamespace(failoverNS)
	u.SetName(failover.Name)
	return u
}

func getFailover(ctx context.Context) *unstructured.Unstructured {
	u, err := dyn.Resource(showtimes).Namespace(failoverNS).Get(ctx, failover.Name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return u
}

// condition is the status of the showtime's condition typ ("" if absent).
func condition(u *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// falseConditions lists the showtime's False conditions with their
// reasons and messages.
func falseConditions(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["status"] == "False" {
			out = append(out, fmt.Sprintf("%v=False %v (%v)", m["type"], m["reason"], m["message"]))
		}
	}
	return strings.Join(out, "; ")
}

func phaseOf(u *unstructured.Unstructured) string {
	p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	return p
}

func readyMembersOf(u *unstructured.Unstructured) string {
	r, _, _ := unstructured.NestedString(u.Object, "status", "shard", "readyMembers")
	return r
}

// memberStatus is what a member's GET /v1/status says of its role.
type memberStatus struct {
	Role string `json:"role"`
	Term uint64 `json:"term"`
}

// shardToken is the bearer token of the failover showtime's shard.
func shardToken(ctx context.Context) string {
	sec, err := kube.CoreV1().Secrets(failoverNS).Get(ctx, failover.TokenSecretName(), metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return string(sec.Data["token"])
}

// shardMembers are the failover showtime's member pods.
func shardMembers(ctx context.Context) []corev1.Pod {
	pods, err := kube.CoreV1().Pods(failoverNS).List(ctx, metav1.ListOptions{LabelSelector: selector(boxv1.ComponentShard)})
	Expect(err).NotTo(HaveOccurred())
	return pods.Items
}

// askStatus asks one member for its role (ok false if it did not answer).
func askStatus(p *corev1.Pod, token string) (memberStatus, bool) {
	var st memberStatus
	req, err := http.NewRequest(http.MethodGet, "http://"+p.Status.PodIP+":7070/v1/status", nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 300 * time.Millisecond}).Do(req)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// leaderMember is the member that says it leads, asked directly (the
// showtime's status may be a few seconds old), once all three answer and
// exactly one leads.
func leaderMember(ctx context.Context, token string) (corev1.Pod, memberStatus) {
	var leader corev1.Pod
	var st memberStatus
	Eventually(func(g Gomega) {
		members := shardMembers(ctx)
		g.Expect(members).To(HaveLen(3))
		leaders := 0
		for i := range members {
			s, ok := askStatus(&members[i], token)
			g.Expect(ok).To(BeTrue(), "%s answers", members[i].Name)
			if s.Role == "leader" {
				leaders++
				leader, st = members[i], s
			}
		}
		g.Expect(leaders).To(Equal(1))
	}).WithTimeout(20 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	return leader, st
}

// electedAfter is how long after t a member other than old reported that
// it leads in a later term than term.
func electedAfter(ctx context.Context, token, old string, term uint64, t time.Time) time.Duration {
	members := shardMembers(ctx)
	var at time.Time
	Eventually(func() bool {
		for i := range members {
			if members[i].Name == old {
				continue
			}
			if s, ok := askStatus(&members[i], token); ok && s.Role == "leader" && s.Term > term {
				at = time.Now()
				return true
			}
		}
		return false
	}).WithTimeout(15*time.Second).WithPolling(20*time.Millisecond).Should(BeTrue(), "a new leader")
	return at.Sub(t)
}

// frontendIPs are the ready front ends' addresses, on node or (on == false)
// on every other node.
func frontendIPs(ctx context.Context, node string, on bool) []string {
	pods, err := kube.CoreV1().Pods(failoverNS).List(ctx, metav1.ListOptions{LabelSelector: selector(boxv1.ComponentFrontend)})
	Expect(err).NotTo(HaveOccurred())
	var ips []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if podReady(p) && p.Status.PodIP != "" && (p.Spec.NodeName == node) == on {
			ips = append(ips, p.Status.PodIP)
		}
	}
	sort.Strings(ips)
	return ips
}

// phaseWatch polls the showtime's phase until stopped and keeps every
// phase it saw that is not OnSale.
type phaseWatch struct {
	stopc chan struct{}
	done  chan struct{}
	other []string
}

func watchPhase(ctx context.Context) *phaseWatch {
	w := &phaseWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(w.done)
		for i := 0; i < 600; i++ {
			select {
			case <-w.stopc:
				return
			case <-time.After(250 * time.Millisecond):
			}
			u, err := dyn.Resource(showtimes).Namespace(failoverNS).Get(ctx, failover.Name, metav1.GetOptions{})
			if err == nil && phaseOf(u) != "OnSale" {
				w.other = append(w.other, time.Now().Format("15:04:05.000")+" "+phaseOf(u)+": "+falseConditions(u))
			}
		}
	}()
	return w
}

func (w *phaseWatch) stop() []string {
	close(w.stopc)
	<-w.done
	return w.other
}

// contestedLoad is buyers booking through front ends in the background:
// each round, two new buyers (sessions) ask for the same seat at once, so
// at most one of them may be acknowledged, whatever fails over meanwhile.
type contestedLoad struct {
	stopc chan struct{}
	done  sync.WaitGroup
	mu    sync.Mutex
	holds []holdAttempt
}

// holdAttempt is one buyer's hold: when it was sent and answered, and how.
type holdAttempt struct {
	seat, front, id string
	b               *buyer
	sent, answered  time.Time
	code            int
	body            map[string]any
}

// startContestedLoad runs workers rounds at once over fronts, over seats
// in order, until stop, the seats run out or limit passes.
func startContestedLoad(fronts, seats []string, workers int, limit time.Duration) *contestedLoad {
	l := &contestedLoad{stopc: make(chan struct{})}
	var next sync.Mutex
	i := 0
	deadline := time.Now().Add(limit)
	for w := 0; w < workers; w++ {
		l.done.Add(1)
		go func() {
			defer GinkgoRecover()
			defer l.done.Done()
			for round := 0; time.Now().Before(deadline); round++ {
				select {
				case <-l.stopc:
					return
				case <-time.After(20 * time.Millisecond):
				}
				next.Lock()
				if i >= len(seats) {
					next.Unlock()
					return
				}
				seat, n := seats[i], i
				i++
				next.Unlock()
				var wg sync.WaitGroup
				for k := 0; k < 2; k++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						l.attempt(seat, fronts[(n+k)%len(fronts)])
					}()
				}
				wg.Wait()
			}
		}()
	}
	return l
}

// attempt is one new buyer holding seat through front.
func (l *contestedLoad) attempt(seat, front string) {
	jar, _ := cookiejar.New(nil)
	b := &buyer{c: &http.Client{Jar: jar, Timeout: 10 * time.Second}, base: "http://" + front + ":8080"}
	b.do(http.MethodGet, "/", nil)
	a := holdAttempt{seat: seat, front: front, b: b, sent: time.Now()}
	a.code, a.body = b.hold(seat)
	a.answered = time.Now()
	if a.code == http.StatusCreated {
		a.id, _ = a.body["id"].(string)
	}
	l.mu.Lock()
	l.holds = append(l.holds, a)
	l.mu.Unlock()
}

func (l *contestedLoad) snapshot() []holdAttempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]holdAttempt(nil), l.holds...)
}

// acked is how many holds were acknowledged so far.
func (l *contestedLoad) acked() int {
	n := 0
	for _, h := range l.snapshot() {
		if h.code == http.StatusCreated {
			n++
		}
	}
	return n
}

func (l *contestedLoad) stop() []holdAttempt {
	close(l.stopc)
	l.done.Wait()
	return l.snapshot()
}

// resumedAfter is how long after t the first hold sent after t was
// acknowledged (false if none was).
func resumedAfter(holds []holdAttempt, t time.Time) (time.Duration, bool) {
	var first time.Time
	for _, h := range holds {
		if h.code == http.StatusCreated && h.sent.After(t) && (first.IsZero() || h.answered.Before(first)) {
			first = h.answered
		}
	}
	return first.Sub(t), !first.IsZero()
}

// checkNothingLost: no seat acknowledged to two buyers, every acknowledged
// hold still held, and the showtime counts at least as many held seats.
func checkNothingLost(ctx context.Context, holds []holdAttempt) int {
	bySeat := map[string]string{}
	acked := 0
	for _, h := range holds {
		if h.code != http.StatusCreated {
			continue
		}
		acked++
		Expect(bySeat).NotTo(HaveKey(h.seat), "seat %s acknowledged to two buyers (holds %s and %s)", h.seat, bySeat[h.seat], h.id)
		bySeat[h.seat] = h.id
	}
	for _, h := range holds {
		if h.code != http.StatusCreated {
			continue
		}
		code, body := h.b.do(http.MethodGet, "/api/holds/"+h.id, nil)
		Expect(code).To(Equal(http.StatusOK), "acknowledged hold %s on %s: %v", h.id, h.seat, body)
		Expect(body["state"]).To(Equal("held"), "acknowledged hold %s on %s", h.id, h.seat)
	}
	Eventually(func() int64 { return seatCount(getFailover(ctx), "held") }).
		WithTimeout(20*time.Second).WithPolling(500*time.Millisecond).Should(BeNumerically(">=", acked), "held seats in status")
	return acked
}

// timeline is the hold attempts sent from just before the fault until
// writes resumed, one line each, in the order sent.
func timeline(holds []holdAttempt, fault time.Time, resume time.Duration) string {
	sort.Slice(holds, func(i, j int) bool { return holds[i].sent.Before(holds[j].sent) })
	var b strings.Builder
	for _, h := range holds {
		if d := h.sent.Sub(fault); d > -200*time.Millisecond && d < resume+100*time.Millisecond {
			fmt.Fprintf(&b, "%s via %s: sent %+.3fs, answered %+.3fs: %d\n", h.seat, h.front, d.Seconds(), h.answered.Sub(fault).Seconds(), h.code)
		}
	}
	return b.String()
}

// summarize prints the load's figures and returns the failures' lines.
func summarize(what string, holds []holdAttempt, fault time.Time) []string {
	var longest time.Duration
	var failures []string
	acked := 0
	for _, h := range holds {
		longest = max(longest, h.answered.Sub(h.sent))
		switch h.code {
		case http.StatusCreated:
			acked++
		case http.StatusConflict:
		default:
			failures = append(failures, fmt.Sprintf("%s via %s sent %+.3fs: %d %v after %s", h.seat, h.front,
				h.sent.Sub(fault).Seconds(), h.code, h.body, h.answered.Sub(h.sent).Round(time.Millisecond)))
		}
	}
	GinkgoWriter.Printf("%s: %d hold attempts, %d acknowledged, %d failed, longest wait %s\n", what, len(holds), acked, len(failures), longest.Round(time.Millisecond))

	for _, f := range failures {
		GinkgoWriter.Println("  failed:", f)
	}
	return failures
}

var _ = Describe("Node loss under booking load", Ordered, func() {
	var (
		seats []string
		next  int
		fc    *fault.Client
	)
	// takeSeats hands each spec its own seats.
	takeSeats := func(n int) []string {
		s := seats[next : next+n]
		next += n
		return s
	}
	// back waits until the showtime is 3/3 again with ShardRedundancy=True.
	back := func(ctx context.Context, label string, since time.Time) {
		Eventually(func(g Gomega) {
			u := getFailover(ctx)
			g.Expect(readyMembersOf(u)).To(Equal("3/3"))
			g.Expect(condition(u, "ShardRedundancy")).To(Equal("True"))
		}).WithTimeout(60 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
		timings[label] = time.Since(since)
	}
	// redundancyLost waits until the operator reports a member down.
	redundancyLost := func(ctx context.Context) {
		Eventually(func(g Gomega) {
			u := getFailover(ctx)
			g.Expect(condition(u, "ShardRedundancy")).To(Equal("False"))
			g.Expect(condition(u, "ShardQuorum")).To(Equal("True"))
		}).WithTimeout(40 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
	}

	// loadBeforeFault starts booking through fronts and watching the phase
	// once the load has booked and run a second.
	loadBeforeFault := func(ctx SpecContext, fronts []string) (*contestedLoad, *phaseWatch) {
		ld := startContestedLoad(fronts, takeSeats(700), 3, 75*time.Second)
		Eventually(ld.acked).WithTimeout(10*time.Second).WithPolling(100*time.Millisecond).
			Should(BeNumerically(">", 0), "the load books before the fault")
		time.Sleep(time.Second)
		return ld, watchPhase(ctx)
	}
	// applyNodeFault applies a to the victim node, records under took how
	// long it took to be in place, and heals the node when the spec ends
	// unhealed.
	applyNodeFault := func(ctx SpecContext, victim string, a fault.Action, took string) *nodeFault {
		healed := false
		f := &nodeFault{began: time.Now()}
		_, err := fc.Do(ctx, victim, a)
		Expect(err).NotTo(HaveOccurred())
		f.inPlace = time.Now()
		timings[took] = f.inPlace.Sub(f.began)
		DeferCleanup(func(ctx SpecContext) {
			if !healed {
				_, _ = fc.Do(ctx, victim, fault.Heal)
			}
		})
		f.heal = func(ctx SpecContext, label string) {
			_, err := fc.Do(ctx, victim, fault.Heal)
			Expect(err).NotTo(HaveOccurred())
			healed = true
			back(ctx, label, time.Now())
		}
		return f
	}

	BeforeAll(func(ctx SpecContext) {
		_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: failoverNS}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
		fc = fault.NewClient(lc.ControlSocket)
		st := failoverShowtime()
		began := time.Now()
		_, err = dyn.Resource(showtimes).Namespace(failoverNS).Apply(ctx, st.GetName(), st, metav1.ApplyOptions{FieldManager: "e2e", Force: true})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			_ = dyn.Resource(showtimes).Namespace(failoverNS).Delete(ctx, st.GetName(), metav1.DeleteOptions{})
		})
		Eventually(func(g Gomega) {
			u := getFailover(ctx)
			g.Expect(phaseOf(u)).To(Equal("OnSale"))
			g.Expect(readyMembersOf(u)).To(Equal("3/3"))
			g.Expect(len(frontendIPs(ctx, "", false))).To(BeNumerically(">=", 2))
		}).WithTimeout(90 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
		timings["failover: apply -> OnSale, 3/3 members, front ends"] = time.Since(began)
		nodes := map[string]bool{}
		pods, err := kube.CoreV1().Pods(failoverNS).List(ctx, metav1.ListOptions{LabelSelector: selector(boxv1.ComponentShard)})
		Expect(err).NotTo(HaveOccurred())
		for _, p := range pods.Items {
			nodes[p.Spec.NodeName] = true
		}
		Expect(nodes).To(HaveLen(3), "one member on each node")

		code, body := newBuyer(frontendIPs(ctx, "", false)[0]).do(http.MethodGet, "/api/seats", nil)
		Expect(code).To(Equal(http.StatusOK))
		list, _ := body["seats"].([]any)
		for _, s := range list {
			seats = append(seats, s.(map[string]any)["id"].(string))
		}
		Expect(len(seats)).To(BeNumerically(">=", 1500))
	})

	It("kills the leader's node: writes resume through the other front ends, nothing acknowledged is lost, 3/3 again after heal", func(ctx SpecContext) {
		token := shardToken(ctx)
		leader, lst := leaderMember(ctx, token)
		victim := leader.Spec.NodeName
		fronts := frontendIPs(ctx, victim, false)
		Expect(fronts).NotTo(BeEmpty(), "a front end off the leader's node")
		By(fmt.Sprintf("booking through %v, then killing %s (leader %s, term %d)", fronts, victim, leader.Name, lst.Term))

		ld, pw := loadBeforeFault(ctx, fronts)
		// Writes resume is measured from the moment every process on the
		// node is gone (the kill answered): a hold sent while the kill was
		// still under way may be answered by the old leader, which says
		// nothing about the failover.
		nf := applyNodeFault(ctx, victim, fault.Kill, "failover: node kill takes (every pod process SIGKILLed)")
		killed, killDone := nf.began, nf.inPlace

		elected := electedAfter(ctx, token, leader.Name, lst.Term, killed)
		timings["failover: node kill -> a member leads (asked every 20 ms)"] = elected
		resume := awaitResume(ld, killDone, "a hold sent after the kill is acknowledged")
		timings["failover: node kill -> next acknowledged hold"] = resume
		GinkgoWriter.Printf("node kill of the leader's node %s: a new leader %s, writes resumed %s after the kill\n", victim, elected.Round(time.Millisecond), resume.Round(time.Millisecond))
		AddReportEntry("writes resumed after killing the leader's node", resume.String())

		redundancyLost(ctx)
		timings["failover: node kill -> ShardRedundancy=False"] = time.Since(killed)
		time.Sleep(2 * time.Second) // more holds on the new leader
		Expect(pw.stop()).To(BeEmpty(), "the showtime stays OnSale")

		nf.heal(ctx, "failover: heal of the killed node -> 3/3")
		holds := ld.stop()
		AddReportEntry("hold attempts around the kill (seconds from the kill's end)", timeline(holds, killDone, resume))
		failures := summarize("booking load through the kill", holds, killed)
		n := checkNothingLost(ctx, holds)
		Expect(n).To(BeNumerically(">", 20), "the load ran")
		// A hold in flight on the killed leader may fail for its buyer if
		// the front end's retries outlast the election; none sent after it.
		for _, h := range holds {
			if h.code != http.StatusCreated && h.code != http.StatusConflict {
				Expect(h.sent.Before(killDone.Add(resume))).To(BeTrue(), "a hold failed after writes resumed: %v", failures)
			}
		}
	})

	It("cuts the leader's node off: the others elect a leader, the old one acknowledges nothing, 3/3 again after heal", func(ctx SpecContext) {
		token := shardToken(ctx)
		leader, lst := leaderMember(ctx, token)
		victim := leader.Spec.NodeName
		fronts := frontendIPs(ctx, victim, false)
		Expect(fronts).NotTo(BeEmpty(), "a front end off the leader's node")
		cutFronts := frontendIPs(ctx, victim, true)
		By(fmt.Sprintf("booking through %v (and %v on the cut side), then cutting %s (leader %s)", fronts, cutFronts, victim, leader.Name))

		ld, pw := loadBeforeFault(ctx, fronts)
		// The cut is in place in every pod on the node once Do returns
		// (routes are added pod by pod): what is sent from then on cannot
		// reach the old leader's followers.
		nf := applyNodeFault(ctx, victim, fault.Cut, "failover: node cut takes (routes in every pod)")
		cut, cutDone := nf.began, nf.inPlace
		// The cut side: the old leader asked directly, and the front end on
		// its node, both from the host (which still reaches them).
		old := startOldLeaderProbe(&leader, token, takeSeats(60))
		var cutSide *contestedLoad
		if len(cutFronts) > 0 {
			cutSide = startContestedLoad(cutFronts, takeSeats(40), 1, 30*time.Second)
		}

		elected := electedAfter(ctx, token, leader.Name, lst.Term, cut)
		timings["failover: node cut -> a member leads (asked every 20 ms)"] = elected
		resume := awaitResume(ld, cutDone, "a hold sent after the cut is acknowledged") + cutDone.Sub(cut)
		timings["failover: node cut -> next acknowledged hold"] = resume
		GinkgoWriter.Printf("network cut of the leader's node %s: a new leader %s, writes resumed %s after the cut\n", victim, elected.Round(time.Millisecond), resume.Round(time.Millisecond))
		AddReportEntry("writes resumed after cutting the leader's node off", resume.String())

		redundancyLost(ctx)
		timings["failover: node cut -> ShardRedundancy=False"] = time.Since(cut)
		time.Sleep(2 * time.Second)
		Expect(pw.stop()).To(BeEmpty(), "the showtime stays OnSale")
		oldAnswers := old.stop()
		var cutHolds []holdAttempt
		if cutSide != nil {
			cutHolds = cutSide.stop()
		}

		nf.heal(ctx, "failover: heal of the cut node -> 3/3")
		holds := ld.stop()
		AddReportEntry("hold attempts around the cut (seconds from the start of the cut)", timeline(holds, cut, resume))
		summarize("booking load through the cut", holds, cut)
		summarize("cut side (front end on the cut node)", cutHolds, cut)
		GinkgoWriter.Printf("old leader asked directly after the cut: %v\n", oldAnswers)
		for code := range oldAnswers {
			Expect(code/100).NotTo(Equal(2), "the cut-off leader acknowledged a write: %v", oldAnswers)
		}
		for _, h := range cutHolds {
			if h.sent.After(cutDone) {
				Expect(h.code).NotTo(Equal(http.StatusCreated), "the cut side acknowledged hold %s on %s (sent %s after the cut)", h.id, h.seat, h.sent.Sub(cutDone))
			}
		}
		n := checkNothingLost(ctx, append(holds, cutHolds...))
		Expect(n).To(BeNumerically(">", 20), "the load ran")
	})
})

// oldLeaderProbe sends holds straight to a member (with the shard's token)
// until stopped, and counts its answers by status (0: no answer).
type oldLeaderProbe struct {
	stopc chan struct{}
	done  chan struct{}
	codes map[int]int
}

func startOldLeaderProbe(member *corev1.Pod, token string, seats []string) *oldLeaderProbe {
	p := &oldLeaderProbe{stopc: make(chan struct{}), done: make(chan struct{}), codes: map[int]int{}}
	c := &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer GinkgoRecover()
		defer close(p.done)
		for _, seat := range seats {
			select {
			case <-p.stopc:
				return
			case <-time.After(100 * time.Millisecond):
			}
			b := &buyer{c: c, base: "http://" + member.Status.PodIP + ":7070"}
			code := b.shardHold(token, seat)
			p.codes[code]++
		}
	}()
	return p
}

func (p *oldLeaderProbe) stop() map[int]int {
	close(p.stopc)
	<-p.done
	return p.codes
}

// shardHold asks a shard member (b.base) to hold seat, as the front end
// does, and returns the status (0 if it did not answer).
func (b *buyer) shardHold(token, seat string) int {
	body := strings.NewReader(fmt.Sprintf(`{"seats":[%q],"holder":"e2e-probe"}`, seat))
	req, err := http.NewRequest(http.MethodPost, b.base+"/v1/holds", body)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// nodeFault is a fault applied to a node: when it began, when it was in
// place, and how to heal it (and wait for 3/3 again, timed under a label).
type nodeFault struct {
	began, inPlace time.Time
	heal           func(ctx SpecContext, label string)
}

// awaitResume waits (bounded) until a hold sent after t is acknowledged and
// returns how long after t that was.
func awaitResume(ld *contestedLoad, t time.Time, what string) time.Duration {
	var resume time.Duration
	Eventually(func() bool {
		var ok bool
		resume, ok = resumedAfter(ld.snapshot(), t)
		return ok
	}).WithTimeout(20*time.Second).WithPolling(50*time.Millisecond).Should(BeTrue(), what)
	return resume
}
