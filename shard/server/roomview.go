package server

import (
	"strconv"
	"time"

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
}

func (s *Server) buildRoomView() *roomView {
	s.roomSeq++
	st := s.room.Status()
	v := &roomView{st: st, seq: s.roomSeq}
	v.json = appendRoomSummary(nil, &st, s.room.Line(roomBucket))
	return v
}

// publishRoom stores the view now (after recovery, a snapshot install, or
// in cluster mode after entries were applied).
func (s *Server) publishRoom() {
	s.roomView.Store(s.buildRoomView())
	s.roomDirty = false
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
