package controllers

import (
	"encoding/json"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Showtime waiting room status", func() {
	It("fills status.waitingRoom and the Waiting column from the shard's room summary, and drops them when the room is off", func() {
		f := newFixture(func(st *boxv1.Showtime) { st.Spec.Sales.WaitingRoom.Enabled = true })
		f.reconcile()
		Expect(f.showtime().Status.WaitingRoom).To(Equal(&boxv1.WaitingRoomStatus{Enabled: true}),
			"on, before the shard is read: present, nothing reported")

		f.makeShardPod(true)
		var rep shardapi.Status
		Expect(json.Unmarshal([]byte(shardStatusWithRoom), &rep)).To(Succeed())
		rep.Showtime = f.ns + "/standup"
		f.shard.RequireToken(f.token())
		f.shard.set(func(r *shardapi.Status) { *r = rep })
		f.reconcile()
		Expect(f.showtime().Status.WaitingRoom).To(Equal(&boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Open: true,
			Waiting: 5000, PreQueued: 7, Active: 200, Admitted: 812,
			MedianWaitSeconds: 182, P99WaitSeconds: 725, AdmissionsPerMinute: 150}))
		Expect(printColumnCells(f.ns)).To(HaveKeyWithValue("Waiting", "5000"))

		st := f.showtime()
		st.Spec.Sales.WaitingRoom.Enabled = false
		Expect(k8sClient.Update(ctx, st)).To(Succeed())
		f.reconcile()
		Expect(f.showtime().Status.WaitingRoom).To(BeNil())
		Expect(printColumnCells(f.ns)).To(HaveKeyWithValue("Waiting", "<nil>"))
	})
})
