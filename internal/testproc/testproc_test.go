package testproc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestFreeAddrCanBeListenedOn(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr() = %s, want a loopback address", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	l.Close()
}

func TestWaitHTTPUntilWantedStatus(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := WaitHTTP(ctx, srv.URL, http.StatusOK); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3 (two 503s, then 200)", n)
	}
}

func TestWaitHTTPIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	err := Poll{Interval: 5 * time.Millisecond}.WaitHTTPFor(srv.URL, http.StatusOK, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "status 503") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("err = %v, want one naming the URL and the last status", err)
	}
}

func TestWaitHTTPGivesUpWhenTheProcessExits(t *testing.T) {
	exited := make(chan struct{})
	close(exited)
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	err = Poll{Exited: exited}.WaitHTTPFor("http://"+addr, http.StatusOK, time.Minute)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("err = %v, want ErrExited", err)
	}
}

// state is the process state letter of /proc/<pid>/stat (T: stopped).
func state(t *testing.T, pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// started runs script in sh after writing its own and a child's pids to a
// file, and waits until the file is there (the shell's traps are set).
func started(t *testing.T, script string) (*Proc, string) {
	t.Helper()
	f := t.TempDir() + "/pids"
	p, err := Start(exec.Command("sh", "-c", script+"\n"+`echo $$ $! > `+f+`.tmp; mv `+f+`.tmp `+f+`; wait`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := os.ReadFile(f); err == nil {
			return p, strings.Fields(string(b))[1]
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcPauseResumeAndStop(t *testing.T) {
	p, _ := started(t, `trap 'exit 0' TERM; sleep 2 &`)
	if pgid, _ := syscall.Getpgid(p.Pid()); pgid != p.Pid() {
		t.Fatalf("process group %d, want its own (%d)", pgid, p.Pid())
	}
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	waitState(t, p.Pid(), "T")
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, clean := p.Stop(10 * time.Second); !clean {
		t.Fatalf("Stop: not clean (%v)", p.Err())
	}
	if p.Alive() {
		t.Fatal("alive after Stop")
	}
}

func waitState(t *testing.T, pid int, want string) {
	deadline := time.Now().Add(5 * time.Second)
	for state(t, pid) != want {
		if time.Now().After(deadline) {
			t.Fatalf("process %d state %s, want %s", pid, state(t, pid), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStopFallsBackToKillingTheWholeGroup(t *testing.T) {
	// The shell ignores SIGTERM and has a child that ignores it too: Stop
	// must SIGKILL, and the child must die with the group.
	p, child := started(t, `trap '' TERM; sleep 60 &`)
	if _, clean := p.Stop(200 * time.Millisecond); clean {
		t.Fatal("Stop of a process that ignores SIGTERM reported clean")
	}
	pid, _ := strconv.Atoi(child)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + child + "/stat")
		if err != nil || state(t, pid) == "Z" || !strings.Contains(string(b), "sleep") {
			return // gone, or dead and waiting for init to reap it
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group's child %s outlived Stop", child)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
