// Package state is what the local cluster leaves on the host and how it is
// found again: the record of the host processes it started (rewritten on
// every change, so a crash leaves an accurate list), the lock that keeps two
// clusters off one state directory, and the clean-up that removes whatever
// an earlier run left behind.
package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
)

// Record lists the host processes the cluster started; it is rewritten on
// every change so a crash leaves an accurate list behind.
type Record struct {
	mu     sync.Mutex
	path   string
	Bridge string     `json:"bridge"`
	Procs  []ProcInfo `json:"procs"`
}

// ProcInfo is one recorded process.
type ProcInfo struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	// Start is the process start time (clock ticks after boot), so a recycled
	// PID is never killed by mistake.
	Start string `json:"start"`
}

// RecordFile is where the record of a state directory lives.
func RecordFile(stateDir string) string { return filepath.Join(stateDir, "record.json") }

// NewRecord starts an empty record at path for a cluster on bridge and
// writes it.
func NewRecord(path, bridge string) *Record {
	r := &Record{path: path, Bridge: bridge}
	r.save()
	return r
}

// ReadRecord reads the record an earlier run left at path; a missing or
// unreadable file is an empty record.
func ReadRecord(path string) *Record {
	old := &Record{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, old)
	}
	return old
}

func (r *Record) save() {
	if r.path == "" {
		return
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	tmp := r.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, r.path)
	}
}

// Add records a started process.
func (r *Record) Add(pid int, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Procs = append(r.Procs, ProcInfo{PID: pid, Name: name, Start: ProcStart(pid)})
	r.save()
}

// Remove forgets a process that exited.
func (r *Record) Remove(pid int) {
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

// KillPID sends sig to pid if it is still the process that was recorded.
func KillPID(pid int, start string, sig syscall.Signal) bool {
	if pid <= 1 || (start != "" && ProcStart(pid) != start) {
		return false
	}
	return syscall.Kill(pid, sig) == nil
}

// CleanupStale removes what an earlier run left behind: its processes, pod
// network namespaces (and every process inside them), the bridge, and the
// state directory. It is safe to run when nothing is left.
func CleanupStale(stateDir, bridge string, logf func(string, ...any)) {
	old := ReadRecord(RecordFile(stateDir))
	killed := 0
	for _, p := range old.Procs {
		if KillPID(p.PID, p.Start, syscall.SIGKILL) {
			killed++
		}
	}
	for _, ns := range staleNetns(bridge) {
		for _, pid := range network.NetnsPIDs(ns) {
			if KillPID(pid, "", syscall.SIGKILL) {
				killed++
			}
		}
		_ = network.IP("netns", "delete", ns)
		logf("removed stale network namespace %s", ns)
	}
	for _, b := range []string{bridge, old.Bridge} {
		if b != "" && network.IP("link", "show", b) == nil {
			_ = network.IP("link", "delete", b)
			logf("removed stale bridge %s", b)
		}
	}
	if killed > 0 {
		logf("killed %d process(es) left by an earlier run", killed)
		time.Sleep(200 * time.Millisecond)
	}
	removeStateDir(stateDir)
}

// staleNetns lists the pod network namespaces of bridge.
func staleNetns(bridge string) []string {
	out, err := netnsList()
	if err != nil {
		return nil
	}
	return netnsOf(out, bridge)
}

// netnsOf picks the pod namespaces of bridge from `ip netns list` output
// (a name per line, maybe followed by "(id: N)").
func netnsOf(list, bridge string) []string {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], network.NetnsPrefix(bridge)) {
			out = append(out, f[0])
		}
	}
	return out
}

// removeStateDir deletes the state directory. Pod volumes were only ever
// mounted inside the pods' own mount namespaces, so nothing is mounted here.
func removeStateDir(dir string) {
	if dir == "" || dir == "/" {
		return
	}
	_ = os.RemoveAll(dir)
}
