package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Restart back-off, as the kubelet's: 10 s doubling to 5 minutes, reset after
// 10 minutes of running.
const (
	backoffBase  = 10 * time.Second
	backoffMax   = 5 * time.Minute
	backoffReset = 10 * time.Minute
)

// ctr is one container of a running pod.
type ctr struct {
	spec      corev1.Container
	binary    string // host binary the image maps to
	restarts  int32
	state     corev1.ContainerState
	lastState corev1.ContainerState
	started   bool
	ready     bool
	pid       int
	id        string
}

// podRunner runs one pod: its network namespace, volumes, container
// processes, probes and status.
type podRunner struct {
	a        *agent
	uid      types.UID
	ns, name string
	dir      string
	ip       netip.Addr
	netns    string
	veth     string
	netUp    bool

	mu        sync.Mutex
	pod       *corev1.Pod
	ctrs      []*ctr
	waitWhy   string // reason every container waits (pod-level setup failure)
	waitMsg   string
	startTime metav1.Time
	stopping  bool

	nudge    chan struct{}
	statusCh chan struct{}
	stopCh   chan struct{}
	done     chan struct{}
}

func now() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

func newPodRunner(a *agent, pod *corev1.Pod) *podRunner {
	short := string(pod.UID)
	if len(short) > 8 {
		short = short[:8]
	}
	r := &podRunner{
		a: a, uid: pod.UID, ns: pod.Namespace, name: pod.Name,
		dir:      filepath.Join(a.stateDir, "pods", pod.Namespace+"_"+pod.Name+"_"+string(pod.UID)),
		netns:    netnsPrefix(a.net.bridge) + short,
		veth:     vethPrefix + short,
		pod:      pod.DeepCopy(),
		nudge:    make(chan struct{}, 1),
		statusCh: make(chan struct{}, 1),
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	for _, c := range pod.Spec.Containers {
		r.ctrs = append(r.ctrs, &ctr{spec: c, state: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	}
	return r
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// update hands the runner the latest pod (nil: the pod is gone).
func (r *podRunner) update(pod *corev1.Pod) {
	r.mu.Lock()
	if pod == nil {
		r.pod = nil
	} else {
		r.pod = pod.DeepCopy()
	}
	r.mu.Unlock()
	kick(r.nudge)
}

func (r *podRunner) latest() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pod
}

func (r *podRunner) logf(format string, args ...any) {
	r.a.logf("pod %s/%s: %s", r.ns, r.name, fmt.Sprintf(format, args...))
}

func (r *podRunner) changed() { kick(r.statusCh) }

// run is the pod's life: set up, run containers until deleted, tear down.
func (r *podRunner) run() {
	defer close(r.done)
	ctx := r.a.ctx
	go r.statusLoop()
	var wg sync.WaitGroup
	if err := r.setup(ctx); err != nil {
		r.logf("not started: %s", r.waitMsg)
	} else {
		for _, c := range r.ctrs {
			wg.Add(1)
			go func() { defer wg.Done(); r.containerLoop(c) }()
		}
	}
	grace := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			grace = r.graceFor(r.latest())
			if grace > 10*time.Second {
				grace = 10 * time.Second
			}
		case <-r.nudge:
			pod := r.latest()
			if pod != nil && pod.DeletionTimestamp == nil {
				continue
			}
			grace = r.graceFor(pod)
		}
		break
	}
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	close(r.stopCh)
	r.killAll(grace)
	wg.Wait()
	r.teardown()
	if ctx.Err() != nil {
		return
	}
	r.syncStatus()
	if pod := r.latest(); pod != nil {
		uid := r.uid
		err := r.a.cs.CoreV1().Pods(r.ns).Delete(ctx, r.name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			r.logf("final delete: %v", err)
		}
	}
}

func (r *podRunner) graceFor(pod *corev1.Pod) time.Duration {
	if pod == nil {
		return 2 * time.Second
	}
	if pod.DeletionGracePeriodSeconds != nil {
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

func (r *podRunner) failSetup(reason, msg string) error {
	r.mu.Lock()
	r.waitWhy, r.waitMsg = reason, msg
	for _, c := range r.ctrs {
		c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	r.mu.Unlock()
	r.changed()
	return errors.New(msg)
}

// setup checks images, gives the pod its network and writes its /etc and volumes.
func (r *podRunner) setup(ctx context.Context) error {
	pod := r.latest()
	if pod == nil {
		return errors.New("gone")
	}
	for _, c := range r.ctrs {
		bin, ok := r.a.images[c.spec.Image]
		if !ok {
			msg := fmt.Sprintf("image %q is not in the local cluster's image map (--image %s); it runs only images mapped to local binaries", c.spec.Image, r.a.imageList())
			r.mu.Lock()
			c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: msg}}
			r.waitMsg = msg
			r.mu.Unlock()
			r.changed()
			return errors.New(msg)
		}
		c.binary = bin
	}
	if len(pod.Spec.InitContainers) > 0 {
		return r.failSetup("CreateContainerConfigError", "init containers are not supported by the local cluster")
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "rootfs", "etc"), 0o755); err != nil {
		return r.failSetup("CreateContainerConfigError", err.Error())
	}
	ip, err := r.a.net.allocate(string(r.uid))
	if err != nil {
		return r.failSetup("NetworkNotReady", err.Error())
	}
	r.ip = ip
	if err := r.a.net.setupPod(r.netns, r.veth, ip); err != nil {
		r.a.net.release(ip)
		r.ip = netip.Addr{}
		return r.failSetup("NetworkNotReady", err.Error())
	}
	r.netUp = true
	r.mu.Lock()
	r.startTime = now()
	r.mu.Unlock()
	if err := r.writeEtc(pod); err != nil {
		return r.failSetup("CreateContainerConfigError", err.Error())
	}
	vols, err := r.prepareVolumes(ctx, pod)
	if err != nil {
		return r.failSetup("CreateContainerConfigError", err.Error())
	}
	for _, c := range r.ctrs {
		if err := r.writeSpec(ctx, pod, c, vols); err != nil {
			return r.failSetup("CreateContainerConfigError", err.Error())
		}
	}
	go r.refreshLoop(ctx, pod, vols)
	r.changed()
	return nil
}

// writeEtc writes the pod's own /etc: hosts (its own names), resolv.conf
// (the cluster DNS on the bridge's host address: Service and pod names),
// nsswitch.conf, hostname, passwd and group.
func (r *podRunner) writeEtc(pod *corev1.Pod) error {
	etc := filepath.Join(r.dir, "rootfs", "etc")
	files := map[string]string{
		"hostname":      podHostname(pod) + "\n",
		"nsswitch.conf": "hosts: files dns\n",
		"resolv.conf":   resolvConf(pod.Namespace, r.a.net.hostIP.String()),
		"passwd":        "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
		"group":         "root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return r.writeHosts()
}

// writeHosts writes the pod's hosts file: localhost and the pod's own names.
// Every other name comes from the cluster DNS.
func (r *podRunner) writeHosts() error {
	if !r.ip.IsValid() {
		return nil
	}
	pod := r.latest()
	hostname := r.name
	if pod != nil {
		hostname = podHostname(pod)
		if pod.Spec.Subdomain != "" {
			hostname += "." + pod.Spec.Subdomain + "." + r.ns + ".svc." + clusterDomain + " " + podHostname(pod)
		}
	}
	return os.WriteFile(filepath.Join(r.dir, "rootfs", "etc", "hosts"), renderHosts(r.ip.String(), hostname), 0o644)
}

func securityIDs(pod *corev1.Pod, c *corev1.Container) (uid, gid *int64, groups []int64, nonRoot, roRoot bool) {
	if ps := pod.Spec.SecurityContext; ps != nil {
		uid, gid = ps.RunAsUser, ps.RunAsGroup
		nonRoot = ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		if ps.FSGroup != nil {
			groups = append(groups, *ps.FSGroup)
		}
		groups = append(groups, ps.SupplementalGroups...)
	}
	if cs := c.SecurityContext; cs != nil {
		if cs.RunAsUser != nil {
			uid = cs.RunAsUser
		}
		if cs.RunAsGroup != nil {
			gid = cs.RunAsGroup
		}
		if cs.RunAsNonRoot != nil {
			nonRoot = *cs.RunAsNonRoot
		}
		roRoot = cs.ReadOnlyRootFilesystem != nil && *cs.ReadOnlyRootFilesystem
	}
	return
}

func (r *podRunner) specPath(c *ctr) string { return filepath.Join(r.dir, "ctr-"+c.spec.Name+".json") }
func (r *podRunner) logPath(c *ctr) string  { return filepath.Join(r.dir, c.spec.Name+".log") }

// writeSpec resolves one container's command, environment and mounts into
// the file the pod-exec helper reads.
func (r *podRunner) writeSpec(ctx context.Context, pod *corev1.Pod, c *ctr, vols map[string]string) error {
	env, err := r.buildEnv(ctx, pod, &c.spec)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.spec.Name, err)
	}
	envMap := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		envMap[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := envMap[k]; return v, ok }
	entry := "/" + filepath.Base(c.binary)
	argv := []string{entry}
	if len(c.spec.Command) > 0 {
		argv = nil
		for _, s := range c.spec.Command {
			argv = append(argv, expandVars(s, lookup))
		}
	}
	for _, s := range c.spec.Args {
		argv = append(argv, expandVars(s, lookup))
	}
	uid, gid, groups, nonRoot, roRoot := securityIDs(pod, &c.spec)
	if nonRoot && (uid == nil || *uid == 0) {
		return fmt.Errorf("container %s has runAsNonRoot and no non-zero runAsUser (the local cluster cannot read a user from an image)", c.spec.Name)
	}
	spec := execSpec{
		Root: filepath.Join(r.dir, "rootfs"), Argv: argv, Env: env, WorkingDir: c.spec.WorkingDir,
		ReadOnlyRoot: roRoot, UID: uid, GID: gid, Groups: groups, Hostname: podHostname(pod),
		Mounts: []mountSpec{{Source: c.binary, Target: entry, ReadOnly: true}},
	}
	for _, vm := range c.spec.VolumeMounts {
		src, ok := vols[vm.Name]
		if !ok {
			return fmt.Errorf("container %s mounts unknown volume %s", c.spec.Name, vm.Name)
		}
		if vm.SubPath != "" {
			src = filepath.Join(src, filepath.Clean("/"+vm.SubPath))
			if _, err := os.Stat(src); err != nil {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return err
				}
			}
		}
		spec.Mounts = append(spec.Mounts, mountSpec{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(r.specPath(c), b, 0o600)
}

func (r *podRunner) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// containerLoop starts the container, watches it, and restarts it per the
// pod's restart policy with back-off.
func (r *podRunner) containerLoop(c *ctr) {
	backoff := backoffBase
	for attempt := 0; ; attempt++ {
		if r.isStopping() {
			return
		}
		began := time.Now()
		code, reason, err := r.runOnce(c)
		if err != nil {
			r.logf("container %s: %v", c.spec.Name, err)
		}
		pod := r.latest()
		policy := corev1.RestartPolicyAlways
		if pod != nil {
			policy = pod.Spec.RestartPolicy
		}
		if r.isStopping() || policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && code == 0 && reason != "Unhealthy") {
			return
		}
		if time.Since(began) > backoffReset {
			backoff = backoffBase
		}
		r.mu.Lock()
		c.state = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container %s in pod %s", backoff, c.spec.Name, r.name),
		}}
		r.mu.Unlock()
		r.changed()
		select {
		case <-r.stopCh:
			return
		case <-time.After(backoff):
		}
		backoff *= 2
		if backoff > backoffMax {
			backoff = backoffMax
		}
		r.mu.Lock()
		c.restarts++
		r.mu.Unlock()
	}
}

