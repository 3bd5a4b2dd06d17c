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

// envList is an environment being built: values by name, in the order the
// names were first set.
type envList struct {
	vals  map[string]string
	order []string
}

func (e *envList) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.order = append(e.order, k)
	}
	e.vals[k] = v
}

func (e *envList) lookup(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }

func (e *envList) list() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// buildEnv resolves a container's environment in the order Kubernetes does:
// envFrom first, then env, each able to refer to earlier ones with $(VAR).
func (r *Runner) buildEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]string, error) {
	env := &envList{vals: map[string]string{}}
	env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	env.set("HOSTNAME", podHostname(pod))
	for _, kv := range apiServerEnv(r.node.APIHost, r.node.APIPort) {
		k, v, _ := strings.Cut(kv, "=")
		env.set(k, v)
	}
	for _, ef := range c.EnvFrom {
		if err := r.envFrom(ctx, ef, env); err != nil {
			return nil, err
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env.set(e.Name, expandVars(e.Value, env.lookup))
			continue
		}
		v, ok, err := r.valueFrom(ctx, pod, c, e)
		if err != nil {
			return nil, err
		}
		if ok {
			env.set(e.Name, v)
		}
	}
	return env.list(), nil
}

// envFrom sets every key of a configMap or secret, with the prefix; a
// missing optional source sets nothing.
func (r *Runner) envFrom(ctx context.Context, ef corev1.EnvFromSource, env *envList) error {
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
			return nil
		}
		return err
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env.set(ef.Prefix+k, string(data[k]))
	}
	return nil
}

// valueFrom answers one env entry's valueFrom; ok is false for an optional
// reference that is not there (the variable is then left unset).
func (r *Runner) valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar) (v string, ok bool, err error) {
	vf := e.ValueFrom
	switch {
	case vf.FieldRef != nil:
		v, err := r.vols.FieldValue(pod, vf.FieldRef.FieldPath)
		return v, err == nil, err
	case vf.ResourceFieldRef != nil:
		return resourceValue(c, vf.ResourceFieldRef), true, nil
	case vf.ConfigMapKeyRef != nil, vf.SecretKeyRef != nil:
		var data map[string][]byte
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
				return "", false, nil
			}
			return "", false, fmt.Errorf("env %s: %w", e.Name, err)
		}
		b, found := data[key]
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("env %s: %s has no key %q", e.Name, what, key)
		}
		return string(b), true, nil
	default:
		return "", false, fmt.Errorf("env %s: this kind of valueFrom is not supported by the local cluster", e.Name)
	}
}

func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}
