package charts

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The operator is no single point of failure and holds only the rights it
// needs: these check what the chart and config/default install for that.

func get(o any, path ...string) any {
	for _, p := range path {
		m, ok := o.(map[string]any)
		if !ok {
			return nil
		}
		o = m[p]
	}
	return o
}

func webhooksOf(t *testing.T, objs []map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, cfg := range byKind(objs, "ValidatingWebhookConfiguration") {
		for _, w := range cfg["webhooks"].([]any) {
			out = append(out, w.(map[string]any))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no webhooks rendered")
	}
	return out
}

// exempts reports whether a webhook skips requests of user with a match
// condition.
func exempts(w map[string]any, user string) bool {
	conds, _ := w["matchConditions"].([]any)
	for _, c := range conds {
		if get(c, "expression") == "request.userInfo.username != '"+user+"'" {
			return true
		}
	}
	return false
}

// checkHA: two replicas, a disruption budget that lets one go, spread over
// nodes (preferred only), a webhook Service that selects every replica, and
// every webhook exempting the manager's own service account.
func checkHA(t *testing.T, what string, objs []map[string]any, operator string) {
	t.Helper()
	deps := byKind(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("%s: %d Deployments", what, len(deps))
	}
	dep := deps[0]
	if r := get(dep, "spec", "replicas"); r != float64(2) {
		t.Errorf("%s: replicas %v, want 2", what, r)
	}
	podLabels := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	matches := func(sel any) bool {
		m, _ := sel.(map[string]any)
		if len(m) == 0 {
			return false
		}
		for k, v := range m {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	pdbs := byKind(objs, "PodDisruptionBudget")
	if len(pdbs) != 1 || get(pdbs[0], "spec", "minAvailable") != float64(1) || !matches(get(pdbs[0], "spec", "selector", "matchLabels")) {
		t.Errorf("%s: want one PodDisruptionBudget, minAvailable 1, selecting the manager's pods; got %v", what, pdbs)
	}
	tsc, _ := get(dep, "spec", "template", "spec", "topologySpreadConstraints").([]any)
	spread := false
	for _, c := range tsc {
		if get(c, "topologyKey") == "kubernetes.io/hostname" && get(c, "whenUnsatisfiable") == "ScheduleAnyway" && matches(get(c, "labelSelector", "matchLabels")) {
			spread = true
		}
	}
	if !spread {
		t.Errorf("%s: no preferred spread over kubernetes.io/hostname selecting the manager's pods: %v", what, tsc)
	}
	if u := get(dep, "spec", "template", "spec", "securityContext", "runAsUser"); u != float64(65532) {
		t.Errorf("%s: pod runAsUser %v, want 65532 (runAsNonRoot needs a numeric user)", what, u)
	}
	for _, svc := range byKind(objs, "Service") {
		if strings.HasSuffix(name(svc), "webhook-service") || strings.HasSuffix(name(svc), "-webhook") {
			if !matches(get(svc, "spec", "selector")) {
				t.Errorf("%s: webhook Service %s does not select every manager pod: %v", what, name(svc), get(svc, "spec", "selector"))
			}
		}
	}
	for _, w := range webhooksOf(t, objs) {
		if !exempts(w, operator) {
			t.Errorf("%s: webhook %s does not exempt %s with matchConditions: %v", what, w["name"], operator, w["matchConditions"])
		}
	}
}

func TestHAChart(t *testing.T) {
	checkHA(t, "chart", helmTemplate(t, tool(t, "HELM", "helm")), chartOperator)
}

func TestHAKustomize(t *testing.T) {
	objs := docs(t, run(t, tool(t, "KUSTOMIZE", "kustomize"), "build", filepath.Join("..", "config", "default")))
	checkHA(t, "config/default", objs, kustomizeOperator)
	// Leader election stays on: two replicas, one runs the controllers.
	b, _ := json.Marshal(byKind(objs, "Deployment")[0])
	if !strings.Contains(string(b), `"--leader-elect"`) {
		t.Errorf("config/default's manager runs without --leader-elect")
	}
}

// TestNoMatchConditionsBefore130: older API servers reject matchConditions
// (GA in 1.30); the chart leaves them out there and the manager's in-code
// exemption is what remains.
func TestNoMatchConditionsBefore130(t *testing.T) {
	objs := docs(t, run(t, tool(t, "HELM", "helm"), "template", "box", chartDir, "--namespace", "boxoffice-system", "--kube-version", "1.29.4"))
	for _, w := range webhooksOf(t, objs) {
		if exempts(w, chartOperator) {
			t.Errorf("webhook %s has the operator's match condition on Kubernetes 1.29", w["name"])
		}
	}
}

func TestPDBNeedsASpareReplica(t *testing.T) {
	out, err := exec.Command(tool(t, "HELM", "helm"), "template", "box", chartDir, "--kube-version", kubeVersion, "--set", "replicaCount=1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "podDisruptionBudget.minAvailable (1) must be below replicaCount (1)") {
		t.Errorf("replicaCount=1 with the disruption budget rendered or failed otherwise (%v):\n%s", err, out)
	}
	helmTemplate(t, tool(t, "HELM", "helm"), "--set", "replicaCount=1", "--set", "podDisruptionBudget.enabled=false")
}

// rulesOf is the rules of one Role or ClusterRole of the manager by name.
func rulesOf(t *testing.T, objs []map[string]any, kind, name_, namespace string) []any {
	t.Helper()
	for _, o := range byKind(objs, kind) {
		if name(o) == name_ && (namespace == "" || get(o, "metadata", "namespace") == namespace) {
			r, _ := o["rules"].([]any)
			return r
		}
	}
	t.Fatalf("no %s %s in %q", kind, name_, namespace)
	return nil
}

// grants flattens rules to "group/resource[/name]:verb" entries.
func grants(rules []any) []string {
	var out []string
	for _, r := range rules {
		names, _ := get(r, "resourceNames").([]any)
		if len(names) == 0 {
			names = []any{""}
		}
		for _, g := range get(r, "apiGroups").([]any) {
			for _, res := range get(r, "resources").([]any) {
				for _, n := range names {
					for _, v := range get(r, "verbs").([]any) {
						e := g.(string) + "/" + res.(string)
						if n != "" {
							e += "/" + n.(string)
						}
						out = append(out, e+":"+v.(string))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// TestWebhookConfigWritesByName: the manager may update or patch only its
// own webhook configuration, in both renderings; reading stays cluster-wide
// (the certificate rotator's informer lists them).
func TestWebhookConfigWritesByName(t *testing.T) {
	k := docs(t, run(t, tool(t, "KUSTOMIZE", "kustomize"), "build", filepath.Join("..", "config", "default")))
	h := helmTemplate(t, tool(t, "HELM", "helm"))
	for _, c := range []struct {
		what, role, config string
		objs               []map[string]any
	}{
		{"config/default", "boxoffice-manager-role", "boxoffice-validating-webhook-configuration", k},
		{"chart", "box-boxoffice-manager", "box-boxoffice-validating-webhook-configuration", h},
	} {
		if len(byKind(c.objs, "ValidatingWebhookConfiguration")) != 1 || name(byKind(c.objs, "ValidatingWebhookConfiguration")[0]) != c.config {
			t.Errorf("%s: the webhook configuration is not named %s", c.what, c.config)
		}
		var writes []string
		for _, g := range grants(rulesOf(t, c.objs, "ClusterRole", c.role, "")) {
			if strings.HasPrefix(g, "admissionregistration.k8s.io/") && !strings.HasSuffix(g, ":get") && !strings.HasSuffix(g, ":list") && !strings.HasSuffix(g, ":watch") {
				writes = append(writes, g)
			}
		}
		want := []string{"admissionregistration.k8s.io/validatingwebhookconfigurations/" + c.config + ":patch",
			"admissionregistration.k8s.io/validatingwebhookconfigurations/" + c.config + ":update"}
		if !reflect.DeepEqual(writes, want) {
			t.Errorf("%s: webhook configuration writes %v, want %v", c.what, writes, want)
		}
	}
}

// TestWatchNamespaces: with a list of namespaces the manager is told to
// watch only those, its namespaced rights become Roles there, its webhooks
// see only those namespaces, and the ClusterRole keeps the cluster-scoped
// kinds alone. Nothing is lost or added on the way: the union is the
// cluster-wide rendering's rules.
func TestWatchNamespaces(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	all := helmTemplate(t, helm)
	objs := helmTemplate(t, helm, "--set", "watchNamespaces={venues,shows}")

	b, _ := json.Marshal(byKind(objs, "Deployment")[0])
	if !strings.Contains(string(b), `"--watch-namespaces=venues,shows"`) {
		t.Errorf("the manager is not started with --watch-namespaces=venues,shows")
	}
	clusterScoped := map[string]bool{"namespaces": true, "freezewindows": true, "freezewindows/status": true,
		"shardrollouts": true, "shardrollouts/status": true, "validatingwebhookconfigurations": true}
	cluster := grants(rulesOf(t, objs, "ClusterRole", "box-boxoffice-manager", ""))
	for _, g := range cluster {
		res := strings.SplitN(strings.SplitN(g, ":", 2)[0], "/", 2)[1]
		res = strings.TrimSuffix(res, "/box-boxoffice-validating-webhook-configuration")
		if !clusterScoped[res] {
			t.Errorf("the ClusterRole still grants %s in namespaced mode", g)
		}
	}
	var nsGrants []string
	for _, n := range []string{"venues", "shows"} {
		g := grants(rulesOf(t, objs, "Role", "box-boxoffice-manager-watched", n))
		if nsGrants != nil && !reflect.DeepEqual(g, nsGrants) {
			t.Errorf("Roles differ between watched namespaces: %v, %v", g, nsGrants)
		}
		nsGrants = g
	}
	union := append(append([]string{}, cluster...), nsGrants...)
	sort.Strings(union)
	union = slices.Compact(union)
	if want := grants(rulesOf(t, all, "ClusterRole", "box-boxoffice-manager", "")); !reflect.DeepEqual(union, want) {
		t.Errorf("namespaced mode grants %v\ncluster-wide mode grants %v", union, want)
	}
	if ev := grants(rulesOf(t, objs, "Role", "box-boxoffice-manager-events", "default")); !reflect.DeepEqual(ev, []string{"events.k8s.io/events:create", "events.k8s.io/events:patch"}) {
		t.Errorf("events Role in default: %v", ev)
	}
	bindings := map[string]bool{}
	for _, rb := range byKind(objs, "RoleBinding") {
		bindings[get(rb, "metadata", "namespace").(string)+"/"+get(rb, "roleRef", "name").(string)] = true
	}
	for _, want := range []string{"venues/box-boxoffice-manager-watched", "shows/box-boxoffice-manager-watched", "default/box-boxoffice-manager-events"} {
		if !bindings[want] {
			t.Errorf("no RoleBinding %s", want)
		}
	}
	for _, w := range webhooksOf(t, objs) {
		sel, _ := json.Marshal(w["namespaceSelector"])
		if string(sel) != `{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["venues","shows"]}]}` {
			t.Errorf("webhook %s namespaceSelector %s", w["name"], sel)
		}
	}
	for _, w := range webhooksOf(t, all) {
		if w["namespaceSelector"] != nil {
			t.Errorf("cluster-wide mode: webhook %s has a namespaceSelector %v", w["name"], w["namespaceSelector"])
		}
	}
}
