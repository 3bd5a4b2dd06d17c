package podruntime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"boxoffice.dev/boxoffice/internal/localcluster/state"
	"boxoffice.dev/boxoffice/internal/localcluster/volumes"
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

func (r *Runner) specPath(c *ctr) string { return filepath.Join(r.dir, "ctr-"+c.spec.Name+".json") }

func (r *Runner) logPath(c *ctr) string { return filepath.Join(r.dir, c.spec.Name+".log") }

// writeSpec resolves one container's command, environment and mounts into
// the file the pod-exec helper reads.
func (r *Runner) writeSpec(ctx context.Context, pod *corev1.Pod, c *ctr, vols map[string]string) error {
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
	uid, gid, groups, nonRoot, roRoot := volumes.SecurityIDs(pod, &c.spec)
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

func (r *Runner) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// containerLoop starts the container, watches it, and restarts it per the
// pod's restart policy with back-off.
func (r *Runner) containerLoop(c *ctr) {
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
		r.Changed()
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
func (r *Runner) runOnce(c *ctr) (int, string, error) {
	logFile, err := os.OpenFile(r.logPath(c), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 1, "", err
	}
	defer logFile.Close()
	cmd := exec.Command("ip", "netns", "exec", r.netns, r.node.Self, "pod-exec", r.specPath(c))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	startedAt := now()
	if err := cmd.Start(); err != nil {
		r.mu.Lock()
		c.state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: startedAt, FinishedAt: now()}}
		r.mu.Unlock()
		r.Changed()
		return 128, "", err
	}
	pid := cmd.Process.Pid
	r.node.Record.Add(pid, "pod "+r.ns+"/"+r.name+"/"+c.spec.Name)
	r.mu.Lock()
	c.pid = pid
	c.id = "localcluster://" + string(r.uid)[:8] + "-" + c.spec.Name + "-" + strconv.Itoa(int(c.restarts))
	c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
	c.started = c.spec.StartupProbe == nil
	c.ready = false
	r.mu.Unlock()
	r.Changed()

	exited := make(chan struct{})
	var unhealthy sync.Once
	var killedUnhealthy atomic.Bool
	probeCtx, cancel := context.WithCancel(r.node.Ctx)
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
	r.node.Record.Remove(pid)
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
		msg = state.Tail(r.logPath(c), 512)
	}
	r.mu.Lock()
	term := &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, Message: msg, StartedAt: startedAt, FinishedAt: now(), ContainerID: c.id}
	c.state = corev1.ContainerState{Terminated: term}
	c.lastState = corev1.ContainerState{Terminated: term.DeepCopy()}
	c.ready, c.pid = false, 0
	r.mu.Unlock()
	r.Changed()
	if killedUnhealthy.Load() {
		return code, "Unhealthy", nil
	}
	return code, "", nil
}

// killGroup sends SIGTERM to the container's process group, then SIGKILL
// after grace if it has not exited.
func (r *Runner) killGroup(pid int, exited <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// killAll stops every running container: SIGTERM, then SIGKILL after grace.
func (r *Runner) killAll(grace time.Duration) {
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
			if syscall.Kill(pid, 0) == nil && state.ProcStart(pid) != "" && !state.IsZombie(pid) {
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
