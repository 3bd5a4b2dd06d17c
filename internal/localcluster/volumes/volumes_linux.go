package volumes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Prepare fills the pod's volume directories and returns the host path
// of each volume by name.
func (s *Pod) Prepare(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	out := map[string]string{}
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(s.Dir, v.Name)
		switch {
		case v.ConfigMap != nil:
			data, err := s.ConfigMapData(ctx, v.ConfigMap.Name)
			if err != nil && !(apierrors.IsNotFound(err) && IsOptional(v.ConfigMap.Optional)) {
				return nil, fmt.Errorf("volume %s: configmap %s: %w", v.Name, v.ConfigMap.Name, err)
			}
			files, err := keyFiles(data, v.ConfigMap.Items, modeOr(v.ConfigMap.DefaultMode, 0o644), "configmap "+v.ConfigMap.Name, IsOptional(v.ConfigMap.Optional))
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if err := writeFiles(dir, files, fsGroup); err != nil {
				return nil, err
			}
		case v.Secret != nil:
			data, err := s.SecretData(ctx, v.Secret.SecretName)
			if err != nil && !(apierrors.IsNotFound(err) && IsOptional(v.Secret.Optional)) {
				return nil, fmt.Errorf("volume %s: secret %s: %w", v.Name, v.Secret.SecretName, err)
			}
			files, err := keyFiles(data, v.Secret.Items, modeOr(v.Secret.DefaultMode, 0o644), "secret "+v.Secret.SecretName, IsOptional(v.Secret.Optional))
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
				val, err := s.FieldValue(pod, it.FieldRef.FieldPath)
				if err != nil {
					return nil, fmt.Errorf("volume %s: %w", v.Name, err)
				}
				files = append(files, volumeFile{path: it.Path, data: []byte(val), mode: modeOr(it.Mode, int32(modeOr(v.DownwardAPI.DefaultMode, 0o644)))})
			}
			if err := writeFiles(dir, files, fsGroup); err != nil {
				return nil, err
			}
		case v.Projected != nil:
			files, err := s.projectedFiles(ctx, pod, v.Projected)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			if err := writeFiles(dir, files, fsGroup); err != nil {
				return nil, err
			}
		case v.PersistentVolumeClaim != nil:
			p, err := s.claimPath(ctx, v.PersistentVolumeClaim.ClaimName)
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

func (s *Pod) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) ([]volumeFile, error) {
	def := modeOr(p.DefaultMode, 0o644)
	var out []volumeFile
	for _, src := range p.Sources {
		switch {
		case src.ServiceAccountToken != nil:
			t := src.ServiceAccountToken
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
			tr, err := s.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authv1.TokenRequest{
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
		case src.ConfigMap != nil:
			data, err := s.ConfigMapData(ctx, src.ConfigMap.Name)
			if err != nil && !(apierrors.IsNotFound(err) && IsOptional(src.ConfigMap.Optional)) {
				return nil, err
			}
			f, err := keyFiles(data, src.ConfigMap.Items, def, "configmap "+src.ConfigMap.Name, IsOptional(src.ConfigMap.Optional))
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		case src.Secret != nil:
			data, err := s.SecretData(ctx, src.Secret.Name)
			if err != nil && !(apierrors.IsNotFound(err) && IsOptional(src.Secret.Optional)) {
				return nil, err
			}
			f, err := keyFiles(data, src.Secret.Items, def, "secret "+src.Secret.Name, IsOptional(src.Secret.Optional))
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		case src.DownwardAPI != nil:
			for _, it := range src.DownwardAPI.Items {
				if it.FieldRef == nil {
					continue
				}
				val, err := s.FieldValue(pod, it.FieldRef.FieldPath)
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
func (s *Pod) claimPath(ctx context.Context, claim string) (string, error) {
	var path string
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pvc, err := s.Client.CoreV1().PersistentVolumeClaims(s.Namespace).Get(ctx, claim, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
			last = "claim " + claim + " is " + string(pvc.Status.Phase)
			return false, nil
		}
		pv, err := s.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
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
