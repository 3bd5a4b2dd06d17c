package dev

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"boxoffice.dev/boxoffice/internal/localcluster/controlplane"
	"boxoffice.dev/boxoffice/internal/localcluster/state"
	"boxoffice.dev/boxoffice/internal/testproc"
)

// devSession runs the operator against the local cluster: CRDs, the manager
// as a host process, its webhooks if it has them, and the sample Showtime.
type devSession struct {
	o        *Options
	cp       *controlplane.ControlPlane
	cfg      *rest.Config
	cs       kubernetes.Interface
	logf     func(string, ...any)
	webhooks bool
	// faults is the fault-injection help printed with the sample.
	faults string
}

// InstallCRDs applies config/crd/bases and waits until each is established.
func (d *devSession) installCRDs(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(d.o.Repo, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs in %s/config/crd/bases", d.o.Repo)
	}
	objs, err := readObjects(files...)
	if err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(d.cfg)
	if err != nil {
		return err
	}
	for _, u := range objs {
		if err := applyObj(ctx, dc, crdGVR, u); err != nil {
			return fmt.Errorf("CRD %s: %w", u.GetName(), err)
		}
	}
	for _, u := range objs {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := dc.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", u.GetName(), err)
		}
	}
	d.logf("installed %d CRDs", len(objs))
	return nil
}

// managerFlags lists the flags the manager binary knows (from its -help).
func managerFlags(bin string) string {
	out, _ := exec.Command(bin, "manager", "-help").CombinedOutput()
	return string(out)
}

// startManager installs the CRDs and runs `boxoffice manager` on the host.
func (d *devSession) startManager(ctx context.Context) (*controlplane.Component, error) {
	if err := d.installCRDs(ctx); err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(d.o.Manager)
	if err != nil {
		return nil, err
	}
	metricsPort, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	probePort, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	image := ""
	for _, m := range d.o.Images {
		image, _, _ = strings.Cut(m, "=")
		break
	}
	args := []string{"manager",
		"--default-image=" + image, "--metrics-secure=false",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
		"--operator-namespace=default",
	}
	help := managerFlags(bin)
	webhookArgs, err := d.webhookSetup(ctx, help)
	if err != nil {
		return nil, err
	}
	args = append(args, webhookArgs...)
	logPath := filepath.Join(d.cp.LogDir, "manager.log")
	c, err := controlplane.StartComponent(d.cp.Record, "manager", logPath, []string{"KUBECONFIG=" + d.cp.ManagerKubeconfig}, bin, args...)
	if err != nil {
		return nil, err
	}
	d.logf("started the manager (%s %s); log %s", bin, strings.Join(args, " "), logPath)
	if err := controlplane.WaitHTTP(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort), 2*time.Minute, c.Done()); err != nil {
		return c, fmt.Errorf("manager: %w; its log ends:\n%s", err, state.Tail(logPath, 3000))
	}
	return c, nil
}
