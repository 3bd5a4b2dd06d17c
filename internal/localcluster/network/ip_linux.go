package network

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// IP runs the ip command (iproute2) with args; its output goes into the error.
func IP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NetnsPIDs lists the processes inside a network namespace (none when it
// is gone).
func NetnsPIDs(netns string) []int {
	out, err := exec.Command("ip", "netns", "pids", netns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, s := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(s); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
