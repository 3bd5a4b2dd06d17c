package podruntime

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// execSpec is what the hidden "pod-exec" subcommand needs to turn itself into
// a container: it already runs inside the pod's network namespace and a fresh
// mount namespace (ip netns exec makes both), builds the container's root
// from the host's system directories, the pod's /etc and its volumes, then
// chroots and execs the image's binary.
type execSpec struct {
	Root         string      `json:"root"`
	Argv         []string    `json:"argv"`
	Env          []string    `json:"env"`
	WorkingDir   string      `json:"workingDir"`
	Mounts       []mountSpec `json:"mounts"`
	ReadOnlyRoot bool        `json:"readOnlyRoot"`
	UID          *int64      `json:"uid,omitempty"`
	GID          *int64      `json:"gid,omitempty"`
	Groups       []int64     `json:"groups,omitempty"`
	// Hostname is the pod's host name, set in a UTS namespace of its own.
	Hostname string `json:"hostname,omitempty"`
}

type mountSpec struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
}

// Host directories every container sees read-only (the binaries are static,
// but probes or debugging shells may want the usual tools).
var hostSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ssl", "/etc/ca-certificates"}

// reservedTargets cannot take a volume: they are the host's own.
var reservedTargets = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sys", "/dev"}

// PodExecMain is the hidden "pod-exec SPEC-FILE" subcommand: it turns the
// process into the container the spec describes, and returns an exit code
// only when it cannot.
func PodExecMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "pod-exec: want one spec file")
		return 2
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pod-exec: %v\n", err)
		return 127
	}
	var s execSpec
	if err := json.Unmarshal(b, &s); err != nil {
		fmt.Fprintf(os.Stderr, "pod-exec: %v\n", err)
		return 127
	}
	if err := enterContainer(&s); err != nil {
		fmt.Fprintf(os.Stderr, "container start failed: %v\n", err)
		return 128
	}
	return 0 // not reached: enterContainer execs
}

func bind(src, dst string, recursive bool) error {
	flags := uintptr(syscall.MS_BIND)
	if recursive {
		flags |= syscall.MS_REC
	}
	if err := syscall.Mount(src, dst, "", flags, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", src, dst, err)
	}
	return nil
}

func remountRO(dst string) error {
	if err := syscall.Mount("", dst, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("read-only %s: %w", dst, err)
	}
	return nil
}

