//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"boxoffice.dev/boxoffice/internal/testproc"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// localCluster is a running `localcluster up`, its output in a log file
// under the temporary directory.
type localCluster struct {
	*testproc.Proc
	logPath string
	ready   string
}

// startLocalCluster starts `localcluster up` with args and a ready file; name
// names its log. The process gets SIGTERM (a clean stop) if this test
// process dies without stopping it (a go test -timeout, a kill), so no
// local cluster is left running.
func startLocalCluster(name string, args ...string) *localCluster {
	l := &localCluster{
		logPath: filepath.Join(os.TempDir(), "boxoffice-"+name+"-localcluster.log"),
		ready:   filepath.Join(GinkgoT().TempDir(), "ready.json"),
	}
	cmd := exec.Command(env("LOCALCLUSTER"), append(args, "--ready-file="+l.ready)...)
	logFile, err := os.Create(l.logPath)
	Expect(err).NotTo(HaveOccurred())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	l.Proc, err = testproc.Start(cmd)
	Expect(err).NotTo(HaveOccurred())
	go func() { <-l.Done(); logFile.Close() }()
	GinkgoWriter.Printf("local cluster %s starting (log %s)\n", name, l.logPath)
	return l
}

// waitReady waits up to timeout for the ready file and returns what it
// says; it stops trying, with the log, if the local cluster exits.
func (l *localCluster) waitReady(timeout time.Duration) cluster {
	var c cluster
	Eventually(func() error {
		select {
		case <-l.Done():
			b, _ := os.ReadFile(l.logPath)
			StopTrying("the local cluster exited:\n" + string(b)).Now()
		default:
		}
		b, err := os.ReadFile(l.ready)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &c)
	}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
	return c
}

// stop sends SIGTERM and waits up to 90s before killing the process group.
func (l *localCluster) stop() { l.Stop(90 * time.Second) }
