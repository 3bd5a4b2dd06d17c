package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Names of everything the local cluster makes outside its state directory,
// so that a later start can find and remove them after a crash.
// Pod network namespaces are named BRIDGE-UIDPREFIX, so two clusters with
// different bridges never touch each other's.
func netnsPrefix(bridge string) string { return bridge + "-" }

const vethPrefix = "bxv"

// record lists the host processes the cluster started; it is rewritten on
// every change so a crash leaves an accurate list behind.
type record struct {
	mu     sync.Mutex
	path   string
	Bridge string     `json:"bridge"`
	Procs  []procInfo `json:"procs"`
}

type procInfo struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	// Start is the process start time (clock ticks after boot), so a recycled
	// PID is never killed by mistake.
	Start string `json:"start"`
}

func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

func (r *record) save() {
	b, _ := json.MarshalIndent(r, "", "  ")
	tmp := r.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, r.path)
	}
}

func (r *record) add(pid int, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Procs = append(r.Procs, procInfo{PID: pid, Name: name, Start: procStart(pid)})
	r.save()
}

func (r *record) remove(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.Procs {
		if p.PID == pid {
			r.Procs = append(r.Procs[:i], r.Procs[i+1:]...)
			break
		}
	}
	r.save()
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// killPID sends sig to pid if it is still the process that was recorded.
func killPID(pid int, start string, sig syscall.Signal) bool {
	if pid <= 1 || (start != "" && procStart(pid) != start) {
		return false
	}
	return syscall.Kill(pid, sig) == nil
}

// cleanupStale removes what an earlier run left behind: its processes, pod
// network namespaces (and every process inside them), the bridge, and the
// state directory. It is safe to run when nothing is left.
func cleanupStale(stateDir, bridge string, logf func(string, ...any)) {
	var old record
	if b, err := os.ReadFile(filepath.Join(stateDir, "record.json")); err == nil {
		_ = json.Unmarshal(b, &old)
	}
	killed := 0
	for _, p := range old.Procs {
		if killPID(p.PID, p.Start, syscall.SIGKILL) {
			killed++
		}
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], netnsPrefix(bridge)) {
				continue
			}
			if pids, err := exec.Command("ip", "netns", "pids", f[0]).Output(); err == nil {
				for _, s := range strings.Fields(string(pids)) {
					if pid, err := strconv.Atoi(s); err == nil && killPID(pid, "", syscall.SIGKILL) {
						killed++
					}
				}
			}
			_ = run("ip", "netns", "delete", f[0])
			logf("removed stale network namespace %s", f[0])
		}
	}
	for _, b := range []string{bridge, old.Bridge} {
		if b != "" && exec.Command("ip", "link", "show", b).Run() == nil {
			_ = run("ip", "link", "delete", b)
			logf("removed stale bridge %s", b)
		}
	}
	if killed > 0 {
		logf("killed %d process(es) left by an earlier run", killed)
		time.Sleep(200 * time.Millisecond)
	}
	removeStateDir(stateDir)
}

// removeStateDir deletes the state directory. Pod volumes were only ever
// mounted inside the pods' own mount namespaces, so nothing is mounted here.
func removeStateDir(dir string) {
	if dir == "" || dir == "/" {
		return
	}
	_ = os.RemoveAll(dir)
}
