package frontend

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"boxoffice.dev/boxoffice/internal/ticket"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// The waiting room, buyer's side (docs/waiting-room.md). The queue lives in
// the shard; a pod keeps nothing about a buyer. What a buyer carries are two
// signed tickets (package internal/ticket) in cookies:
//
//   - boxoffice_queue: the buyer's place id. With it any pod answers the
//     same place (POST /api/room reads it from the shard's leader).
//   - boxoffice_admission: the place and its seat limit, issued once the
//     shard says the place is admitted. POST /api/holds requires it while the
//     room is on, and asks the shard whether the place is still admitted
//     before holding; the hold's holder is the place ("w:<place>"), so the
//     shard's per-holder limit is per place: a new cookie is a new place at
//     the back of the line, not more seats.
//
// Ticket keys are derived from the session keys (HKDF-SHA256 with a label of
// their own), so every pod that shares the session Secret shares them and a
// session key rotation rotates them too.

// Cookie names of the waiting room's tickets.
const (
	QueueCookie     = "boxoffice_queue"
	AdmissionCookie = "boxoffice_admission"
)

const roomKeyLabel = "boxoffice.dev/waiting-room-ticket-key/v1"

// roomKeys derives the ticket keys from the session keys.
func roomKeys(sessionKey, previous []byte) (*ticket.Keys, error) {
	cur, err := hkdf.Key(sha256.New, sessionKey, nil, roomKeyLabel, 32)
	if err != nil {
		return nil, err
	}
	var prev []byte
	if previous != nil {
		if prev, err = hkdf.Key(sha256.New, previous, nil, roomKeyLabel, 32); err != nil {
			return nil, err
		}
	}
	return ticket.NewKeys(cur, prev)
}

// roomOn says whether the shard runs a waiting room for this showtime.
func (s *Server) roomOn() bool {
	sum, _ := s.hub.roomState()
	return sum.Configured
}

// setTicket signs t and sets it as cookie name; it lives as long as a session.
func (s *Server) setTicket(w http.ResponseWriter, name string, t ticket.Ticket) error {
	t.Showtime, t.IssuedAt = s.cfg.Showtime, time.Now()
	t.ExpiresAt = t.IssuedAt.Add(s.cfg.SessionMaxAge)
	text, err := s.roomKeys.Sign(t)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: text, Path: "/", MaxAge: int(s.cfg.SessionMaxAge / time.Second),
		HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *Server) clearTicket(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode})
}

// ticketOf gives the request's valid ticket of kind from cookie name.
func (s *Server) ticketOf(r *http.Request, name string, kind ticket.Kind) (ticket.Ticket, bool) {
	for _, c := range r.CookiesNamed(name) {
		if t, err := s.roomKeys.Verify(c.Value, kind, s.cfg.Showtime, time.Now()); err == nil && t.Place != 0 {
			return t, true
		}
	}
	return ticket.Ticket{}, false
}

// shardPlace is a place as the shard answers it (shardapi.Place), decoded
// so that every field the shard sent is relayed as it is (a waiting place's
// "ahead": 0 included): the buyer API's RoomPlace.
type shardPlace struct {
	Place        uint64   `json:"place"`
	State        string   `json:"state"`
	Slot         *int     `json:"slot,omitempty"`
	Ahead        *int     `json:"ahead,omitempty"`
	PreQueue     *int     `json:"preQueue,omitempty"`
	WaitSeconds  *float64 `json:"waitSeconds,omitempty"`
	Measured     *bool    `json:"measured,omitempty"`
	MaxSeats     *int32   `json:"maxSeats,omitempty"`
	IdleDeadline *string  `json:"idleDeadline,omitempty"`
}

// roomAnswer is the body of POST /api/room.
type roomAnswer struct {
	Enabled bool `json:"enabled"`
	*shardPlace
	Show *ShowInfo       `json:"show,omitempty"`
	Room json.RawMessage `json:"room,omitempty"`
}

const msgNotAdmitted = "You are not admitted yet; your place in line is kept."

const msgTurnEnded = "Your turn to choose seats has ended (you left, bought, or were idle too long). Join the line again to choose more."

// admissionRefused answers the shard's own refusal of a hold or an extension
// under the waiting room's rule (decided with the hold itself: a turn that
// idled out after admitted checked it, or a room this pod has not heard of
// yet) as the buyer's errors of the same name, and reports whether it did.
func admissionRefused(w http.ResponseWriter, resp *shardapi.Answer, err error) bool {
	if err != nil || resp == nil || (resp.Status != http.StatusForbidden && resp.Status != http.StatusConflict) {
		return false
	}
	switch shardapi.DecodeError(resp.Status, resp.Body).Code {
	case shardapi.CodeAdmissionRequired:
		writeErr(w, http.StatusForbidden, string(shardapi.CodeAdmissionRequired), msgNotAdmitted)
	case shardapi.CodeAdmissionEnded:
		writeErr(w, http.StatusConflict, string(shardapi.CodeAdmissionEnded), msgTurnEnded)
	default:
		return false
	}
	return true
}

// placeCall asks the shard about a place (op: room_place, room_touch or
// room_leave).
func (s *Server) placeCall(r *http.Request, op, method string, place uint64, action string) (*shardapi.Answer, error) {
	return s.shard.do(r.Context(), op, method, shardapi.RoomPlacePath(place, action), nil, "")
}

