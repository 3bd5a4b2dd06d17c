package state

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

func netnsList() (string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	return string(out), err
}

// statFields are the fields of /proc/PID/stat after the command name (which
// may hold spaces and parentheses): the process state first.
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}

func readStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	return statFields(string(b))
}

// ProcStart is a process's start time in clock ticks after boot ("" when
// it is gone): with the PID, it names one process for good.
func ProcStart(pid int) string {
	f := readStat(pid)
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// IsZombie reports whether pid is gone or a zombie.
func IsZombie(pid int) bool {
	f := readStat(pid)
	return len(f) == 0 || f[0] == "Z"
}

// Lock keeps two local clusters from sharing (and cleaning up) one state
// dir; the returned function releases it.
func Lock(stateDir string) (func(), error) {
	path := strings.TrimSuffix(stateDir, "/") + ".lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another local cluster is running with state dir %s (lock %s)", stateDir, path)
	}
	return func() { os.Remove(path); f.Close() }, nil
}

// Tail is the last n bytes of a log file ("" when it cannot be read).
func Tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	_, _ = f.ReadAt(b, off)
	return strings.TrimSpace(string(b))
}
