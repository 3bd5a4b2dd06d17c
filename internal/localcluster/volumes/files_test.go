package volumes

import (
	"os"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func ptr[T any](v T) *T { return &v }

func TestKeyFiles(t *testing.T) {
	data := map[string][]byte{"b": []byte("2"), "a": []byte("1")}
	all, err := keyFiles(data, nil, 0o644, "configmap c", false)
	want := []volumeFile{{path: "a", data: []byte("1"), mode: 0o644}, {path: "b", data: []byte("2"), mode: 0o644}}
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Errorf("every key, sorted: %+v, %v", all, err)
	}
	items := []corev1.KeyToPath{{Key: "b", Path: "sub/two"}, {Key: "a", Path: "one", Mode: ptr(int32(0o400))}}
	got, err := keyFiles(data, items, 0o644, "configmap c", false)
	want = []volumeFile{{path: "sub/two", data: []byte("2"), mode: 0o644}, {path: "one", data: []byte("1"), mode: 0o400}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("listed items: %+v, %v", got, err)
	}
	missing := []corev1.KeyToPath{{Key: "zz", Path: "z"}}
	if _, err := keyFiles(data, missing, 0o644, "secret s", false); err == nil || err.Error() != `secret s has no key "zz"` {
		t.Errorf("missing key of a required source: %v", err)
	}
	if got, err := keyFiles(data, missing, 0o644, "secret s", true); err != nil || len(got) != 0 {
		t.Errorf("missing key of an optional source: %+v, %v; want skipped", got, err)
	}
}

func TestModeOr(t *testing.T) {
	if modeOr(nil, 0o644) != 0o644 || modeOr(ptr(int32(0o4755)), 0o644) != 0o755 {
		t.Error("modeOr: want the default without a mode, and permission bits only")
	}
}

func TestSecurityIDs(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{
		RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(1000)), RunAsNonRoot: ptr(true),
		FSGroup: ptr(int64(2000)), SupplementalGroups: []int64{3000},
	}}}
	c := &corev1.Container{SecurityContext: &corev1.SecurityContext{RunAsUser: ptr(int64(65532)), ReadOnlyRootFilesystem: ptr(true)}}
	uid, gid, groups, nonRoot, roRoot := SecurityIDs(pod, c)
	if *uid != 65532 || *gid != 1000 || !reflect.DeepEqual(groups, []int64{2000, 3000}) || !nonRoot || !roRoot {
		t.Errorf("got uid %d gid %d groups %v nonRoot %v roRoot %v", *uid, *gid, groups, nonRoot, roRoot)
	}
	uid, gid, groups, nonRoot, roRoot = SecurityIDs(&corev1.Pod{}, &corev1.Container{})
	if uid != nil || gid != nil || groups != nil || nonRoot || roRoot {
		t.Error("no security context: want the image's user and a writable root")
	}
}

func TestPodUser(t *testing.T) {
	as := func(uid int64) corev1.Container {
		return corev1.Container{SecurityContext: &corev1.SecurityContext{RunAsUser: &uid}}
	}
	if u := podUser(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{as(7), as(7)}}}); u == nil || *u != 7 {
		t.Errorf("one user for all containers: %v", u)
	}
	if u := podUser(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{as(7), as(8)}}}); u != nil {
		t.Errorf("containers with different users: %d; want none", *u)
	}
	if u := podUser(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{as(7), {}}}}); u != nil {
		t.Errorf("a container with the image's user: %d; want none", *u)
	}
}

func TestWriteFilesMode(t *testing.T) {
	dir := t.TempDir()
	// The umask must not narrow the mode the volume asks for.
	if err := writeFiles(dir, []volumeFile{{path: "a/b", data: []byte("x"), mode: 0o666}}, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir + "/a/b"); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("mode %v, %v; want 0666", fi.Mode().Perm(), err)
	}
}
