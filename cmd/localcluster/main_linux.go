// Command localcluster runs a real Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler built from the Go
// module proxy) and three in-process node agents (node-1..node-3, one zone
// each) that run pods as host processes, each in its own network and mount
// namespace on a bridge. It needs root. Its parts live in
// internal/localcluster; this is the command line.
//
//	localcluster up [flags]     start; Ctrl-C (SIGINT/SIGTERM) stops and removes everything
//	localcluster clean [flags]  remove what a crashed run left behind
//	localcluster nodes          list the running cluster's nodes and their fault states
//	localcluster node kill|pause|cut|heal NODE
//	                            inject a fault into a node of the running cluster, or heal it
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"boxoffice.dev/boxoffice/internal/localcluster/dev"
	"boxoffice.dev/boxoffice/internal/localcluster/podruntime"
)

func main() {
	podruntime.CloseInheritedOnExec()
	args := os.Args[1:]
	cmd := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "pod-exec": // hidden: runs inside a pod's namespaces
		os.Exit(podruntime.PodExecMain(args))
	case "up":
		os.Exit(upMain(args))
	case "clean":
		os.Exit(cleanMain(args))
	case "node", "nodes":
		os.Exit(nodeMain(cmd, args))
	default:
		fmt.Fprintf(os.Stderr, "localcluster: unknown command %q (want up, clean, nodes or node)\n", cmd)
		os.Exit(2)
	}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func commonFlags(fs *flag.FlagSet, o *dev.Options) {
	fs.StringVar(&o.StateDir, "state-dir", dev.DefaultStateDir, "Directory for certificates, etcd data, logs, pod files and volumes; removed on exit.")
	fs.StringVar(&o.Bridge, "bridge", "bxlc0", "Name of the bridge the pods are attached to.")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s localcluster: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func needRoot() bool {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "localcluster needs root: it creates network namespaces, a bridge, veth pairs and bind mounts for pods.\n"+
			"Run it as root (for example: sudo make dev).")
		return false
	}
	if _, err := exec.LookPath("ip"); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster needs the ip command (Debian package iproute2).")
		return false
	}
	return true
}

func cleanMain(args []string) int {
	o := &dev.Options{Logf: logf}
	fs := flag.NewFlagSet("clean", flag.ContinueOnError)
	commonFlags(fs, o)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !needRoot() {
		return 1
	}
	if err := dev.Clean(o); err != nil {
		logf("%v", err)
		return 1
	}
	logf("clean")
	return 0
}

// upFlags are the flags of `localcluster up`.
func upFlags(o *dev.Options) *flag.FlagSet {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	commonFlags(fs, o)
	fs.StringVar(&o.Bins, "bins", os.Getenv("LOCALCLUSTER_BINS"), "Directory with etcd, kube-apiserver and kube-controller-manager (default: built by hack/envtest-bins.sh).")
	fs.StringVar(&o.Repo, "repo", ".", "Repository root (for hack/envtest-bins.sh, config/crd/bases and config/samples).")
	fs.StringVar(&o.PodCIDR, "pod-cidr", "10.244.0.0/24", "Private range for pod addresses; the host takes the first address on the bridge.")
	fs.Var((*multiFlag)(&o.Images), "image", "IMAGE=BINARY: run BINARY for containers of IMAGE (repeatable). Other images fail with ErrImageNeverPull.")
	fs.StringVar(&o.Manager, "manager", "", "Run this boxoffice binary as the operator (installs the CRDs first).")
	fs.StringVar(&o.Sample, "sample", "", "Apply this Showtime (opening now, demo payments) and wait until it is Ready.")
	fs.StringVar(&o.ReadyFile, "ready-file", "", "Write a JSON description of the running cluster here once it is up.")
	fs.IntVar(&o.ExposePort, "expose-port", 18080, "With --sample: forward 127.0.0.1:PORT to the sample's front end (0: off).")
	fs.IntVar(&o.Nodes, "nodes", 3, "Number of nodes (node-1..node-N, each in its own zone zone-1..zone-N).")
	fs.BoolVar(&o.Webhooks, "webhooks", true, "With --manager: serve the operator's admission webhooks to the API server, if the manager has them.")
	return fs
}

func upMain(args []string) int {
	o := &dev.Options{Logf: logf}
	if err := upFlags(o).Parse(args); err != nil {
		return 2
	}
	if !needRoot() {
		return 1
	}
	if err := dev.Up(o); err != nil {
		logf("error: %v", err)
		return 1
	}
	return 0
}
