package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"boxoffice.dev/boxoffice/internal/localcluster/fault"
)

// serveControl listens on the state dir's control socket for fault
// injection; stop closes it.
func serveControl(stateDir string, f fault.Fleet) (path string, stop func(), err error) {
	path = fault.SocketPath(stateDir)
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return "", nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: fault.Handler(f), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return path, func() { _ = srv.Close() }, nil
}

// faultHelp is how to inject faults, as `up` and `make dev` print it.
func faultHelp(self, stateDir string, specs []nodeSpec) string {
	var names []string
	for _, s := range specs {
		names = append(names, s.Name+" ("+s.Zone+")")
	}
	flag := ""
	if stateDir != defaultStateDir {
		flag = " --state-dir=" + stateDir
	}
	n := specs[len(specs)-1].Name + flag
	return fmt.Sprintf(`  Nodes: %s; NotReady %s after their heartbeats stop.
  Faults:
    %[3]s node kill %[4]s    # SIGKILL its pods, stop its heartbeats
    %[3]s node pause %[4]s   # SIGSTOP its pods and heartbeats
    %[3]s node cut %[4]s     # its pods lose the other nodes' pods; no heartbeats
    %[3]s node heal %[4]s    # undo: a killed node reboots and restarts its pods
    %[3]s nodes%[5]s`, strings.Join(names, ", "), nodeGrace, self, n, flag)
}

const defaultStateDir = "/var/tmp/boxoffice-localcluster"

// nodeMain is `localcluster nodes` and `localcluster node ACTION NODE`.
func nodeMain(cmd string, args []string) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	stateDir := fs.String("state-dir", defaultStateDir, "State dir of the running local cluster.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	c := fault.NewClient(fault.SocketPath(*stateDir))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if cmd == "nodes" {
		if len(pos) != 0 {
			fmt.Fprintln(os.Stderr, "usage: localcluster nodes [--state-dir DIR]")
			return 2
		}
		nodes, err := c.Nodes(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "localcluster:", err)
			return 1
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tZONE\tPOD CIDR\tFAULT STATE")
		for _, n := range nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.Zone, n.PodCIDR, n.State)
		}
		_ = tw.Flush()
		return 0
	}
	if len(pos) != 2 {
		fmt.Fprintln(os.Stderr, "usage: localcluster node kill|pause|cut|heal NODE [--state-dir DIR]")
		return 2
	}
	a, err := fault.ParseAction(pos[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		return 2
	}
	st, err := c.Do(ctx, pos[1], a)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		return 1
	}
	fmt.Printf("node %s: %s\n", st.Name, st.State)
	return 0
}

// parseInterleaved parses flags given before, between or after positional
// arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
