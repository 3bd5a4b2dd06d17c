package volumes

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// volumeFile is one file of a configMap, secret, projected or downward-API volume.
type volumeFile struct {
	path string
	data []byte
	mode os.FileMode
	// owner, when set, owns the file (a service-account token of a pod
	// whose containers all run as one user, as the kubelet does).
	owner *int64
}

func modeOr(m *int32, def int32) os.FileMode {
	if m != nil {
		return os.FileMode(*m) & 0o777
	}
	return os.FileMode(def) & 0o777
}

// keyFiles turns a configMap's or secret's data into files: all keys, or the
// listed items only.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, mode os.FileMode, what string, optional bool) ([]volumeFile, error) {
	var out []volumeFile
	if len(items) == 0 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, volumeFile{path: k, data: data[k], mode: mode})
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		out = append(out, volumeFile{path: it.Path, data: v, mode: modeOr(it.Mode, int32(mode))})
	}
	return out, nil
}

// writeFiles writes files below dir, owned by root and, with fsGroup, by that
// group (as the kubelet does).
func writeFiles(dir string, files []volumeFile, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.Clean("/"+f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
		uid, gid := 0, -1
		if f.owner != nil {
			uid = int(*f.owner)
		}
		if fsGroup != nil {
			gid = int(*fsGroup)
		}
		if f.owner != nil || fsGroup != nil {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// podUser is the user every container of the pod runs as, or nil when they
// differ or one runs as the image's user.
func podUser(pod *corev1.Pod) *int64 {
	var user *int64
	for i := range pod.Spec.Containers {
		uid, _, _, _, _ := SecurityIDs(pod, &pod.Spec.Containers[i])
		if uid == nil || (user != nil && *user != *uid) {
			return nil
		}
		user = uid
	}
	return user
}

// chownFSGroup gives fsGroup ownership of a writable volume, group-writable
// with the setgid bit on directories, as the kubelet does.
func chownFSGroup(dir string, gid int64) error {
	return filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, int(gid)); err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		mode := fi.Mode().Perm() | 0o060
		if fi.IsDir() {
			mode |= 0o010 | os.ModeSetgid
		}
		return os.Chmod(p, mode)
	})
}

// SecurityIDs are the user, group and supplementary groups a container runs
// as (the container's security context over the pod's), and whether it must
// run as non-root and with a read-only root file system.
func SecurityIDs(pod *corev1.Pod, c *corev1.Container) (uid, gid *int64, groups []int64, nonRoot, roRoot bool) {
	if ps := pod.Spec.SecurityContext; ps != nil {
		uid, gid = ps.RunAsUser, ps.RunAsGroup
		nonRoot = ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		if ps.FSGroup != nil {
			groups = append(groups, *ps.FSGroup)
		}
		groups = append(groups, ps.SupplementalGroups...)
	}
	if cs := c.SecurityContext; cs != nil {
		if cs.RunAsUser != nil {
			uid = cs.RunAsUser
		}
		if cs.RunAsGroup != nil {
			gid = cs.RunAsGroup
		}
		if cs.RunAsNonRoot != nil {
			nonRoot = *cs.RunAsNonRoot
		}
		roRoot = cs.ReadOnlyRootFilesystem != nil && *cs.ReadOnlyRootFilesystem
	}
	return
}
