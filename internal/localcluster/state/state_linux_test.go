package state

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStatFields(t *testing.T) {
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	f := statFields("4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10")
	if len(f) < 20 || f[0] != "S" || f[19] != "987654" {
		t.Fatalf("fields %q", f)
	}
	if statFields("garbage") != nil {
		t.Error("a stat line without ')': want no fields")
	}
}

func TestProcStartAndZombie(t *testing.T) {
	self := os.Getpid()
	if s := ProcStart(self); s == "" || s != ProcStart(self) {
		t.Errorf("start time of this process: %q", s)
	}
	if IsZombie(self) {
		t.Error("this process is not a zombie")
	}
	if ProcStart(1<<22+1) != "" || !IsZombie(1<<22+1) {
		t.Error("a PID above pid_max: want no start time and counted as gone")
	}
	if KillPID(self, "not-its-start", 0) {
		t.Error("KillPID signalled a process whose start time does not match the record")
	}
}

func TestRecordSurvivesACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "record.json")
	r := NewRecord(path, "bx0")
	r.Add(os.Getpid(), "etcd")
	r.Add(1, "init")
	r.Remove(1)
	old := ReadRecord(path)
	want := []ProcInfo{{PID: os.Getpid(), Name: "etcd", Start: ProcStart(os.Getpid())}}
	if old.Bridge != "bx0" || !reflect.DeepEqual(old.Procs, want) {
		t.Errorf("read back %+v; want bridge bx0 and %+v", old, want)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d files beside the record; want no temporary file left", len(entries))
	}
	if r := ReadRecord(filepath.Join(t.TempDir(), "none.json")); r.Bridge != "" || len(r.Procs) != 0 {
		t.Errorf("a missing record: %+v; want an empty one", r)
	}
}

func TestNetnsOf(t *testing.T) {
	list := "bxlc0-0f9a1c2e (id: 3)\nbxlc1-11111111\nother\nbxlc0-abcdef12\n\n"
	if got := netnsOf(list, "bxlc0"); !reflect.DeepEqual(got, []string{"bxlc0-0f9a1c2e", "bxlc0-abcdef12"}) {
		t.Errorf("netnsOf = %q", got)
	}
}

func TestLockIsExclusive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir + "/"); err == nil || !strings.Contains(err.Error(), "another local cluster") {
		t.Fatalf("second lock on one state dir: %v; want refused", err)
	}
	unlock()
	unlock2, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("first line\nlast line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(p, 10); got != "last line" {
		t.Errorf("Tail 10 = %q", got)
	}
	if got := Tail(p, 1000); got != "first line\nlast line" {
		t.Errorf("Tail beyond the size = %q", got)
	}
	if Tail(p+".missing", 10) != "" {
		t.Error("a missing log: want empty")
	}
}