// runOnce runs one instance of the container until it exits; it returns the
// exit code and, when the agent killed it for failing probes, "Unhealthy".
func (r *podRunner) runOnce(c *ctr) (int, string, error) {
	logFile, err := os.OpenFile(r.logPath(c), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 1, "", err
	}
	defer logFile.Close()
	cmd := exec.Command("ip", "netns", "exec", r.netns, r.a.self, "pod-exec", r.specPath(c))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	startedAt := now()
	if err := cmd.Start(); err != nil {
		r.mu.Lock()
		c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: startedAt, FinishedAt: now()}}
		r.mu.Unlock()
		r.changed()
		return 128, "", err
	}
	pid := cmd.Process.Pid
	r.a.rec.add(pid, "pod "+r.ns+"/"+r.name+"/"+c.spec.Name)
	r.mu.Lock()
	c.pid = pid
	c.id = "localcluster://" + string(r.uid)[:8] + "-" + c.spec.Name + "-" + strconv.Itoa(int(c.restarts))
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
	c.started = c.spec.StartupProbe == nil
	c.ready = false
	r.mu.Unlock()
	r.changed()

	exited := make(chan struct{})
	var unhealthy sync.Once
	var killedUnhealthy atomic.Bool
	probeCtx, cancel := context.WithCancel(r.a.ctx)
	go r.probeLoop(probeCtx, c, func(why string) {
		unhealthy.Do(func() {
			r.logf("container %s %s; restarting it", c.spec.Name, why)
			killedUnhealthy.Store(true)
			go r.killGroup(pid, exited, r.graceFor(r.latest()))
		})
	})
	err = cmd.Wait()
	close(exited)
	cancel()
	r.a.rec.remove(pid)
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ee.ExitCode()
			}
		} else {
			code = 1
		}
	}
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	msg := ""
	if code == 127 || code == 128 {
		msg = tail(r.logPath(c), 512)
	}
	r.mu.Lock()
	term := &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, Message: msg, StartedAt: startedAt, FinishedAt: now(), ContainerID: c.id}
	c.state = corev1.ContainerState{Terminated: term}
	c.lastState = corev1.ContainerState{Terminated: term.DeepCopy()}
	c.ready, c.pid = false, 0
	r.mu.Unlock()
	r.changed()
	if killedUnhealthy.Load() {
		return code, "Unhealthy", nil
	}
	return code, "", nil
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := fi.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, fi.Size()-off)
	_, _ = f.ReadAt(b, off)
	return strings.TrimSpace(string(b))
}

