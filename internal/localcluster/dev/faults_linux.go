package dev

import (
	"fmt"
	"strings"

	"boxoffice.dev/boxoffice/internal/localcluster/network"
	"boxoffice.dev/boxoffice/internal/localcluster/nodeagent"
)

// FaultHelp is how to inject faults, as `up` and `make dev` print it.
func FaultHelp(self, stateDir string, specs []network.NodeSpec) string {
	var names []string
	for _, s := range specs {
		names = append(names, s.Name+" ("+s.Zone+")")
	}
	flag := ""
	if stateDir != DefaultStateDir {
		flag = " --state-dir=" + stateDir
	}
	n := specs[len(specs)-1].Name + flag
	return fmt.Sprintf(`  Nodes: %s; NotReady %s after their heartbeats stop.
  Faults:
    %[3]s node kill %[4]s    # SIGKILL its pods, stop its heartbeats
    %[3]s node pause %[4]s   # SIGSTOP its pods and heartbeats
    %[3]s node cut %[4]s     # its pods lose the other nodes' pods; no heartbeats
    %[3]s node heal %[4]s    # undo: a killed node reboots and restarts its pods
    %[3]s nodes%[5]s`, strings.Join(names, ", "), nodeagent.NodeGrace, self, n, flag)
}

// DefaultStateDir is where `up` keeps its state unless --state-dir says otherwise.
const DefaultStateDir = "/var/tmp/boxoffice-localcluster"
