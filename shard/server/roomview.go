package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice.dev/boxoffice/shard/shardapi"
	"boxoffice.dev/boxoffice/shard/waitroom"
)

// roomBucket is how many slots of the line one bucket of the room summary
// covers (50,000 waiting: about 50 numbers).
const roomBucket = 1024

// roomView is the room as published to handlers (status, events): built by
// the machine's owner, stored once what it shows is durable (single mode)
// or applied (cluster mode).
type roomView struct {
	st   waitroom.Status
	json []byte // the summary object of /v1/room/status, /v1/status and room events
	seq  uint64 // changes with every build
	// off: a room that was on is switched off. The summary ({"configured":
	// false}) is still published, once, so that front ends stop gating
	// holds and waiting pages move on to the seat map.
	off bool
}

// announced reports whether the view goes into /v1/status and room events:
// a configured room, or one switched off.
func (v *roomView) announced() bool { return v != nil && (v.st.Configured || v.off) }

func (s *Server) buildRoomView() *roomView {
	s.roomSeq++
	st := s.room.Status()
	v := &roomView{st: st, seq: s.roomSeq, off: s.room.SwitchedOff()}
	v.json = appendRoomSummary(nil, &st, s.room.Line(roomBucket))
	return v
}

// publishRoom stores the view now (after recovery, a snapshot install, or
// in cluster mode after entries were applied).
func (s *Server) publishRoom() {
	s.roomView.Store(s.buildRoomView())
	s.roomDirty = false
	s.hub.wake()
}

// stageRoomView builds the room's view for publication with the group, if
// the room changed: the summary of a group's joins, leaves and admissions
// goes out with that group, not a tick later.
func (s *Server) stageRoomView(g *group) {
	if s.roomDirty {
		g.roomView = s.buildRoomView()
		s.roomDirty = false
	}
}

func appendDur(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', -1, 64)
}

func appendRoomSummary(b []byte, st *waitroom.Status, line waitroom.LineSummary) []byte {
	b = append(b, `{"configured":`...)
	b = strconv.AppendBool(b, st.Configured)
	b = append(b, `,"open":`...)
	b = strconv.AppendBool(b, st.Open)
	b = append(b, `,"soldOut":`...)
	b = strconv.AppendBool(b, st.SoldOut)
	b = append(b, `,"seatsMayReturn":`...)
	b = strconv.AppendBool(b, st.SeatsMayReturn)
	if st.Configured {
		b = append(b, `,"preQueueAt":`...)
		b = appendTime(b, st.PreQueueAt)
		b = append(b, `,"opensAt":`...)
		b = appendTime(b, st.OpensAt)
	}
	for _, f := range []struct {
		k string
		v int
	}{{"preQueued", st.PreQueued}, {"waiting", st.Waiting}, {"active", st.Active}, {"choosing", st.Choosing},
		{"free", int(st.Seats.Free)}, {"held", int(st.Seats.Held)}, {"sold", int(st.Seats.Sold)}} {
		b = append(b, `,"`...)
		b = append(b, f.k...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(f.v), 10)
	}
	b = append(b, `,"admitted":`...)
	b = strconv.AppendUint(b, st.Admitted, 10)
	b = append(b, `,"timedOut":`...)
	b = strconv.AppendUint(b, st.TimedOut, 10)
	b = append(b, `,"bought":`...)
	b = strconv.AppendUint(b, st.Bought, 10)
	b = append(b, `,"rate":`...)
	b = strconv.AppendFloat(b, st.Rate, 'f', -1, 64)
	b = append(b, `,"medianWaitSeconds":`...)
	b = appendDur(b, st.MedianWait)
	b = append(b, `,"p99WaitSeconds":`...)
	b = appendDur(b, st.P99Wait)
	b = append(b, `,"head":`...)
	b = strconv.AppendInt(b, int64(line.Head), 10)
	b = append(b, `,"bucketStart":`...)
	b = strconv.AppendInt(b, int64(line.Start), 10)
	b = append(b, `,"bucketSize":`...)
	b = strconv.AppendInt(b, int64(line.Size), 10)
	b = append(b, `,"buckets":[`...)
	for i, c := range line.Counts {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(c), 10)
	}
	return append(b, "]}"...)
}