// killGroup sends SIGTERM to the container's process group, then SIGKILL
// after grace if it has not exited.
func (r *podRunner) killGroup(pid int, exited <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// killAll stops every running container: SIGTERM, then SIGKILL after grace.
func (r *podRunner) killAll(grace time.Duration) {
	r.mu.Lock()
	var pids []int
	for _, c := range r.ctrs {
		if c.pid > 0 {
			pids = append(pids, c.pid)
		}
	}
	r.mu.Unlock()
	for _, pid := range pids {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for {
		alive := false
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && procStart(pid) != "" && !isZombie(pid) {
				alive = true
			}
		}
		if !alive {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] == 'Z'
}

func (r *podRunner) teardown() {
	// Anything still running in the namespace (a container's children) goes too.
	if r.netUp {
		if out, err := exec.Command("ip", "netns", "pids", r.netns).Output(); err == nil {
			for _, s := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(s); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		r.a.net.teardownPod(r.netns, r.veth)
		r.netUp = false
	}
	if r.ip.IsValid() {
		r.a.net.release(r.ip)
	}
	_ = os.RemoveAll(r.dir)
}

// probeLoop runs the container's startup, liveness and readiness probes.
func (r *podRunner) probeLoop(ctx context.Context, c *ctr, unhealthy func(string)) {
	run := func(p *corev1.Probe, kind string) {
		if p == nil {
			return
		}
		period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
		timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
		failureThreshold := max(p.FailureThreshold, 1)
		successThreshold := max(p.SuccessThreshold, 1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
		}
		fails, oks := int32(0), int32(0)
		for {
			r.mu.Lock()
			started := c.started
			r.mu.Unlock()
			if kind == "startup" && started {
				return
			}
			// A paused node probes nothing: its processes are stopped.
			if (kind == "startup" || started) && !r.a.frozen.Load() {
				err := r.probe(ctx, p, &c.spec, timeout)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					fails, oks = 0, oks+1
				} else {
					fails, oks = fails+1, 0
				}
				switch kind {
				case "startup":
					if err == nil {
						r.mu.Lock()
						c.started = true
						if c.spec.ReadinessProbe == nil {
							c.ready = true
						}
						r.mu.Unlock()
						r.changed()
						return
					}
					if fails >= failureThreshold {
						unhealthy("failed its startup probe: " + err.Error())
						return
					}
				case "liveness":
					if fails >= failureThreshold {
						unhealthy("failed its liveness probe: " + err.Error())
						return
					}
				case "readiness":
					r.mu.Lock()
					was := c.ready
					if oks >= successThreshold {
						c.ready = true
					} else if fails >= failureThreshold {
						c.ready = false
					}
					now := c.ready
					r.mu.Unlock()
					if was != now {
						r.changed()
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(period):
			}
		}
	}
	if c.spec.ReadinessProbe == nil && c.spec.StartupProbe == nil {
		r.mu.Lock()
		c.ready = true
		r.mu.Unlock()
		r.changed()
	} else if c.spec.ReadinessProbe == nil {
		// ready follows started, set by the startup probe
	}
	go run(c.spec.StartupProbe, "startup")
	go run(c.spec.LivenessProbe, "liveness")
	run(c.spec.ReadinessProbe, "readiness")
	<-ctx.Done()
}

func portOf(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container has no port named %q", p.StrVal)
}

var probeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// probe runs one probe against the pod's own address.
func (r *podRunner) probe(ctx context.Context, p *corev1.Probe, c *corev1.Container, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		port, err := portOf(p.HTTPGet.Port, c)
		if err != nil {
			return err
		}
		scheme := "http"
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			return errors.New("HTTPS probes are not supported by the local cluster")
		}
		path := p.HTTPGet.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(r.ip.String(), strconv.Itoa(port))+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/localcluster")
		for _, h := range p.HTTPGet.HTTPHeaders {
			req.Header.Set(h.Name, h.Value)
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := portOf(p.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(r.ip.String(), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	default:
		return errors.New("only httpGet and tcpSocket probes are supported by the local cluster")
	}
}

// statusLoop writes the pod's status when it changed (and checks every 10 s).
func (r *podRunner) statusLoop() {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-r.a.ctx.Done():
			return
		case <-r.statusCh:
		case <-t.C:
		}
		// Let a burst of changes settle into one write.
		time.Sleep(50 * time.Millisecond)
		if r.a.ctx.Err() == nil && !r.a.frozen.Load() {
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
func (r *podRunner) buildStatus(old corev1.PodStatus, pod *corev1.Pod) corev1.PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := *old.DeepCopy()
	st.HostIP = r.a.net.hostIP.String()
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

func (r *podRunner) syncStatus() {
	ctx := r.a.ctx
	for attempt := 0; attempt < 4; attempt++ {
		pod, err := r.a.cs.CoreV1().Pods(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if attempt == 0 {
			if cached := r.a.cachedPod(r.ns, r.name); cached != nil {
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
		if _, err = r.a.cs.CoreV1().Pods(r.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
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
