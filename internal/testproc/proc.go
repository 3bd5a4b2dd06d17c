package testproc

import (
	"os/exec"
	"syscall"
	"time"
)

// Proc is a started child process in its own process group.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts cmd in its own process group (a Ctrl-C on the terminal
// reaches only the parent, which stops its children in order) that the
// kernel kills when the parent dies (Linux), and reaps it in the background.
// Set cmd's output before Start; a pipe from cmd.StdoutPipe must not be used:
// the background Wait may close it before it is read.
func Start(cmd *exec.Cmd) (*Proc, error) {
	setGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (and the process group id).
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done closes when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error (nil: exit status 0); valid after Done.
func (p *Proc) Err() error { <-p.done; return p.err }

// Alive says whether the process has not exited yet.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process group (nothing once it has exited).
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Alive() {
		return nil
	}
	return signalGroup(p.Cmd, sig)
}

// Kill SIGKILLs the group and waits until the process is reaped.
func (p *Proc) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
}

// Pause SIGSTOPs the group; Resume SIGCONTs it.
func (p *Proc) Pause() error  { return p.Signal(syscall.SIGSTOP) }
func (p *Proc) Resume() error { return p.Signal(syscall.SIGCONT) }

// Stop sends SIGTERM to the process (which stops its own children in its
// own order) and waits up to grace, then SIGKILLs the whole group. It
// returns how long the stop took and whether it was clean (exit status 0
// within grace); a process that had exited already returns 0 and its own
// exit.
func (p *Proc) Stop(grace time.Duration) (time.Duration, bool) {
	if !p.Alive() {
		return 0, p.err == nil
	}
	t := time.Now()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return time.Since(t), p.err == nil
	case <-timer.C:
		p.Kill()
		return time.Since(t), false
	}
}
