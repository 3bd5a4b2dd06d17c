// Package charts tests the Helm chart: lint, render with default and with
// every option, and check the rendered manifests hold what kustomize's
// config/default holds (same RBAC rules, same webhook rules, same CRDs).
package charts

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const chartDir = "boxoffice"

// conversionRule is the recording rule the dashboard's conversion panel reads.
const conversionRule = "namespace_showtime:boxoffice_conversion:ratio_1h"

// kubeVersion is what the chart is rendered for (helm's default is older than
// the chart's kubeVersion constraint).
const kubeVersion = "1.37.1"

// The manager's user in each rendering: kustomize's config/default, and the
// chart rendered as release "box" in boxoffice-system.
const (
	kustomizeOperator = "system:serviceaccount:boxoffice-system:boxoffice-controller-manager"
	chartOperator     = "system:serviceaccount:boxoffice-system:box-boxoffice"
)

// chartToKustomizeName maps the chart's object names (release "box") to
// config/default's.
func chartToKustomizeName(s string) string {
	if rest, ok := strings.CutPrefix(s, "box-boxoffice-"); ok {
		return "boxoffice-" + rest
	}
	return s
}

func tool(t *testing.T, env, name string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = filepath.Join("..", "bin", name)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found at %s: `make test` installs it into bin/", name, p)
		}
		t.Skipf("%s not found at %s; run `make %s` or `make test`", name, p, name)
	}
	return p
}

func run(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.Bytes()
}

