package volumes

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// refreshFiles brings the files of a configMap or secret volume up to date
// with their object, as the kubelet does while a pod runs: each changed file
// is written beside its old self and renamed over it, so a reader sees the
// old content or the new, never half of it. Files of keys that disappeared
// are removed. It returns how many files changed.
func refreshFiles(dir string, files []volumeFile, fsGroup *int64) (int, error) {
	changed := 0
	want := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(dir, filepath.Clean("/"+f.path))
		want[p] = true
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return changed, err
		}
		tmp := filepath.Join(filepath.Dir(p), ".."+filepath.Base(p)+".tmp")
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return changed, err
		}
		if err := os.Chmod(tmp, f.mode); err != nil {
			return changed, err
		}
		if fsGroup != nil {
			if err := os.Chown(tmp, 0, int(*fsGroup)); err != nil {
				return changed, err
			}
		}
		if err := os.Rename(tmp, p); err != nil {
			return changed, err
		}
		changed++
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return changed, err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !e.IsDir() && !want[p] {
			if err := os.Remove(p); err != nil {
				return changed, err
			}
			changed++
		}
	}
	return changed, nil
}

// volumeRefresh is how often a running pod's configMap and secret volumes are
// brought up to date (the kubelet takes up to about a minute; shorter here,
// so a certificate written into a Secret after its pod started is in the
// pod's files within seconds).
const volumeRefresh = 3 * time.Second

// RefreshLoop keeps the pod's configMap and secret volumes current until the
// pod stops.
func (s *Pod) RefreshLoop(ctx context.Context, stop <-chan struct{}, pod *corev1.Pod, vols map[string]string) {
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
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, v := range watched {
			n, err := s.refreshVolume(ctx, v, vols[v.Name], fsGroup)
			switch {
			case err != nil && !failing[v.Name]:
				s.Logf("volume %s: refresh: %v", v.Name, err)
			case err == nil && n > 0:
				s.Logf("volume %s: %d files updated", v.Name, n)
			}
			failing[v.Name] = err != nil
		}
	}
}

// refreshVolume rewrites one configMap or secret volume from its object; a
// missing object leaves the files as they are (the kubelet does the same).
func (s *Pod) refreshVolume(ctx context.Context, v corev1.Volume, dir string, fsGroup *int64) (int, error) {
	var data map[string][]byte
	var err error
	var files []volumeFile
	if cm := v.ConfigMap; cm != nil {
		if data, err = s.ConfigMapData(ctx, cm.Name); err != nil {
			return 0, err
		}
		files, err = keyFiles(data, cm.Items, modeOr(cm.DefaultMode, 0o644), "configmap "+cm.Name, IsOptional(cm.Optional))
	} else {
		sec := v.Secret
		if data, err = s.SecretData(ctx, sec.SecretName); err != nil {
			return 0, err
		}
		files, err = keyFiles(data, sec.Items, modeOr(sec.DefaultMode, 0o644), "secret "+sec.SecretName, IsOptional(sec.Optional))
	}
	if err != nil {
		return 0, err
	}
	return refreshFiles(dir, files, fsGroup)
}
