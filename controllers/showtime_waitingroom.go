package controllers

import (
	"math"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// applyWaitingRoom sets status.waitingRoom from the shard's room summary:
// absent while the room is off; present with zero counts and reported=false
// until the shard reports a configured room. With no report (rep nil: the
// shard was not read this time) it keeps what was last reported.
func applyWaitingRoom(st *boxv1.Showtime, rep *shardapi.Status) {
	if !st.WaitingRoom().Enabled {
		st.Status.WaitingRoom = nil
		return
	}
	if rep == nil {
		if st.Status.WaitingRoom == nil {
			st.Status.WaitingRoom = &boxv1.WaitingRoomStatus{Enabled: true}
		}
		return
	}
	st.Status.WaitingRoom = waitingRoomStatus(rep.Room)
}

// waitingRoomStatus converts the shard's summary: waiting counts the
// pre-queue too (everyone not yet admitted), waits are whole seconds
// rounded up (the shard's are bucket bounds already) and the rate is per
// minute.
func waitingRoomStatus(r *shardapi.RoomSummary) *boxv1.WaitingRoomStatus {
	w := &boxv1.WaitingRoomStatus{Enabled: true}
	if r == nil || !r.Configured {
		return w
	}
	w.Reported = true
	w.Open, w.SoldOut, w.SeatsMayReturn = r.Open, r.SoldOut, r.SeatsMayReturn
	w.Waiting = clampInt32(r.Waiting + r.PreQueued)
	w.PreQueued = clampInt32(r.PreQueued)
	w.Active = clampInt32(r.Active)
	w.Admitted = max(r.Admitted, 0)
	w.MedianWaitSeconds = wholeNonNegative(math.Ceil, r.MedianWaitSeconds)
	w.P99WaitSeconds = wholeNonNegative(math.Ceil, r.P99WaitSeconds)
	w.AdmissionsPerMinute = wholeNonNegative(math.Round, r.Rate*60)
	return w
}

func clampInt32(v int64) int32 {
	return int32(min(max(v, 0), math.MaxInt32))
}

// wholeNonNegative makes a whole number of v with round (math.Ceil or
// math.Round); NaN, infinities and negatives, which a healthy shard never
// sends, become 0.
func wholeNonNegative(round func(float64) float64, v float64) int64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0
	}
	return int64(min(round(v), math.MaxInt32))
}
