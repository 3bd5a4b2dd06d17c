package waitroom

import (
	"strconv"
	"strings"
)

// Verdict is the room's answer to whether a holder may hold seats now.
type Verdict uint8

const (
	Unguarded   Verdict = iota // no room configured: anyone may hold
	MayHold                    // an admission that has not ended or idled out
	NotAdmitted                // not an admission's holder, or its place still waits
	TurnEnded                  // the place ended (left, bought, idled out, sold out) or idles out now
)

var verdictNames = [...]string{"unguarded", "may_hold", "not_admitted", "turn_ended"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// HolderPrefix starts the holder of the seats an admission holds:
// "w:<place>" (shardapi.AdmissionHolder).
const HolderPrefix = "w:"

// PlaceOfHolder is the place whose admission holds as holder, if it is one.
func PlaceOfHolder(holder string) (uint64, bool) {
	if !strings.HasPrefix(holder, HolderPrefix) {
		return 0, false
	}
	id, err := strconv.ParseUint(holder[len(HolderPrefix):], 10, 64)
	return id, err == nil && id != 0
}

// MayHoldAt says whether holder may hold (or extend a hold of) seats at now,
// and, when it may, the seat limit of its admission. It reads the state and
// changes nothing. now is the time of the seat command asking: an admission
// whose idle deadline is at or before now has ended, exactly as the next
// command at now would end it, even if no command has ended it yet.
func (m *Machine) MayHoldAt(holder string, now int64) (Verdict, int32) {
	if !m.configured {
		return Unguarded, 0
	}
	id, ok := PlaceOfHolder(holder)
	if !ok {
		return NotAdmitted, 0
	}
	e := m.entries[id]
	switch {
	case e == nil:
		if id < m.nextID {
			return TurnEnded, 0
		}
		return NotAdmitted, 0
	case e.state != Admitted:
		return NotAdmitted, 0
	case e.deadline <= now:
		return TurnEnded, 0
	}
	return MayHold, e.maxSeats
}
