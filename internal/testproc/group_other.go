//go:build !linux

package testproc

import (
	"os/exec"
	"syscall"
)

// Off Linux the process keeps its parent's group and gets signals alone.
func setGroup(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	return cmd.Process.Signal(sig)
}
