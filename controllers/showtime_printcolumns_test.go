package controllers

import (
	"encoding/json"
	"fmt"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// kubectl get asks the API server for a Table; these are its cells.
var _ = Describe("Showtime printer columns", func() {
	It("show 0 held, 0 sold and 0 front ends as 0, not blank", func() {
		data, err := readSample()
		Expect(err).NotTo(HaveOccurred())
		st := &boxv1.Showtime{}
		Expect(yamlUnmarshal(data, st)).To(Succeed())
		st.Namespace = newNamespace()
		Expect(k8sClient.Create(ctx, st)).To(Succeed())
		st.Status = boxv1.ShowtimeStatus{
			Phase:      boxv1.PhaseReady,
			Seats:      boxv1.SeatCounts{Total: 2000, Available: 2000},
			Frontend:   boxv1.FrontendStatus{Image: testImage},
			Conditions: []metav1.Condition{{Type: boxv1.ConditionShardReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Now()}},
		}
		Expect(k8sClient.Status().Update(ctx, st)).To(Succeed())

		cells := printColumnCells(st.Namespace)
		Expect(cells).To(HaveKeyWithValue("Phase", "Ready"))
		Expect(cells).To(HaveKeyWithValue("Available", "2000"))
		Expect(cells).To(HaveKeyWithValue("Held", "0"))
		Expect(cells).To(HaveKeyWithValue("Sold", "0"))
		Expect(cells).To(HaveKeyWithValue("Shard", "True"))
		Expect(cells).To(HaveKeyWithValue("Front ends", "0"))
		Expect(cells).To(HaveKeyWithValue("Waiting", "<nil>"), "blank while the room is off")
		GinkgoWriter.Printf("kubectl get columns: %v\n", cells)
	})
})

// printColumnCells reads the namespace's one showtime as kubectl get does
// (a Table from the API server) and returns its cells by column name.
func printColumnCells(namespace string) map[string]string {
	GinkgoHelper()
	cs, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	raw, err := cs.RESTClient().Get().AbsPath("/apis/boxoffice.dev/v1alpha1/namespaces", namespace, "showtimes").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	Expect(err).NotTo(HaveOccurred())
	table := &metav1.Table{}
	Expect(json.Unmarshal(raw, table)).To(Succeed())
	Expect(table.Rows).To(HaveLen(1))
	cells := map[string]string{}
	for i, col := range table.ColumnDefinitions {
		cells[col.Name] = fmt.Sprint(table.Rows[0].Cells[i])
	}
	return cells
}