// appendPlace renders a place (GET /v1/room/places/{id} and the answers of
// join and touch).
func appendPlace(b []byte, p *waitroom.Place) []byte {
	b = append(b, `{"place":`...)
	b = strconv.AppendUint(b, p.ID, 10)
	b = append(b, `,"state":"`...)
	b = append(b, p.State.String()...)
	b = append(b, '"')
	switch p.State {
	case waitroom.PreQueued:
		b = append(b, `,"preQueue":`...)
		b = strconv.AppendInt(b, int64(p.PreQueue), 10)
	case waitroom.Waiting:
		b = append(b, `,"slot":`...)
		b = strconv.AppendInt(b, int64(p.Slot), 10)
		b = append(b, `,"ahead":`...)
		b = strconv.AppendInt(b, int64(p.Ahead), 10)
	case waitroom.Admitted:
		b = append(b, `,"maxSeats":`...)
		b = strconv.AppendInt(b, int64(p.MaxSeats), 10)
		b = append(b, `,"idleDeadline":`...)
		if p.IdleDeadline == 0 {
			b = append(b, "null"...)
		} else {
			b = appendTime(b, p.IdleDeadline)
		}
	}
	if p.State != waitroom.Admitted {
		b = append(b, `,"waitSeconds":`...)
		b = appendDur(b, p.Wait)
		b = append(b, `,"measured":`...)
		b = strconv.AppendBool(b, p.Measured)
	}
	return append(b, '}')
}

// roomCollector exports the published room view as metrics
// (boxoffice_shard_waitingroom_*), only while a room is configured. It is an
// unchecked collector: its series come and go with the room.
type roomCollector struct{ s *Server }

var roomMetricDescs = struct {
	gauge   map[string]*prometheus.Desc
	counter map[string]*prometheus.Desc
}{gauge: map[string]*prometheus.Desc{}, counter: map[string]*prometheus.Desc{}}

func init() {
	const p = shardapi.MetricPrefix + "waitingroom_"
	for name, help := range map[string]string{
		"waiting":               "Buyers in line (not counting the pre-queue).",
		"pre_queued":            "Buyers in the pre-queue, drawn at opensAt.",
		"active":                "Buyers admitted now.",
		"choosing":              "Admitted buyers holding no seat.",
		"open":                  "1 once the sale opened and the pre-queue was drawn.",
		"sold_out":              "1 once every seat is sold and the room closed.",
		"seats_may_return":      "1 while no seat is free but some are held.",
		"admissions_per_second": "Admission rate measured over the last 64 admissions (0 unmeasured).",
		"wait_median_seconds":   "Median wait of everyone admitted so far (bucket bound).",
		"wait_p99_seconds":      "99th percentile wait of everyone admitted so far (bucket bound).",
	} {
		roomMetricDescs.gauge[name] = prometheus.NewDesc(p+name, help, nil, nil)
	}
	for name, help := range map[string]string{
		"admitted_total":  "Buyers admitted so far.",
		"timed_out_total": "Admissions that idled out.",
		"bought_total":    "Places that ended with a sale.",
	} {
		roomMetricDescs.counter[name] = prometheus.NewDesc(p+name, help, nil, nil)
	}
}

func (c *roomCollector) Describe(chan<- *prometheus.Desc) {}

func (c *roomCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.s.roomView.Load()
	if v == nil || !v.st.Configured {
		return
	}
	st := &v.st
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}
	for name, val := range map[string]float64{
		"waiting": float64(st.Waiting), "pre_queued": float64(st.PreQueued), "active": float64(st.Active),
		"choosing": float64(st.Choosing), "open": b(st.Open), "sold_out": b(st.SoldOut),
		"seats_may_return": b(st.SeatsMayReturn), "admissions_per_second": st.Rate,
		"wait_median_seconds": st.MedianWait.Seconds(), "wait_p99_seconds": st.P99Wait.Seconds(),
	} {
		ch <- prometheus.MustNewConstMetric(roomMetricDescs.gauge[name], prometheus.GaugeValue, val)
	}
	for name, val := range map[string]uint64{"admitted_total": st.Admitted, "timed_out_total": st.TimedOut, "bought_total": st.Bought} {
		ch <- prometheus.MustNewConstMetric(roomMetricDescs.counter[name], prometheus.CounterValue, float64(val))
	}
}
