package podruntime

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"boxoffice.dev/boxoffice/internal/localcluster/volumes"
)

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
func (r *Runner) buildEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]string, error) {
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
	for _, kv := range apiServerEnv(r.node.APIHost, r.node.APIPort) {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, ef := range c.EnvFrom {
		var data map[string][]byte
		var err error
		var optional bool
		switch {
		case ef.ConfigMapRef != nil:
			optional = volumes.IsOptional(ef.ConfigMapRef.Optional)
			data, err = r.vols.ConfigMapData(ctx, ef.ConfigMapRef.Name)
		case ef.SecretRef != nil:
			optional = volumes.IsOptional(ef.SecretRef.Optional)
			data, err = r.vols.SecretData(ctx, ef.SecretRef.Name)
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
			v, err := r.vols.FieldValue(pod, vf.FieldRef.FieldPath)
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
				data, err = r.vols.ConfigMapData(ctx, ref.Name)
				key, what, optional = ref.Key, "configmap "+ref.Name, volumes.IsOptional(ref.Optional)
			} else {
				ref := vf.SecretKeyRef
				data, err = r.vols.SecretData(ctx, ref.Name)
				key, what, optional = ref.Key, "secret "+ref.Name, volumes.IsOptional(ref.Optional)
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
