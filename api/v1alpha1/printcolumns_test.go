package v1alpha1

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// printColumn evaluates the CRD's printer column name on obj the way the API
// server does for `kubectl get`: the column's JSONPath over the object's JSON.
func printColumns(t *testing.T, obj any) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "boxoffice.dev_showtimes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(b, crd); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var data any
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, col := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		jp := jsonpath.New(col.Name).AllowMissingKeys(true)
		if err := jp.Parse("{" + col.JSONPath + "}"); err != nil {
			t.Fatalf("column %s: %v", col.Name, err)
		}
		var buf bytes.Buffer
		if err := jp.Execute(&buf, data); err != nil {
			t.Fatalf("column %s: %v", col.Name, err)
		}
		out[col.Name] = buf.String()
	}
	return out
}

func TestPrintColumnsShowZeros(t *testing.T) {
	st := &Showtime{Status: ShowtimeStatus{
		Phase:    PhaseReady,
		Seats:    SeatCounts{Total: 252, Available: 252},
		Frontend: FrontendStatus{Image: "reg/boxoffice:v1.2.3"},
	}}
	cols := printColumns(t, st)
	for name, want := range map[string]string{"Phase": "Ready", "Available": "252", "Held": "0", "Sold": "0", "Front ends": "0"} {
		if cols[name] != want {
			t.Errorf("column %s = %q, want %q (all columns: %v)", name, cols[name], want, cols)
		}
	}
}

func TestStatusJSONKeepsZeroCounts(t *testing.T) {
	b, err := json.Marshal(ShowtimeStatus{Seats: SeatCounts{Total: 10}, Frontend: FrontendStatus{Image: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Seats    map[string]any `json:"seats"`
		Frontend map[string]any `json:"frontend"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"total", "available", "held", "awaitingPayment", "sold"} {
		if _, ok := got.Seats[k]; !ok {
			t.Errorf("seats.%s left out: %s", k, b)
		}
	}
	for _, k := range []string{"desiredReplicas", "replicas", "readyReplicas", "minReplicas"} {
		if _, ok := got.Frontend[k]; !ok {
			t.Errorf("frontend.%s left out: %s", k, b)
		}
	}
}

// The Waiting column: blank while the room is off, the count (0 included)
// while it is on, the pre-queue counted in status.waitingRoom.waiting.
func TestPrintColumnWaiting(t *testing.T) {
	st := &Showtime{Status: ShowtimeStatus{Phase: PhaseOnSale}}
	if got := printColumns(t, st)["Waiting"]; got != "" {
		t.Errorf("room off: Waiting = %q, want blank", got)
	}
	st.Status.WaitingRoom = &WaitingRoomStatus{Enabled: true}
	if got := printColumns(t, st)["Waiting"]; got != "0" {
		t.Errorf("room on, nobody waiting: Waiting = %q, want 0", got)
	}
	st.Status.WaitingRoom = &WaitingRoomStatus{Enabled: true, Reported: true, Waiting: 5000, PreQueued: 7}
	if got := printColumns(t, st)["Waiting"]; got != "5000" {
		t.Errorf("Waiting = %q, want 5000", got)
	}
}
