//go:build e2e

// Package e2e runs Box office end to end on the local cluster
// (cmd/localcluster) with the real manager, shard and front end. It needs
// root; run it with `make test-e2e`.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Box office end to end")
}

// cluster is what the local cluster reports in its ready file.
type cluster struct {
	Kubeconfig string `json:"kubeconfig"`
	Server     string `json:"server"`
	StateDir   string `json:"stateDir"`
	Bins       string `json:"bins"`
	HostIP     string `json:"hostIP"`
	ManagerLog string `json:"managerLog"`
	Webhooks   bool   `json:"webhooks"`
	// BreakGlassKubeconfig is a user in the manager's break-glass group.
	BreakGlassKubeconfig string `json:"breakGlassKubeconfig"`
	// ControlSocket takes fault injection (internal/localcluster/fault).
	ControlSocket string   `json:"controlSocket"`
	Nodes         []string `json:"nodes"`
}

var (
	lc      cluster
	lcProc  *localCluster
	cfg     *rest.Config
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	repo    string
	timings = map[string]time.Duration{}
)

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		Fail(fmt.Sprintf("%s is not set: run the suite with `make test-e2e`", name))
	}
	return v
}

var _ = BeforeSuite(func() {
	if os.Geteuid() != 0 {
		Fail("the end-to-end suite needs root: the local cluster creates network namespaces and a bridge (run `sudo make test-e2e`)")
	}
	var err error
	repo, err = filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
	box := env("BOXOFFICE_BIN")
	began := time.Now()
	lcProc = startLocalCluster("e2e", "up",
		"--state-dir=/var/tmp/boxoffice-e2e", "--bridge=bxe2e0", "--pod-cidr=10.244.7.0/24",
		"--bins="+env("LOCALCLUSTER_BINS"), "--repo="+repo,
		// boxoffice:next is a second version of the same binary for the
		// rollout spec; boxoffice:broken is a version that exits at once.
		"--image=boxoffice:dev="+box, "--image=boxoffice:next="+box, "--image=boxoffice:broken=/bin/false",
		// sleep is a pod that just runs, for the node specs.
		"--image=sleep=/bin/sleep",
		"--manager="+box)
	lc = lcProc.waitReady(10 * time.Minute)
	timings["cluster and manager up"] = time.Since(began)
	cfg, err = clientcmd.BuildConfigFromFlags("", lc.Kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	kube = kubernetes.NewForConfigOrDie(cfg)
	dyn = dynamic.NewForConfigOrDie(cfg)
})

var _ = AfterSuite(func() {
	for name, d := range timings {
		fmt.Printf("e2e timing: %-45s %s\n", name, d.Round(100*time.Millisecond))
	}
	if lcProc != nil {
		lcProc.stop()
	}
})
