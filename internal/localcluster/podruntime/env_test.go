package podruntime

import "testing"

func TestExpandVars(t *testing.T) {
	env := map[string]string{"A": "1", "POD": "p-0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":       "plain",
		"--x=$(A)":    "--x=1",
		"$(POD).$(A)": "p-0.1",
		"$$(A)":       "$(A)",
		"$(MISSING)":  "$(MISSING)",
		"$(unclosed":  "$(unclosed",
		"cost $5":     "cost $5",
		"trailing $":  "trailing $",
	} {
		if got := expandVars(in, lookup); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAPIServerEnv(t *testing.T) {
	got := apiServerEnv("10.244.7.1", 36443)
	want := map[string]bool{"KUBERNETES_SERVICE_HOST=10.244.7.1": true, "KUBERNETES_SERVICE_PORT=36443": true,
		"KUBERNETES_SERVICE_PORT_HTTPS=36443": true, "KUBERNETES_PORT=tcp://10.244.7.1:36443": true}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for _, kv := range got {
		if !want[kv] {
			t.Errorf("unexpected %s", kv)
		}
	}
	if apiServerEnv("", 0) != nil {
		t.Errorf("no API server address: want no variables")
	}
}
