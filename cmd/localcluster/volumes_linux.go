package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
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

// rootCAConfigMap is published into every namespace by the control plane
// shortly after the namespace is made; a pod of a brand-new namespace (helm
// install --create-namespace) may start before it is there.
const rootCAConfigMap = "kube-root-ca.crt"

func (r *podRunner) configMapData(ctx context.Context, name string) (map[string][]byte, error) {
	cm, err := r.a.cs.CoreV1().ConfigMaps(r.ns).Get(ctx, name, metav1.GetOptions{})
	for deadline := time.Now().Add(30 * time.Second); name == rootCAConfigMap && apierrors.IsNotFound(err) && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		cm, err = r.a.cs.CoreV1().ConfigMaps(r.ns).Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, nil
}

func (r *podRunner) secretData(ctx context.Context, name string) (map[string][]byte, error) {
	s, err := r.a.cs.CoreV1().Secrets(r.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}

func isOptional(p *bool) bool { return p != nil && *p }

// fieldValue answers a downward-API field path for this pod.
func (r *podRunner) fieldValue(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return r.ip.String(), nil
	case "status.hostIP", "status.hostIPs":
		return r.a.net.hostIP.String(), nil
	case "metadata.labels", "metadata.annotations":
		m := pod.Labels
		if path == "metadata.annotations" {
			m = pod.Annotations
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q\n", k, m[k])
		}
		return b.String(), nil
	}
	for _, p := range []struct {
		prefix string
		m      map[string]string
	}{{"metadata.labels['", pod.Labels}, {"metadata.annotations['", pod.Annotations}} {
		if k, ok := strings.CutPrefix(path, p.prefix); ok {
			return p.m[strings.TrimSuffix(k, "']")], nil
		}
	}
	return "", fmt.Errorf("field path %q is not supported by the local cluster", path)
}

func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) string {
	name := ref.Resource
	list := c.Resources.Limits
	if n, ok := strings.CutPrefix(name, "requests."); ok {
		name, list = n, c.Resources.Requests
	} else {
		name = strings.TrimPrefix(name, "limits.")
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		if name == "cpu" {
			return "1"
		}
		return "0"
	}
	div := ref.Divisor
	if div.IsZero() {
		if name == "cpu" {
			return fmt.Sprint((q.MilliValue() + 999) / 1000)
		}
		return fmt.Sprint(q.Value())
	}
	if name == "cpu" {
		return fmt.Sprint((q.MilliValue() + div.MilliValue() - 1) / div.MilliValue())
	}
	return fmt.Sprint((q.Value() + div.Value() - 1) / div.Value())
}

