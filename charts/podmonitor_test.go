package charts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/controllers/specs"
	"sigs.k8s.io/yaml"
)

// TestPodMonitorsSelectOperatorPods: the chart's PodMonitors select the pods
// the operator makes for a Showtime (labels, port name) and turn their
// showtime label into `showtime`.
func TestPodMonitorsSelectOperatorPods(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	objs := helmTemplate(t, helm, "-f", filepath.Join(chartDir, "ci", "all-options-values.yaml"))
	pms := map[string]map[string]any{}
	for _, pm := range byKind(objs, "PodMonitor") {
		pms[name(pm)] = pm
	}

	b, err := os.ReadFile(filepath.Join("..", "config", "samples", "boxoffice_v1alpha1_showtime.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st := &boxv1.Showtime{}
	if err := yaml.Unmarshal(b, st); err != nil {
		t.Fatal(err)
	}
	st.Namespace = "venues"
	o := specs.Options{DefaultImage: "boxoffice:test", OperatorNamespace: "boxoffice-system",
		OperatorPodLabels: map[string]string{"control-plane": "boxoffice-operator"}}
	pods := map[string]any{
		"box-boxoffice-shards":    specs.ShardStatefulSet(st, o),
		"box-boxoffice-frontends": specs.FrontendDeployment(st, o),
	}
	for pmName, workload := range pods {
		pm := pms[pmName]
		if pm == nil {
			t.Errorf("no PodMonitor %s", pmName)
			continue
		}
		tmpl := podTemplate(t, workload)
		labels := map[string]string{}
		for k, v := range tmpl["metadata"].(map[string]any)["labels"].(map[string]any) {
			labels[k] = v.(string)
		}
		spec := pm["spec"].(map[string]any)
		for k, v := range spec["selector"].(map[string]any)["matchLabels"].(map[string]any) {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v; the operator's pods have %s=%q", pmName, k, v, k, labels[k])
			}
		}
		ports := map[string]bool{}
		for _, c := range tmpl["spec"].(map[string]any)["containers"].([]any) {
			for _, p := range c.(map[string]any)["ports"].([]any) {
				ports[p.(map[string]any)["name"].(string)] = true
			}
		}
		eps := spec["podMetricsEndpoints"].([]any)
		if len(eps) == 0 {
			t.Errorf("%s has no endpoints", pmName)
		}
		for _, ep := range eps {
			e := ep.(map[string]any)
			if !ports[e["port"].(string)] {
				t.Errorf("%s scrapes port %v; the operator's pods name theirs %v", pmName, e["port"], ports)
			}
			var showtime bool
			for _, r := range e["relabelings"].([]any) {
				rl := r.(map[string]any)
				src, _ := rl["sourceLabels"].([]any)
				if rl["targetLabel"] == "showtime" && len(src) == 1 && src[0] == metaPodLabel(boxv1.LabelShowtime) {
					showtime = labels[boxv1.LabelShowtime] == st.Name
				}
			}
			if !showtime {
				t.Errorf("%s does not set `showtime` from the pods' %s label", pmName, boxv1.LabelShowtime)
			}
		}
	}
}

func podTemplate(t *testing.T, workload any) map[string]any {
	t.Helper()
	b, err := json.Marshal(workload)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m["spec"].(map[string]any)["template"].(map[string]any)
}

// metaPodLabel is the service-discovery label of a pod label.
func metaPodLabel(l string) string {
	return "__meta_kubernetes_pod_label_" + strings.NewReplacer(".", "_", "/", "_", "-", "_").Replace(l)
}
