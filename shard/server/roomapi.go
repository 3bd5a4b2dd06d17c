package server

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
	"boxoffice.dev/boxoffice/shard/waitroom"
)

// The waiting room's endpoints (contract v1 addition "room"; see
// shard/README.md). Writes go to the leader (421 not_leader elsewhere), like
// holds; the room summary is read from the published view on any member.

func (s *Server) registerRoom(v1 func(pattern, route string, h func(http.ResponseWriter, *http.Request))) {
	v1("PUT /v1/room", "room_configure", s.roomConfigure)
	v1("DELETE /v1/room", "room_switch_off", s.roomSwitchOff)
	v1("POST /v1/room/join", "room_join", s.roomJoin)
	v1("GET /v1/room/places/{id}", "room_place", s.roomPlace(0))
	v1("POST /v1/room/places/{id}/touch", "room_touch", s.roomPlace(waitroom.OpTouch))
	v1("DELETE /v1/room/places/{id}", "room_leave", s.roomPlace(waitroom.OpLeave))
	v1("GET /v1/room/status", "room_status", s.roomStatus)
}

func (s *Server) roomConfigure(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Room != nil {
		writeError(w, shardapi.CodeRoomConfiguredByFlags,
			"this shard's waiting room is set by its flags (the Showtime's spec.sales.waitingRoom); change it there", nil)
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	if !readBody(w, r, buf) {
		return
	}
	var body shardapi.RoomConfigRequest
	if e := decodeJSON(buf.Bytes(), &body); e != nil {
		writeReqError(w, e)
		return
	}
	switch {
	case body.MaxActiveBuyers < 1 || body.MaxActiveBuyers > 1_000_000:
		writeReqError(w, invalid("maxActiveBuyers must be between 1 and 1000000"))
		return
	case body.IdleTimeoutSeconds < 1:
		writeReqError(w, invalid("idleTimeoutSeconds must be at least 1"))
		return
	case body.PreQueueSeconds < 0:
		writeReqError(w, invalid("preQueueSeconds must not be negative"))
		return
	case body.OpensAt.IsZero():
		writeReqError(w, invalid("opensAt is required (RFC 3339)"))
		return
	}
	req := getRequest()
	defer putRequest(req)
	req.room = true
	req.rcmd = waitroom.Command{Op: waitroom.OpConfigure, Config: s.roomConfig(&RoomConfig{MaxActive: body.MaxActiveBuyers,
		IdleTimeout: time.Duration(body.IdleTimeoutSeconds) * time.Second,
		PreQueue:    time.Duration(body.PreQueueSeconds) * time.Second, OpensAt: body.OpensAt})}
	s.roomSubmit(w, req)
}

// roomSwitchOff switches a room configured by PUT off: every place ends and
// holds are no longer gated. A room kept by flags is switched off by
// starting the shard without them (the Showtime's room switched off).
func (s *Server) roomSwitchOff(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Room != nil {
		writeError(w, shardapi.CodeRoomConfiguredByFlags,
			"this shard's waiting room is set by its flags (the Showtime's spec.sales.waitingRoom); switch it off there", nil)
		return
	}
	req := getRequest()
	defer putRequest(req)
	req.room = true
	req.rcmd = waitroom.Command{Op: waitroom.OpSwitchOff}
	s.roomSubmit(w, req)
}

func (s *Server) roomJoin(w http.ResponseWriter, r *http.Request) {
	buf := getBuf()
	defer putBuf(buf)
	if !readBody(w, r, buf) {
		return
	}
	var body shardapi.JoinRequest
	if e := decodeJSON(buf.Bytes(), &body); e != nil {
		writeReqError(w, e)
		return
	}
	req := getRequest()
	defer putRequest(req)
	req.room = true
	req.rcmd.Op = waitroom.OpJoin
	if n, err := hex.Decode(req.rcmd.Key[:], []byte(body.Key)); err != nil || n != 16 || len(body.Key) != 32 ||
		req.rcmd.Key == [16]byte{} {
		writeReqError(w, invalid("key must be 32 hexadecimal digits, not all zero"))
		return
	}
	s.roomSubmit(w, req)
}

// roomPlace serves a place's lookup (op 0), touch and leave.
func (s *Server) roomPlace(op waitroom.Op) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil || id == 0 {
			writeError(w, shardapi.CodePlaceNotFound, "no such place", nil)
			return
		}
		req := getRequest()
		defer putRequest(req)
		req.room = true
		req.rcmd = waitroom.Command{Op: op, ID: id, Holding: -1, Reason: waitroom.ReasonLeft}
		s.roomSubmit(w, req)
	}
}

func (s *Server) roomSubmit(w http.ResponseWriter, req *request) {
	err := s.submit(req)
	answerBy(w)
	if err != nil {
		writeSubmitError(w, err)
		return
	}
	switch req.rres.Code {
	case waitroom.OK:
	case waitroom.ErrNotConfigured:
		if s.cfg.Room != nil {
			// The flags say there is a room: the leader configures it at
			// its next tick (after a start or an election).
			w.Header().Set("Retry-After", "1")
			writeError(w, shardapi.CodeNotReady, "the waiting room is being configured; retry", nil)
			return
		}
		writeError(w, shardapi.CodeWaitingRoomNotConfigured, "this showtime has no waiting room", nil)
		return
	case waitroom.ErrTooEarly:
		writeError(w, shardapi.CodeWaitingRoomNotOpen, "the waiting room is not open yet", nil)
		return
	case waitroom.ErrNotFound:
		writeError(w, shardapi.CodePlaceNotFound, "no such place: it ended, or never was", nil)
		return
	case waitroom.ErrSoldOut:
		writeError(w, shardapi.CodeSoldOut, "every seat is sold; the waiting room is closed", nil)
		return
	default:
		writeError(w, shardapi.CodeInvalidRequest, "invalid waiting-room request", nil)
		return
	}
	switch {
	case req.found:
		writeJSON(w, http.StatusOK, appendPlace(nil, &req.place))
	case req.rcmd.Op == waitroom.OpConfigure:
		writeJSON(w, http.StatusOK, appendRoomConfig(nil, req.rcmd.Config))
	case req.rcmd.Op == waitroom.OpSwitchOff:
		writeJSON(w, http.StatusOK, []byte(`{"configured":false}`))
	default:
		writeJSON(w, http.StatusOK, []byte("{}"))
	}
}

// roomStatus answers the published summary (any member).
func (s *Server) roomStatus(w http.ResponseWriter, _ *http.Request) {
	v := s.roomView.Load()
	if v == nil {
		writeJSON(w, http.StatusOK, []byte(`{"configured":false}`))
		return
	}
	writeJSON(w, http.StatusOK, v.json)
}

// appendRoomConfig renders the configuration in force after PUT /v1/room.
func appendRoomConfig(b []byte, c waitroom.Config) []byte {
	b = append(b, `{"configured":true,"maxActiveBuyers":`...)
	b = strconv.AppendInt(b, int64(c.MaxActive), 10)
	b = append(b, `,"idleTimeoutSeconds":`...)
	b = appendDur(b, time.Duration(c.IdleTimeout))
	b = append(b, `,"maxSeats":`...)
	b = strconv.AppendInt(b, int64(c.MaxSeats), 10)
	b = append(b, `,"preQueueAt":`...)
	b = appendTime(b, c.PreQueueAt)
	b = append(b, `,"opensAt":`...)
	b = appendTime(b, c.OpensAt)
	return append(b, '}')
}