// buildEnv resolves a container's environment in the order Kubernetes does:
// envFrom first, then env, each able to refer to earlier ones with $(VAR).
func (r *podRunner) buildEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]string, error) {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	set("HOSTNAME", podHostname(pod))
	for _, kv := range apiServerEnv(r.a.apiHost, r.a.apiPort) {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, ef := range c.EnvFrom {
		var data map[string][]byte
		var err error
		var optional bool
		switch {
		case ef.ConfigMapRef != nil:
			optional = isOptional(ef.ConfigMapRef.Optional)
			data, err = r.configMapData(ctx, ef.ConfigMapRef.Name)
		case ef.SecretRef != nil:
			optional = isOptional(ef.SecretRef.Optional)
			data, err = r.secretData(ctx, ef.SecretRef.Name)
		}
		if err != nil {
			if optional && apierrors.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(ef.Prefix+k, string(data[k]))
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expandVars(e.Value, lookup))
			continue
		}
		vf := e.ValueFrom
		switch {
		case vf.FieldRef != nil:
			v, err := r.fieldValue(pod, vf.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			set(e.Name, v)
		case vf.ResourceFieldRef != nil:
			set(e.Name, resourceValue(c, vf.ResourceFieldRef))
		case vf.ConfigMapKeyRef != nil, vf.SecretKeyRef != nil:
			var data map[string][]byte
			var err error
			var key, what string
			var optional bool
			if ref := vf.ConfigMapKeyRef; ref != nil {
				data, err = r.configMapData(ctx, ref.Name)
				key, what, optional = ref.Key, "configmap "+ref.Name, isOptional(ref.Optional)
			} else {
				ref := vf.SecretKeyRef
				data, err = r.secretData(ctx, ref.Name)
				key, what, optional = ref.Key, "secret "+ref.Name, isOptional(ref.Optional)
			}
			if err != nil {
				if optional && apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			v, ok := data[key]
			if !ok {
				if optional {
					continue
				}
				return nil, fmt.Errorf("env %s: %s has no key %q", e.Name, what, key)
			}
			set(e.Name, string(v))
		default:
			return nil, fmt.Errorf("env %s: this kind of valueFrom is not supported by the local cluster", e.Name)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
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
		uid, _, _, _, _ := securityIDs(pod, &pod.Spec.Containers[i])
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

// prepareVolumes fills the pod's volume directories and returns the host path
// of each volume by name.
func (r *podRunner) prepareVolumes(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	out := map[string]string{}
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(r.dir, "volumes", v.Name)
		switch {
		case v.ConfigMap != nil:
			data, err := r.configMapData(ctx, v.ConfigMap.Name)
			if err != nil && !(apierrors.IsNotFound(err) && isOptional(v.ConfigMap.Optional)) {
				return nil, fmt.Errorf("volume %s: configmap %s: %w", v.Name, v.ConfigMap.Name, err)
			}
			files, err := keyFiles(data, v.ConfigMap.Items, modeOr(v.ConfigMap.DefaultMode, 0o644), "configmap "+v.ConfigMap.Name, isOptional(v.ConfigMap.Optional))
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if err := writeFiles(dir, files, fsGroup); err != nil {
				return nil, err
			}
		case v.Secret != nil:
			data, err := r.secretData(ctx, v.Secret.SecretName)
			if err != nil && !(apierrors.IsNotFound(err) && isOptional(v.Secret.Optional)) {
				return nil, fmt.Errorf("volume %s: secret %s: %w", v.Name, v.Secret.SecretName, err)
			}
			files, err := keyFiles(data, v.Secret.Items, modeOr(v.Secret.DefaultMode, 0o644), "secret "+v.Secret.SecretName, isOptional(v.Secret.Optional))
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if err := writeFiles(dir, files, fsGroup); err != nil {
				return nil, err
			}
		case v.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return nil, err
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return nil, err
			}
		case v.DownwardAPI != nil:
			var files []volumeFile
			for _, it := range v.DownwardAPI.Items {
				if it.FieldRef == nil {
					continue
				}
				val, err := r.fieldValue(pod, it.FieldRef.FieldPath)
				if err != nil {
					return nil, fmt.Errorf("volume %s: %w", v.Name, err)
				}
				files = append(files, volumeFile{path: it.Path, data: []byte(val), mode: modeOr(it.Mode, int32(modeOr(v.DownwardAPI.DefaultMode, 0o644)))})
			}
			if err := writeFiles(dir, files, fsGroup); err != nil {
				return nil, err
			}
		case v.Projected != nil:
			files, err := r.projectedFiles(ctx, pod, v.Projected)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if err := writeFiles(dir, files, fsGroup); err != nil {
				return nil, err
			}
		case v.PersistentVolumeClaim != nil:
			p, err := r.claimPath(ctx, v.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if fsGroup != nil {
				if err := chownFSGroup(p, *fsGroup); err != nil {
					return nil, err
				}
			}
			dir = p
		case v.HostPath != nil:
			dir = v.HostPath.Path
			if v.HostPath.Type != nil && *v.HostPath.Type == corev1.HostPathDirectoryOrCreate {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("volume %s: this volume type is not supported by the local cluster (configMap, secret, emptyDir, downwardAPI, projected, persistentVolumeClaim, hostPath are)", v.Name)
		}
		out[v.Name] = dir
	}
	return out, nil
}

func (r *podRunner) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) ([]volumeFile, error) {
	def := modeOr(p.DefaultMode, 0o644)
	var out []volumeFile
	for _, s := range p.Sources {
		switch {
		case s.ServiceAccountToken != nil:
			t := s.ServiceAccountToken
			exp := int64(3607)
			if t.ExpirationSeconds != nil {
				exp = *t.ExpirationSeconds
			}
			var aud []string
			if t.Audience != "" {
				aud = []string{t.Audience}
			}
			sa := pod.Spec.ServiceAccountName
			if sa == "" {
				sa = "default"
			}
			tr, err := r.a.cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authv1.TokenRequest{
				Spec: authv1.TokenRequestSpec{
					Audiences:         aud,
					ExpirationSeconds: &exp,
					BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
				},
			}, metav1.CreateOptions{})
			if err != nil {
				return nil, fmt.Errorf("service account token: %w", err)
			}
			// As the kubelet does: a token is readable by the pod's user when
			// all its containers run as one (else by root and fsGroup).
			out = append(out, volumeFile{path: t.Path, data: []byte(tr.Status.Token), mode: 0o600 | def&0o040, owner: podUser(pod)})
		case s.ConfigMap != nil:
			data, err := r.configMapData(ctx, s.ConfigMap.Name)
			if err != nil && !(apierrors.IsNotFound(err) && isOptional(s.ConfigMap.Optional)) {
				return nil, err
			}
			f, err := keyFiles(data, s.ConfigMap.Items, def, "configmap "+s.ConfigMap.Name, isOptional(s.ConfigMap.Optional))
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		case s.Secret != nil:
			data, err := r.secretData(ctx, s.Secret.Name)
			if err != nil && !(apierrors.IsNotFound(err) && isOptional(s.Secret.Optional)) {
				return nil, err
			}
			f, err := keyFiles(data, s.Secret.Items, def, "secret "+s.Secret.Name, isOptional(s.Secret.Optional))
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		case s.DownwardAPI != nil:
			for _, it := range s.DownwardAPI.Items {
				if it.FieldRef == nil {
					continue
				}
				val, err := r.fieldValue(pod, it.FieldRef.FieldPath)
				if err != nil {
					return nil, err
				}
				out = append(out, volumeFile{path: it.Path, data: []byte(val), mode: modeOr(it.Mode, int32(def))})
			}
		}
	}
	return out, nil
}

// claimPath waits (bounded) for a claim to be bound and returns the host
// directory of its volume.
func (r *podRunner) claimPath(ctx context.Context, claim string) (string, error) {
	var path string
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pvc, err := r.a.cs.CoreV1().PersistentVolumeClaims(r.ns).Get(ctx, claim, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
			last = "claim " + claim + " is " + string(pvc.Status.Phase)
			return false, nil
		}
		pv, err := r.a.cs.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		switch {
		case pv.Spec.HostPath != nil:
			path = pv.Spec.HostPath.Path
		case pv.Spec.Local != nil:
			path = pv.Spec.Local.Path
		default:
			return false, fmt.Errorf("volume %s is neither hostPath nor local", pv.Name)
		}
		return true, nil
	})
	if err != nil {
		if last != "" {
			return "", fmt.Errorf("%w (%s)", err, last)
		}
		return "", err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return "", err
	}
	return path, nil
}

// volumeRefresh is how often a running pod's configMap and secret volumes are
// brought up to date (the kubelet takes up to about a minute; shorter here,
// so a certificate written into a Secret after its pod started is in the
// pod's files within seconds).
const volumeRefresh = 3 * time.Second

// refreshLoop keeps the pod's configMap and secret volumes current until the
// pod stops.
func (r *podRunner) refreshLoop(ctx context.Context, pod *corev1.Pod, vols map[string]string) {
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	var watched []corev1.Volume
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil {
			watched = append(watched, v)
		}
	}
	if len(watched) == 0 {
		return
	}
	t := time.NewTicker(volumeRefresh)
	defer t.Stop()
	failing := map[string]bool{}
	for {
		select {
		case <-r.stopCh:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, v := range watched {
			n, err := r.refreshVolume(ctx, v, vols[v.Name], fsGroup)
			switch {
			case err != nil && !failing[v.Name]:
				r.logf("volume %s: refresh: %v", v.Name, err)
			case err == nil && n > 0:
				r.logf("volume %s: %d files updated", v.Name, n)
			}
			failing[v.Name] = err != nil
		}
	}
}

// refreshVolume rewrites one configMap or secret volume from its object; a
// missing object leaves the files as they are (the kubelet does the same).
func (r *podRunner) refreshVolume(ctx context.Context, v corev1.Volume, dir string, fsGroup *int64) (int, error) {
	var data map[string][]byte
	var err error
	var files []volumeFile
	if cm := v.ConfigMap; cm != nil {
		if data, err = r.configMapData(ctx, cm.Name); err != nil {
			return 0, err
		}
		files, err = keyFiles(data, cm.Items, modeOr(cm.DefaultMode, 0o644), "configmap "+cm.Name, isOptional(cm.Optional))
	} else {
		s := v.Secret
		if data, err = r.secretData(ctx, s.SecretName); err != nil {
			return 0, err
		}
		files, err = keyFiles(data, s.Items, modeOr(s.DefaultMode, 0o644), "secret "+s.SecretName, isOptional(s.Optional))
	}
	if err != nil {
		return 0, err
	}
	return refreshFiles(dir, files, fsGroup)
}