// mkTarget makes a mount point of the same kind (file or directory) as src.
func mkTarget(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func enterContainer(s *execSpec) error {
	if len(s.Argv) == 0 {
		return fmt.Errorf("no command")
	}
	// Nothing mounted here may leak back to the host.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	root := s.Root
	if err := bind(root, root, false); err != nil {
		return err
	}
	readOnly, err := mountSystem(root)
	if err != nil {
		return err
	}
	ro, err := mountVolumes(root, s.Mounts)
	if err != nil {
		return err
	}
	readOnly = append(readOnly, ro...)
	for _, d := range readOnly {
		if err := remountRO(d); err != nil {
			return err
		}
	}
	if s.ReadOnlyRoot {
		if err := remountRO(root); err != nil {
			return err
		}
	}
	if err := setHostname(s.Hostname); err != nil {
		return err
	}
	if err := syscall.Chroot(root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return execAs(s)
}

// mountSystem gives the root the host's system directories (read-only:
// returned for a remount once every mount is in place), /dev, /proc, /sys
// and a fresh /tmp.
func mountSystem(root string) (readOnly []string, err error) {
	for _, d := range hostSystemDirs {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		dst := filepath.Join(root, d)
		if fi.Mode()&os.ModeSymlink != 0 { // merged /usr: /bin -> usr/bin
			if err := copySymlink(d, dst); err != nil {
				return nil, err
			}
			continue
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		if err := bind(d, dst, true); err != nil {
			return nil, err
		}
		readOnly = append(readOnly, dst)
	}
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		dst := filepath.Join(root, d)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		if err := bind(d, dst, true); err != nil {
			return nil, err
		}
	}
	tmp := filepath.Join(root, "tmp")
	if err := os.MkdirAll(tmp, 0o1777); err != nil {
		return nil, err
	}
	if err := syscall.Mount("tmpfs", tmp, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
		return nil, fmt.Errorf("tmpfs at /tmp: %w", err)
	}
	return readOnly, nil
}

// copySymlink makes dst the same symbolic link as src, unless dst exists.
func copySymlink(src, dst string) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err != nil {
		return os.Symlink(target, dst)
	}
	return nil
}

// mountVolumes binds the container's mounts into root, shortest target
// first (so nested mounts land inside their parents), and returns the
// read-only ones for a remount.
func mountVolumes(root string, specs []mountSpec) (readOnly []string, err error) {
	mounts := append([]mountSpec(nil), specs...)
	sort.SliceStable(mounts, func(i, j int) bool { return len(mounts[i].Target) < len(mounts[j].Target) })
	for _, m := range mounts {
		t := filepath.Clean("/" + m.Target)
		if r := reservedTarget(t); r != "" {
			return nil, fmt.Errorf("volume mount at %s: the local cluster keeps %s for the host", t, r)
		}
		dst := filepath.Join(root, t)
		if err := mkTarget(m.Source, dst); err != nil {
			return nil, fmt.Errorf("mount point %s: %w", t, err)
		}
		if err := bind(m.Source, dst, false); err != nil {
			return nil, err
		}
		if m.ReadOnly {
			readOnly = append(readOnly, dst)
		}
	}
	return readOnly, nil
}

// reservedTarget is the host directory a mount target falls in, if any.
func reservedTarget(target string) string {
	for _, r := range reservedTargets {
		if target == r || strings.HasPrefix(target, r+"/") {
			return r
		}
	}
	return ""
}

// setHostname gives the container the pod's host name in a UTS namespace
// of its own: as in a cluster, os.Hostname() in the container is the pod's
// name (leader election, for one, names the holder by it). Unshare acts on
// this thread only: the goroutine stays on it until the exec.
func setHostname(name string) error {
	if name == "" {
		return nil
	}
	runtime.LockOSThread()
	if err := syscall.Unshare(syscall.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("UTS namespace: %w", err)
	}
	if err := syscall.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	return nil
}

// execAs changes to the working directory, finds the command, takes the
// container's groups and user, and execs.
func execAs(s *execSpec) error {
	wd := s.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if err := os.Chdir(wd); err != nil {
		return fmt.Errorf("working directory %s: %w", wd, err)
	}
	path := s.Argv[0]
	if !strings.Contains(path, "/") {
		for _, e := range s.Env {
			if v, ok := strings.CutPrefix(e, "PATH="); ok {
				os.Setenv("PATH", v)
			}
		}
		p, err := exec.LookPath(path)
		if err != nil {
			return fmt.Errorf("executable %q not found in PATH: %w", path, err)
		}
		path = p
	}
	if err := dropPrivileges(s); err != nil {
		return err
	}
	if err := syscall.Exec(path, s.Argv, s.Env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// dropPrivileges sets the supplementary groups, then the group, then the
// user (in that order: after setuid the others are no longer allowed).
func dropPrivileges(s *execSpec) error {
	if s.GID != nil || s.UID != nil || len(s.Groups) > 0 {
		groups := make([]int, 0, len(s.Groups))
		for _, g := range s.Groups {
			groups = append(groups, int(g))
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if s.GID != nil {
		if err := syscall.Setgid(int(*s.GID)); err != nil {
			return fmt.Errorf("setgid: %w", err)
		}
	}
	if s.UID != nil {
		if err := syscall.Setuid(int(*s.UID)); err != nil {
			return fmt.Errorf("setuid: %w", err)
		}
	}
	return nil
}
