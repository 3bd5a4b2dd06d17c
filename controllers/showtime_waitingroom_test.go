package controllers

import (
	"encoding/json"
	"strings"
	"testing"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// shardStatusWithRoom is a shard's GET /v1/status with a room summary, as
// shard/server writes it (docs/api/shard-v1.openapi.yaml, RoomStatus).
const shardStatusWithRoom = `{"showtime":"ns/st","version":42,"epoch":1,
"counts":{"free":1200,"held":300,"awaiting_payment":0,"sold":500},
"room":{"configured":true,"open":true,"soldOut":false,"seatsMayReturn":false,"preQueued":7,
"waiting":4993,"active":200,"choosing":150,"free":1200,"held":300,"sold":500,"admitted":812,
"timedOut":12,"bought":90,"rate":2.5,"medianWaitSeconds":181.02,"p99WaitSeconds":724.08,
"head":812,"bucketStart":0,"bucketSize":1024,"buckets":[212,1024,1024,1024,1024,692]}}`

func roomShowtime(enabled bool) *boxv1.Showtime {
	st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "st"}}
	st.Spec.Sales.WaitingRoom.Enabled = enabled
	return st
}

func TestWaitingRoomStatusFromShardSummary(t *testing.T) {
	var rep shardapi.Status
	if err := json.Unmarshal([]byte(shardStatusWithRoom), &rep); err != nil {
		t.Fatal(err)
	}
	st := roomShowtime(true)
	applyReport(st, &rep)
	want := boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Open: true,
		Waiting: 5000, PreQueued: 7, Active: 200, Admitted: 812,
		MedianWaitSeconds: 182, P99WaitSeconds: 725, AdmissionsPerMinute: 150}
	if got := st.Status.WaitingRoom; got == nil || *got != want {
		t.Fatalf("status.waitingRoom = %+v, want %+v", got, want)
	}
}

func TestApplyWaitingRoom(t *testing.T) {
	reported := &shardapi.Status{Room: &shardapi.RoomSummary{Configured: true, Waiting: 3, Active: 1, Admitted: 4}}
	cases := []struct {
		name    string
		enabled bool
		before  *boxv1.WaitingRoomStatus
		rep     *shardapi.Status
		want    *boxv1.WaitingRoomStatus
	}{
		{name: "off: absent", rep: reported, before: &boxv1.WaitingRoomStatus{Enabled: true, Waiting: 9}},
		{name: "on, not read yet", enabled: true, want: &boxv1.WaitingRoomStatus{Enabled: true}},
		{name: "on, not read this time: keeps the last report", enabled: true,
			before: &boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Waiting: 9},
			want:   &boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Waiting: 9}},
		{name: "on, shard without a room yet", enabled: true, rep: &shardapi.Status{},
			before: &boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Waiting: 9},
			want:   &boxv1.WaitingRoomStatus{Enabled: true}},
		{name: "on, shard reports a room not configured", enabled: true, rep: &shardapi.Status{Room: &shardapi.RoomSummary{Waiting: 5}},
			want: &boxv1.WaitingRoomStatus{Enabled: true}},
		{name: "on, reported", enabled: true, rep: reported,
			want: &boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Waiting: 3, Active: 1, Admitted: 4}},
		{name: "bad numbers become zero", enabled: true,
			rep:  &shardapi.Status{Room: &shardapi.RoomSummary{Configured: true, Waiting: -1, Admitted: -5, Rate: -1, P99WaitSeconds: -3}},
			want: &boxv1.WaitingRoomStatus{Enabled: true, Reported: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := roomShowtime(c.enabled)
			st.Status.WaitingRoom = c.before
			applyWaitingRoom(st, c.rep)
			got := st.Status.WaitingRoom
			if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
				t.Fatalf("status.waitingRoom = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestWaitingRoomMetricsFollowStatus(t *testing.T) {
	key := types.NamespacedName{Namespace: "metrics-ns", Name: "metrics-st"}
	st := roomShowtime(true)
	st.Namespace, st.Name = key.Namespace, key.Name
	st.Status.WaitingRoom = &boxv1.WaitingRoomStatus{Enabled: true}
	recordShowtimeMetrics(st, true, true, 10)
	if n := testutil.CollectAndCount(roomMetrics); n != 0 {
		t.Fatalf("%d series before the shard reported the room; want none", n)
	}
	st.Status.WaitingRoom = &boxv1.WaitingRoomStatus{Enabled: true, Reported: true, Waiting: 5000, PreQueued: 7,
		Active: 200, Admitted: 812, MedianWaitSeconds: 182, P99WaitSeconds: 725, AdmissionsPerMinute: 150}
	recordShowtimeMetrics(st, true, true, 10)
	want := `
# HELP boxoffice_showtime_waitingroom_admitted_total Buyers admitted so far.
# TYPE boxoffice_showtime_waitingroom_admitted_total counter
boxoffice_showtime_waitingroom_admitted_total{namespace="metrics-ns",showtime="metrics-st"} 812
# HELP boxoffice_showtime_waitingroom_waiting Buyers in line, the pre-queue included, as last read from the shard.
# TYPE boxoffice_showtime_waitingroom_waiting gauge
boxoffice_showtime_waitingroom_waiting{namespace="metrics-ns",showtime="metrics-st"} 5000
# HELP boxoffice_showtime_waitingroom_wait_p99_seconds 99th percentile wait of everyone admitted so far (an upper bound).
# TYPE boxoffice_showtime_waitingroom_wait_p99_seconds gauge
boxoffice_showtime_waitingroom_wait_p99_seconds{namespace="metrics-ns",showtime="metrics-st"} 725
`
	if err := testutil.CollectAndCompare(roomMetrics, strings.NewReader(want),
		"boxoffice_showtime_waitingroom_admitted_total", "boxoffice_showtime_waitingroom_waiting",
		"boxoffice_showtime_waitingroom_wait_p99_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(roomMetrics); n != 9 {
		t.Fatalf("%d series for one room, want 9", n)
	}
	forgetMetrics(key)
	if n := testutil.CollectAndCount(roomMetrics); n != 0 {
		t.Fatalf("%d series after the showtime was forgotten; want none", n)
	}
}
