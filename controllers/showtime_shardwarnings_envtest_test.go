package controllers

import (
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("Shard reports", func() {
	// shardEvents are the Warning events raised for shard reports, by reason.
	shardEvents := func(ns string) map[string][]eventsv1.Event {
		var list eventsv1.EventList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		out := map[string][]eventsv1.Event{}
		for _, e := range list.Items {
			if e.Reason == ReasonPaidAfterExpiry || e.Reason == ReasonShardLogDamaged {
				out[e.Reason] = append(out[e.Reason], e)
			}
		}
		return out
	}

	It("raises one Warning event per payment after expiry and per log damage, once, across reconciles and a manager restart", func() {
		f := newFixture()
		f.reconcile()
		f.makeShardPod(true)
		f.serveCounts(sampleTotal, 0, 0, 0)
		at := baseTime.Add(-time.Minute)
		f.shard.set(func(r *shardapi.Status) {
			r.ReportsID = "00aa11bb22cc33dd"
			r.PaidAfterExpiry = []shardapi.LatePayment{{Seq: 1, Hold: "h7", OrderID: "o-1", At: at}}
			r.LogWarnings = []shardapi.LogWarning{{Seq: 2, At: at, Kind: "damaged_last_record", File: "wal-0000000000000001.log",
				Message: "the last record was damaged and dropped; it may have been acknowledged"}}
		})
		f.reconcile()
		evs := shardEvents(f.ns)
		Expect(evs[ReasonPaidAfterExpiry]).To(HaveLen(1))
		Expect(evs[ReasonShardLogDamaged]).To(HaveLen(1))
		late := evs[ReasonPaidAfterExpiry][0]
		Expect(late.Type).To(Equal("Warning"))
		Expect(late.Regarding.Kind).To(Equal("Showtime"))
		Expect(late.Regarding.Name).To(Equal("standup"))
		Expect(late.Note).To(And(ContainSubstring("h7"), ContainSubstring(`"o-1"`), ContainSubstring("refund")))
		Expect(evs[ReasonShardLogDamaged][0].Note).To(ContainSubstring("may have been acknowledged"))
		Expect(f.showtime().Annotations).To(HaveKeyWithValue(boxv1.AnnotationShardReportsSeen, "00aa11bb22cc33dd/2"))

		// Later reads: the same reports raise nothing more; a new one, one event.
		f.clock.SetTime(baseTime.Add(6 * time.Second))
		f.reconcile()
		Expect(shardEvents(f.ns)[ReasonPaidAfterExpiry]).To(HaveLen(1))
		f.shard.set(func(r *shardapi.Status) {
			r.PaidAfterExpiry = append(r.PaidAfterExpiry, shardapi.LatePayment{Seq: 3, Hold: "h9", OrderID: "o-2", At: at})
		})
		f.clock.SetTime(baseTime.Add(12 * time.Second))
		f.reconcile()
		Expect(shardEvents(f.ns)[ReasonPaidAfterExpiry]).To(HaveLen(2))

		// A manager restart after the events expired: nothing is raised again.
		for _, es := range shardEvents(f.ns) {
			for i := range es {
				Expect(k8sClient.Delete(ctx, &es[i])).To(Succeed())
			}
		}
		f.r = &ShowtimeReconciler{Client: f.r.Client, Scheme: f.r.Scheme, Recorder: f.r.Recorder, Clock: f.r.Clock,
			Options: f.r.Options, Shards: f.r.Shards, ScrapeInterval: f.r.ScrapeInterval}
		f.clock.SetTime(baseTime.Add(18 * time.Second))
		f.reconcile()
		Expect(shardEvents(f.ns)).To(BeEmpty())
		Expect(f.showtime().Annotations).To(HaveKeyWithValue(boxv1.AnnotationShardReportsSeen, "00aa11bb22cc33dd/3"))
	})
})
