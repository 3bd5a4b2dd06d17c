package controllers

import (
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Showtime waiting room status", func() {
	It("fills status.waitingRoom and the Waiting column from the shard's room summary, and drops them when the room is off", func() {
		f := newFixture(func(st *boxv1.Showtime) { st.Spec.Sales.WaitingRoom.Enabled = true })
		f.reconcile()
		Expect(f.shardArgs()).To(ContainElement("--waiting-room"), "on: the shard keeps a room")
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
		// Without its flags the shard's leader switches the room off
		// (shard/server TestRoomSwitchedOffWhenItsFlagsGo).
		Expect(f.shardArgs()).NotTo(ContainElement(HavePrefix("--waiting-room")), "off: the shard runs without the room's flags")
	})
})

// shardArgs is the shard container's command line in the StatefulSet.
func (f *fixture) shardArgs() []string {
	sts := &appsv1.StatefulSet{}
	f.get(f.st.ShardName(), sts)
	return sts.Spec.Template.Spec.Containers[0].Args
}
