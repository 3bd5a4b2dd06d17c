package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"boxoffice.dev/boxoffice/internal/localcluster/dev"
	"boxoffice.dev/boxoffice/internal/localcluster/fault"
)

// nodeMain is `localcluster nodes` and `localcluster node ACTION NODE`.
func nodeMain(cmd string, args []string) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	stateDir := fs.String("state-dir", dev.DefaultStateDir, "State dir of the running local cluster.")
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