// handleRoomJoin is POST /api/room: "I am here". Without a queue ticket (or
// with one whose place ended) it joins the line and sets the ticket; with
// one it answers the place, touching it when admitted; an admitted place
// also gets its admission ticket.
func (s *Server) handleRoomJoin(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !decodeBody(w, r, &body) {
		return
	}
	if !s.roomOn() {
		writeJSON(w, http.StatusOK, roomAnswer{Enabled: false})
		return
	}
	var resp *shardapi.Answer
	var err error
	if qt, ok := s.ticketOf(r, QueueCookie, ticket.Queue); ok {
		resp, err = s.placeCall(r, "room_place", http.MethodGet, qt.Place, "")
		if err == nil && resp.Status == http.StatusOK && placeState(resp.Body) == shardapi.PlaceAdmitted {
			resp, err = s.placeCall(r, "room_touch", http.MethodPost, qt.Place, "touch")
		}
		if err == nil && resp.Status == http.StatusNotFound {
			// The place ended (left, bought, idled out): a new one, at the
			// back. An old admission ticket stays until a new admission
			// replaces it: it proves the holds it made, to pay them.
			resp = nil
		}
	}
	if err == nil && resp == nil {
		key, _ := json.Marshal(shardapi.JoinRequest{Key: randomHex(16)})
		resp, err = s.shard.do(r.Context(), "room_join", http.MethodPost, shardapi.PathRoomJoin, key, "")
	}
	if err != nil || resp.Status != http.StatusOK {
		if err == nil && resp.Status == http.StatusGone {
			s.clearTicket(w, QueueCookie)
			s.clearTicket(w, AdmissionCookie)
		}
		s.shardAnswer(w, resp, err)
		return
	}
	var p shardPlace
	if json.Unmarshal(resp.Body, &p) != nil || p.Place == 0 {
		writeErr(w, http.StatusBadGateway, "bad_upstream", "unexpected answer from the box office")
		return
	}
	if s.setTicket(w, QueueCookie, ticket.Ticket{Kind: ticket.Queue, Place: p.Place}) != nil {
		writeErr(w, http.StatusInternalServerError, "internal", "could not sign the queue ticket")
		return
	}
	if p.State == shardapi.PlaceAdmitted && p.MaxSeats != nil {
		_ = s.setTicket(w, AdmissionCookie, ticket.Ticket{Kind: ticket.Admission, Place: p.Place, MaxSeats: *p.MaxSeats})
	}
	show := s.show.get()
	_, raw := s.hub.roomState()
	writeJSON(w, http.StatusOK, roomAnswer{Enabled: true, shardPlace: &p, Show: &show, Room: raw})
}

func placeState(body []byte) string {
	var p struct {
		State string `json:"state"`
	}
	_ = json.Unmarshal(body, &p)
	return p.State
}

// handleRoomLeave is DELETE /api/room: the buyer gives up the place (which
// admits the next) and the queue ticket.
func (s *Server) handleRoomLeave(w http.ResponseWriter, r *http.Request) {
	if qt, ok := s.ticketOf(r, QueueCookie, ticket.Queue); ok && s.roomOn() {
		resp, err := s.placeCall(r, "room_leave", http.MethodDelete, qt.Place, "")
		if err != nil || (resp.Status != http.StatusOK && resp.Status != http.StatusNotFound && resp.Status != http.StatusGone) {
			s.shardAnswer(w, resp, err)
			return
		}
	}
	// The admission ticket stays: it still proves the place's holds, which
	// the buyer may pay or release; new holds are refused (the place ended).
	s.clearTicket(w, QueueCookie)
	writeJSON(w, http.StatusOK, map[string]bool{"enabled": s.roomOn()})
}

// errAnswered: the admission check wrote the answer.
var errAnswered = errors.New("answered")

// admitted checks, while the room is on, that the request carries an
// admission ticket whose place the shard says is admitted now; it gives the
// holder and seat limit to hold with. Without a room: the session holder and
// --max-seats-per-holder.
func (s *Server) admitted(w http.ResponseWriter, r *http.Request) (holder string, maxSeats int, err error) {
	if !s.roomOn() {
		return holderOf(r), s.cfg.MaxSeatsPerHolder, nil
	}
	at, ok := s.ticketOf(r, AdmissionCookie, ticket.Admission)
	if !ok {
		writeErr(w, http.StatusForbidden, string(shardapi.CodeAdmissionRequired), msgNotAdmitted)
		return "", 0, errAnswered
	}
	resp, err := s.placeCall(r, "room_place", http.MethodGet, at.Place, "")
	switch {
	case err != nil:
		s.shardAnswer(w, resp, err)
		return "", 0, errAnswered
	case resp.Status == http.StatusNotFound, resp.Status == http.StatusOK && placeState(resp.Body) != shardapi.PlaceAdmitted:
		// The ticket stays: it still proves the place's holds (to pay them).
		writeErr(w, http.StatusConflict, string(shardapi.CodeAdmissionEnded), msgTurnEnded)
		return "", 0, errAnswered
	case resp.Status != http.StatusOK:
		s.shardAnswer(w, resp, err)
		return "", 0, errAnswered
	}
	return shardapi.AdmissionHolder(at.Place), min(int(at.MaxSeats), s.cfg.MaxSeatsPerHolder), nil
}

// holdOwners are the holders whose holds the caller may read, pay and
// release: the session, and while the room is on the admission's place (an
// admission ticket proves the place even after the admission ended, so a
// buyer can still pay and see what they bought).
func (s *Server) holdOwners(r *http.Request) []string {
	owners := []string{holderOf(r)}
	for _, c := range r.CookiesNamed(AdmissionCookie) {
		t, err := s.roomKeys.Verify(c.Value, ticket.Admission, s.cfg.Showtime, time.Now())
		if (err == nil || errors.Is(err, ticket.ErrExpired)) && t.Place != 0 {
			owners = append(owners, shardapi.AdmissionHolder(t.Place))
		}
	}
	return owners
}
