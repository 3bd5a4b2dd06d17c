package controlplane

import (
	"os"
	"os/exec"
	"syscall"
	"time"

	"boxoffice.dev/boxoffice/internal/localcluster/state"
)

// Component is one process the cluster runs on the host (a control-plane
// process or the operator), recorded in the state record while it runs.
type Component struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartComponent runs bin with args (and env added to the host's, if any),
// its output appended to logPath, in a process group of its own that dies
// with the local cluster.
func StartComponent(rec *state.Record, name, logPath string, env []string, bin string, args ...string) (*Component, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	rec.Add(cmd.Process.Pid, name)
	c := &Component{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		rec.Remove(cmd.Process.Pid)
		close(c.done)
	}()
	return c, nil
}

// Done is closed once the process has exited; Err is then its exit error.
func (c *Component) Done() <-chan struct{} { return c.done }
func (c *Component) Err() error            { return c.err }

// Stop sends SIGTERM, then SIGKILL if the process has not exited after grace.
func (c *Component) Stop(grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