// docs splits a multi-document YAML stream into objects.
func docs(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range strings.Split(string(stream), "\n---") {
		d = strings.TrimSpace(strings.TrimPrefix(d, "---"))
		if d == "" || strings.Trim(d, "# \n") == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("bad YAML document: %v\n%s", err, d)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func byKind(objs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

func name(o map[string]any) string {
	return o["metadata"].(map[string]any)["name"].(string)
}

// normRules sorts every list inside each rule and the rules themselves, so two
// renderings of the same permissions compare equal.
func normRules(rules any) []string { return normRulesRenamed(rules, nil) }

// normRulesRenamed is normRules with each value passed through rename first
// (resourceNames differ by release name between the chart and kustomize).
func normRulesRenamed(rules any, rename func(string) string) []string {
	var out []string
	for _, r := range rules.([]any) {
		m := r.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			var vals []string
			for _, v := range m[k].([]any) {
				if rename != nil {
					v = rename(v.(string))
				}
				vals = append(vals, v.(string))
			}
			sort.Strings(vals)
			parts = append(parts, k+"="+strings.Join(vals, ","))
		}
		out = append(out, strings.Join(parts, ";"))
	}
	sort.Strings(out)
	return out
}

func helmTemplate(t *testing.T, helm string, extra ...string) []map[string]any {
	args := append([]string{"template", "box", chartDir, "--namespace", "boxoffice-system", "--include-crds", "--kube-version", kubeVersion}, extra...)
	return docs(t, run(t, helm, args...))
}

func TestLint(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	run(t, helm, "lint", "--strict", "--kube-version", kubeVersion, chartDir)
	run(t, helm, "lint", "--strict", "--kube-version", kubeVersion, chartDir, "-f", filepath.Join(chartDir, "ci", "all-options-values.yaml"))
}

func TestTemplateDefault(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	objs := helmTemplate(t, helm)
	for _, kind := range []string{"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "CustomResourceDefinition"} {
		if len(byKind(objs, kind)) == 0 {
			t.Errorf("default render has no %s", kind)
		}
	}
	for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
		if len(byKind(objs, kind)) != 0 {
			t.Errorf("default render has a %s; it must be off by default", kind)
		}
	}
	for _, crb := range byKind(objs, "ClusterRoleBinding") {
		if strings.HasSuffix(name(crb), "-metrics-reader") {
			t.Errorf("default render binds the metrics-reader ClusterRole; it must be off by default")
		}
	}
	dep := byKind(objs, "Deployment")[0]
	b, _ := json.Marshal(dep)
	for _, want := range []string{`"--leader-elect"`, `"readinessProbe"`, `"livenessProbe"`, `"readOnlyRootFilesystem":true`,
		`"runAsNonRoot":true`, `"POD_NAME"`, `"image":"boxoffice:0.1.0"`, `"control-plane":"boxoffice-operator"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("manager Deployment lacks %s", want)
		}
	}
}

func TestTemplateAllOptions(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	objs := helmTemplate(t, helm, "-f", filepath.Join(chartDir, "ci", "all-options-values.yaml"))
	for kind, n := range map[string]int{"ServiceMonitor": 1, "PodMonitor": 2, "PrometheusRule": 1} {
		if len(byKind(objs, kind)) != n {
			t.Errorf("all-options render has %d %s, want %d", len(byKind(objs, kind)), kind, n)
		}
	}
	if sms := byKind(objs, "ServiceMonitor"); len(sms) == 1 {
		checkHonorLabels(t, "chart ServiceMonitor", sms[0])
	}
	pms := map[string]map[string]any{}
	for _, pm := range byKind(objs, "PodMonitor") {
		pms[name(pm)] = pm
	}
	for _, n := range []string{"box-boxoffice-shards", "box-boxoffice-frontends"} {
		if pms[n] == nil {
			t.Errorf("all-options render has no PodMonitor %s", n)
		}
	}

	rule := byKind(objs, "PrometheusRule")[0]
	rules := map[string]string{}
	for _, g := range rule["spec"].(map[string]any)["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			m := r.(map[string]any)
			n, _ := m["alert"].(string)
			if n == "" {
				n, _ = m["record"].(string)
			}
			rules[n] = m["expr"].(string)
		}
	}
	for _, alert := range []string{"BoxofficeShardNotReadyOnSale", "BoxofficeShardWriteErrors", "BoxofficeShardFsyncSlow",
		"BoxofficeHoldLatencyHigh", "BoxofficeFrontendAtCeiling", "BoxofficeRolloutRolledBack", "BoxofficeBreakGlassUsed",
		"BoxofficeShardRedundancyLost", "BoxofficeShardQuorumLost", "BoxofficeShardLeaderFlapping", conversionRule,
		"BoxofficeWaitingRoomWaitTooLong"} {
		if rules[alert] == "" {
			t.Errorf("PrometheusRule lacks %s", alert)
		}
	}
	// Counters born at 1 with their first event: increase() alone misses it,
	// so the alerts also fire for a series that is new in the window.
	for alert, counter := range map[string]string{"BoxofficeRolloutRolledBack": "boxoffice_rollout_rollbacks_total",
		"BoxofficeBreakGlassUsed": "boxoffice_freeze_break_glass_total"} {
		if want := counter + " unless " + counter + " offset "; !strings.Contains(rules[alert], want) {
			t.Errorf("%s does not fire on the counter's first event (no %q): %s", alert, want, rules[alert])
		}
	}
	// The wait alert: the bound from the values, and only while people wait
	// and seats are free (sold out or every seat held is not slow admission).
	for _, want := range []string{"boxoffice_showtime_waitingroom_wait_p99_seconds > 600",
		"boxoffice_showtime_waitingroom_waiting > 0", `boxoffice_showtime_seats{state="free"} > 0`} {
		if !strings.Contains(rules["BoxofficeWaitingRoomWaitTooLong"], want) {
			t.Errorf("BoxofficeWaitingRoomWaitTooLong lacks %q: %s", want, rules["BoxofficeWaitingRoomWaitTooLong"])
		}
	}
	if c := rules[conversionRule]; !strings.Contains(c, `boxoffice_shard_confirms_total{result="ok"}`) ||
		!strings.Contains(c, `boxoffice_shard_holds_total{result="ok"}`) || !strings.Contains(c, "[1h]") {
		t.Errorf("%s is not confirms ok / holds ok over 1h: %s", conversionRule, c)
	}

	var reader map[string]any
	for _, crb := range byKind(objs, "ClusterRoleBinding") {
		if strings.HasSuffix(name(crb), "-metrics-reader") {
			reader = crb
		}
	}
	if reader == nil {
		t.Errorf("metrics.readerBinding.serviceAccount set, but no metrics-reader ClusterRoleBinding")
	} else {
		b, _ := json.Marshal(reader)
		for _, want := range []string{`"name":"box-boxoffice-metrics-reader"`, `"kind":"ServiceAccount","name":"prometheus-k8s","namespace":"monitoring"`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("metrics-reader ClusterRoleBinding lacks %s: %s", want, b)
			}
		}
	}
	var dash map[string]any
	for _, cm := range byKind(objs, "ConfigMap") {
		if strings.HasSuffix(name(cm), "-dashboard") {
			data := cm["data"].(map[string]any)["boxoffice.json"].(string)
			if err := json.Unmarshal([]byte(data), &dash); err != nil {
				t.Fatalf("dashboard is not JSON: %v", err)
			}
		}
	}
	if dash == nil || len(dash["panels"].([]any)) < 10 {
		t.Fatalf("dashboard missing or too small: %v", dash != nil)
	}
	var exprs []string
	for _, p := range dash["panels"].([]any) {
		for _, tg := range p.(map[string]any)["targets"].([]any) {
			exprs = append(exprs, tg.(map[string]any)["expr"].(string))
		}
	}
	all := strings.Join(exprs, "\n")
	for _, want := range []string{conversionRule + "{", "boxoffice_showtime_frozen{", "boxoffice_frontend_streams_connected{",
		"boxoffice_frontend_fanout_delay_seconds_bucket{", "boxoffice_frontend_requests_total{",
		"boxoffice_showtime_waitingroom_waiting{", "boxoffice_showtime_waitingroom_active{",
		"boxoffice_showtime_waitingroom_wait_p99_seconds{", "boxoffice_showtime_waitingroom_admitted_total{",
		"boxoffice_rollout_rollbacks_total unless boxoffice_rollout_rollbacks_total offset",
		"boxoffice_freeze_break_glass_total unless boxoffice_freeze_break_glass_total offset"} {
		if !strings.Contains(all, want) {
			t.Errorf("dashboard has no expression with %s", want)
		}
	}
	dep := byKind(objs, "Deployment")[0]
	if r := dep["spec"].(map[string]any)["replicas"]; r != float64(3) {
		t.Errorf("replicas %v, want 3", r)
	}
}

func TestSchemaRejectsBadValues(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	// The defaults render, so a failure below is the schema's doing.
	helmTemplate(t, helm)
	for _, set := range []string{"replicaCount=0", "image.pullPolicy=Sometimes", "manager.maxHoldTTL=forever", "unknownKey=1",
		"metrics.readerBinding.serviceAccount.name=prometheus", "metrics.frontendPodMonitor.interval=often",
		"prometheusRule.thresholds.waitingRoomP99WaitSeconds=0",
		"watchNamespaces={Venues}", "podDisruptionBudget.minAvailable=-1"} {
		cmd := exec.Command(helm, "template", "box", chartDir, "--kube-version", kubeVersion, "--set", set)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("--set %s rendered; the schema should reject it:\n%s", set, out)
		} else if !strings.Contains(string(out), "values don't meet the specifications of the schema") {
			t.Errorf("--set %s failed for another reason than the schema:\n%s", set, out)
		}
	}
}

// TestSameAsKustomize: the chart grants the manager the same permissions,
// installs the same webhooks and the same CRDs as config/default.
func TestSameAsKustomize(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	kustomize := tool(t, "KUSTOMIZE", "kustomize")
	k := docs(t, run(t, kustomize, "build", filepath.Join("..", "config", "default")))
	h := helmTemplate(t, helm)

	// Every Role and ClusterRole, by name suffix: kustomize names them
	// boxoffice-<name>[-role], the chart <release>-boxoffice-<name>.
	roles := func(objs []map[string]any, prefix string) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, kind := range []string{"ClusterRole", "Role"} {
			for _, o := range byKind(objs, kind) {
				n := name(o)
				if !strings.HasPrefix(n, prefix) {
					t.Errorf("%s %s is not named %s*", kind, n, prefix)
					continue
				}
				out[kind+"/"+strings.TrimSuffix(strings.TrimPrefix(n, prefix), "-role")] = o
			}
		}
		return out
	}
	kroles, hroles := roles(k, "boxoffice-"), roles(h, "box-boxoffice-")
	for _, want := range []string{"ClusterRole/manager", "Role/manager", "Role/leader-election", "ClusterRole/metrics-auth",
		"ClusterRole/metrics-reader", "ClusterRole/showtime-editor", "ClusterRole/showtime-viewer"} {
		if kroles[want] == nil {
			t.Errorf("config/default has no %s", want)
		}
	}
	aggregation := func(o map[string]any) map[string]string {
		out := map[string]string{}
		labels, _ := o["metadata"].(map[string]any)["labels"].(map[string]any)
		for k, v := range labels {
			if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
				out[k] = v.(string)
			}
		}
		return out
	}
	for key, kr := range kroles {
		hr := hroles[key]
		if hr == nil {
			t.Errorf("config/default has %s (%s), the chart has none", key, name(kr))
			continue
		}
		if a, b := normRules(kr["rules"]), normRulesRenamed(hr["rules"], chartToKustomizeName); !reflect.DeepEqual(a, b) {
			t.Errorf("%s rules differ\nkustomize: %v\nhelm:      %v", key, a, b)
		}
		if a, b := aggregation(kr), aggregation(hr); !reflect.DeepEqual(a, b) {
			t.Errorf("%s aggregation labels differ: kustomize %v, helm %v", key, a, b)
		}
	}
	for key, hr := range hroles {
		if kroles[key] == nil {
			t.Errorf("the chart has %s (%s), config/default has none", key, name(hr))
		}
	}

	crdNames := func(objs []map[string]any) []string {
		var out []string
		for _, c := range byKind(objs, "CustomResourceDefinition") {
			out = append(out, name(c))
		}
		sort.Strings(out)
		return out
	}
	if kc, hc := crdNames(k), crdNames(h); !reflect.DeepEqual(kc, hc) {
		t.Errorf("CRDs differ: kustomize %v, helm %v", kc, hc)
	}

	webhookRules := func(objs []map[string]any) map[string]string {
		out := map[string]string{}
		for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
			for _, cfg := range byKind(objs, kind) {
				whs, _ := cfg["webhooks"].([]any)
				for _, w := range whs {
					m := w.(map[string]any)
					sig, _ := json.Marshal(map[string]any{"rules": m["rules"], "failurePolicy": m["failurePolicy"],
						"sideEffects": m["sideEffects"], "objectSelector": m["objectSelector"], "path": m["clientConfig"].(map[string]any)["service"].(map[string]any)["path"],
						"matchConditions": m["matchConditions"]})
					// The manager's service account differs by name only.
					out[kind+"/"+m["name"].(string)] = strings.NewReplacer(kustomizeOperator, "OPERATOR", chartOperator, "OPERATOR").Replace(string(sig))
				}
			}
		}
		return out
	}
	kw, hw := webhookRules(k), webhookRules(h)
	if len(kw) == 0 {
		t.Errorf("config/default installs no webhooks")
	}
	if !reflect.DeepEqual(kw, hw) {
		t.Errorf("webhooks differ\nkustomize: %v\nhelm:      %v", kw, hw)
	}
}

// TestChartVersion: the chart and the operator move together.
func TestChartVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Version == "" || c.Version != c.AppVersion {
		t.Errorf("Chart.yaml version %q != appVersion %q", c.Version, c.AppVersion)
	}
}

// TestKustomizeServiceMonitorHonorsLabels: config/prometheus keeps the
// manager's own namespace label, as the chart does.
func TestKustomizeServiceMonitorHonorsLabels(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "config", "prometheus", "monitor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sms := byKind(docs(t, b), "ServiceMonitor")
	if len(sms) != 1 {
		t.Fatalf("config/prometheus/monitor.yaml has %d ServiceMonitors, want 1", len(sms))
	}
	checkHonorLabels(t, "config/prometheus ServiceMonitor", sms[0])
}

// checkHonorLabels: the manager's per-showtime series carry the Showtime's
// namespace; without honorLabels the Prometheus Operator replaces it with the
// manager pod's (renaming it exported_namespace), which breaks the alerts'
// `on (namespace, showtime)` joins and the dashboard's namespace variable.
func checkHonorLabels(t *testing.T, what string, sm map[string]any) {
	t.Helper()
	eps, _ := sm["spec"].(map[string]any)["endpoints"].([]any)
	if len(eps) == 0 {
		t.Errorf("%s has no endpoints", what)
	}
	for i, ep := range eps {
		if ep.(map[string]any)["honorLabels"] != true {
			t.Errorf("%s endpoint %d lacks honorLabels: true", what, i)
		}
	}
}

// TestCRDsCurrent: the chart's crds/ are the generated CRDs.
func TestCRDsCurrent(t *testing.T) {
	gen, _ := filepath.Glob(filepath.Join("..", "config", "crd", "bases", "*.yaml"))
	chart, _ := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if len(gen) == 0 || len(gen) != len(chart) {
		t.Fatalf("config/crd/bases has %d CRDs, the chart %d: run `make manifests`", len(gen), len(chart))
	}
	for _, g := range gen {
		a, _ := os.ReadFile(g)
		b, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(g)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs in the chart: run `make manifests`", filepath.Base(g))
		}
	}
}
