package controlplane

import (
	"os"
	"os/exec"
	"time"

	"boxoffice.dev/boxoffice/internal/localcluster/state"
	"boxoffice.dev/boxoffice/internal/testproc"
)

// Component is one process the cluster runs on the host (a control-plane
// process or the operator), recorded in the state record while it runs.
type Component struct {
	name string
	proc *testproc.Proc
	done chan struct{} // closed once the process has exited and left the record
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
	p, err := testproc.Start(cmd)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	rec.Add(p.Pid(), name)
	c := &Component{name: name, proc: p, done: make(chan struct{})}
	go func() {
		<-p.Done()
		logFile.Close()
		rec.Remove(p.Pid())
		close(c.done)
	}()
	return c, nil
}

// Done is closed once the process has exited; Err is then its exit error.
func (c *Component) Done() <-chan struct{} { return c.done }
func (c *Component) Err() error            { return c.proc.Err() }

// Stop sends SIGTERM, then SIGKILL to its group if the process has not
// exited after grace.
func (c *Component) Stop(grace time.Duration) {
	c.proc.Stop(grace)
	<-c.done
}
