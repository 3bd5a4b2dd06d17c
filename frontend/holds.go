package frontend

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// This file is the buyer's side of holds: the showtime's rules (lifetime,
// seats per hold, seats per client, extension limit, payment window) are
// applied here before a request reaches the shard. Buyers choose seats,
// never lifetimes.

var idemKeyRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// holdIDRe is what a hold id may look like on its way to the shard: a path
// segment that needs no escaping and cannot be "." or "..".
var holdIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// idempotencyKey scopes the browser's key to its session, or makes one.
func idempotencyKey(r *http.Request, holder, action string) (string, bool) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "fe:" + holder + ":" + action + ":" + randomHex(12), true
	}
	if !idemKeyRe.MatchString(k) {
		return "", false
	}
	return "fe:" + holder + ":" + action + ":" + k, true
}

type holdReq struct {
	Seats []string `json:"seats"`
	// TTLSeconds is accepted for old pages and ignored: a hold lives for
	// the showtime's holdTTL.
	TTLSeconds int `json:"ttlSeconds,omitempty"`
}

func ttlSeconds(d time.Duration) int64 { return int64(d / time.Second) }

func (s *Server) handleHold(w http.ResponseWriter, r *http.Request) {
	var req holdReq
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Seats) == 0 {
		writeErr(w, http.StatusBadRequest, string(shardapi.CodeInvalidRequest), "name at least one seat")
		return
	}
	if len(req.Seats) > s.cfg.MaxSeatsPerHolder {
		writeErr(w, http.StatusUnprocessableEntity, string(shardapi.CodeTooManySeats),
			fmt.Sprintf("a hold may name at most %d seats", s.cfg.MaxSeatsPerHolder))
		return
	}
	select {
	case <-s.hub.Loaded():
	default:
		writeErr(w, http.StatusServiceUnavailable, string(shardapi.CodeNotReady), "the seat map is not loaded yet; retry shortly")
		return
	}
	// With the waiting room on, only an admitted place holds, as itself.
	holder, maxSeats, err := s.admitted(w, r)
	if err != nil {
		return
	}
	if len(req.Seats) > maxSeats {
		writeErr(w, http.StatusUnprocessableEntity, "too_many_seats",
			fmt.Sprintf("your admission allows at most %d seats", maxSeats))
		return
	}
	for _, id := range req.Seats {
		if _, ok := s.hub.stateOf(id); !ok {
			writeJSON(w, http.StatusBadRequest, apiError{Error: string(shardapi.CodeUnknownSeat), Message: "no such seat", Seats: []string{id}})
			return
		}
	}
	key, ok := idempotencyKey(r, holder, "hold")
	if !ok {
		writeErr(w, http.StatusBadRequest, string(shardapi.CodeInvalidRequest), "Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : -")
		return
	}
	// Seats are budgeted per client address, not per session: a fresh
	// cookie is a fresh holder at the shard but the same client here.
	res := s.seatBudget.reserve(clientAddr(r, s.cfg.TrustedProxyHops), len(req.Seats))
	if !res.ok {
		s.m.refused.WithLabelValues("client_seats").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(res.wait.Seconds()+0.999))))
		writeErr(w, http.StatusTooManyRequests, "rate_limited", "too many seats held from your address recently; retry shortly")
		return
	}
	ttl := ttlSeconds(s.cfg.HoldTTL)
	body := (&shardapi.HoldRequest{Seats: req.Seats, Holder: holder, TTLSeconds: &ttl}).AppendJSON(nil)
	resp, err := s.shard.write(r.Context(), "hold",
		shardapi.BatchOp{Op: shardapi.BatchHold, Seats: req.Seats, Holder: holder, TTLSeconds: &ttl, IdempotencyKey: key},
		http.MethodPost, shardapi.PathHolds, body, key)
	if err != nil || resp.Status != http.StatusCreated {
		res.cancel()
		if !admissionRefused(w, resp, err) {
			s.shardAnswer(w, resp, err)
		}
		return
	}
	writeRaw(w, resp.Status, s.withHoldToken(resp.Body, holder))
}

// withHoldToken adds "holdToken" to a new hold: the proof of when the hold
// was made, which extending it requires.
func (s *Server) withHoldToken(body []byte, holder string) []byte {
	var m map[string]json.RawMessage
	var h struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &m) != nil || json.Unmarshal(body, &h) != nil || h.ID == "" {
		return body
	}
	tok, _ := json.Marshal(s.holdToken(s.sess.key, holder, h.ID, time.Now()))
	m["holdToken"] = tok
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// holdToken is "<created, unix milliseconds base 36>.<mac>", signed with the
// session key for one holder and hold.
func (s *Server) holdToken(key []byte, holder, holdID string, created time.Time) string {
	ts := strconv.FormatInt(created.UnixMilli(), 36)
	return ts + "." + holdTokenMAC(key, holder, holdID, ts)
}

func holdTokenMAC(key []byte, holder, holdID, ts string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("boxoffice-hold-v1\x00" + holder + "\x00" + holdID + "\x00" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// holdCreated checks a hold token and returns the hold's creation time.
func (s *Server) holdCreated(tok, holder, holdID string) (time.Time, bool) {
	ts, mac, ok := strings.Cut(tok, ".")
	ms, err := strconv.ParseInt(ts, 36, 64)
	if !ok || err != nil || len(ts) > 12 {
		return time.Time{}, false
	}
	for _, k := range [][]byte{s.sess.key, s.sess.prev} {
		if k != nil && hmac.Equal([]byte(mac), []byte(holdTokenMAC(k, holder, holdID, ts))) {
			return time.UnixMilli(ms), true
		}
	}
	return time.Time{}, false
}

// extendTTL is the ttl, in whole seconds, of an extension at now: a full
// holdTTL, but never past creation plus the longest hold lifetime. ok is
// false when it would not move the expiry by at least a second.
func extendTTL(now, created, expires time.Time, holdTTL, lifetime time.Duration) (time.Duration, bool) {
	ttl := min(holdTTL, created.Add(lifetime).Sub(now)).Truncate(time.Second)
	return ttl, ttl >= time.Second && now.Add(ttl).Sub(expires) >= time.Second
}

func (s *Server) handleExtend(w http.ResponseWriter, r *http.Request) {
	holder, id := holderOf(r), r.PathValue("id")
	var req struct {
		HoldToken string `json:"holdToken"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	h, _, ok := s.ownHold(w, r, holder, id)
	if !ok {
		return
	}
	created, ok := s.holdCreated(req.HoldToken, h.Holder, id)
	if !ok {
		writeErr(w, http.StatusBadRequest, string(shardapi.CodeInvalidRequest), "holdToken is missing or does not belong to this hold (it comes with the hold when it is made)")
		return
	}
	if h.State != shardapi.HoldHeld {
		writeErr(w, http.StatusConflict, "not_extendable", "only a hold that is still held can be extended; this one is "+h.State)
		return
	}
	now := time.Now()
	ttl, ok := extendTTL(now, created, h.ExpiresAt, s.cfg.HoldTTL, s.cfg.MaxHoldLifetime)
	if !ok {
		writeErr(w, http.StatusConflict, "extend_limit",
			fmt.Sprintf("this hold cannot be extended further: a hold lasts at most %v", s.cfg.MaxHoldLifetime))
		return
	}
	sec := ttlSeconds(ttl)
	body := (&shardapi.TTLRequest{TTLSeconds: &sec}).AppendJSON(nil)
	resp, err := s.shard.do(r.Context(), "extend", http.MethodPost, shardapi.HoldPath(url.PathEscape(id), "extend"), body, "")
	if !admissionRefused(w, resp, err) {
		s.shardAnswer(w, resp, err)
	}
}

// ownHold fetches a hold and checks that the caller's session holds it. A
// hold of another buyer answers exactly like a missing one.
func (s *Server) ownHold(w http.ResponseWriter, r *http.Request, holder, id string) (*shardapi.Hold, []byte, bool) {
	if !holdIDRe.MatchString(id) {
		writeErr(w, http.StatusNotFound, string(shardapi.CodeHoldNotFound), "no such hold")
		return nil, nil, false
	}
	resp, err := s.shard.write(r.Context(), "get_hold", shardapi.BatchOp{Op: shardapi.BatchGet, Hold: id},
		http.MethodGet, shardapi.HoldPath(url.PathEscape(id), ""), nil, "")
	if err != nil || resp.Status != http.StatusOK {
		s.shardAnswer(w, resp, err)
		return nil, nil, false
	}
	var h shardapi.Hold
	if err := json.Unmarshal(resp.Body, &h); err != nil {
		writeErr(w, http.StatusBadGateway, "bad_upstream", "unexpected answer from the shard")
		return nil, nil, false
	}
	if h.Holder != holder && !slices.Contains(s.holdOwners(r), h.Holder) {
		writeErr(w, http.StatusNotFound, string(shardapi.CodeHoldNotFound), "no such hold")
		return nil, nil, false
	}
	return &h, resp.Body, true
}

func (s *Server) handleHoldStatus(w http.ResponseWriter, r *http.Request) {
	if _, body, ok := s.ownHold(w, r, holderOf(r), r.PathValue("id")); ok {
		writeRaw(w, http.StatusOK, body)
	}
}

func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, _, ok := s.ownHold(w, r, holderOf(r), id); !ok {
		return
	}
	resp, err := s.shard.write(r.Context(), "release", shardapi.BatchOp{Op: shardapi.BatchRelease, Hold: id},
		http.MethodDelete, shardapi.HoldPath(url.PathEscape(id), ""), nil, "")
	s.shardAnswer(w, resp, err)
}

func (s *Server) handlePay(w http.ResponseWriter, r *http.Request) {
	holder := holderOf(r)
	id := r.PathValue("id")
	h, body, ok := s.ownHold(w, r, holder, id)
	if !ok {
		return
	}
	if s.cfg.DemoPayments {
		if h.State == shardapi.HoldSold {
			writeRaw(w, http.StatusOK, body)
			return
		}
		key, ok := idempotencyKey(r, h.Holder, "pay")
		if !ok {
			writeErr(w, http.StatusBadRequest, string(shardapi.CodeInvalidRequest), "bad Idempotency-Key")
			return
		}
		cb := (&shardapi.ConfirmRequest{OrderID: "demo-" + id}).AppendJSON(nil)
		resp, err := s.shard.write(r.Context(), "confirm", shardapi.BatchOp{Op: shardapi.BatchConfirm, Hold: id, OrderID: "demo-" + id, IdempotencyKey: key},
			http.MethodPost, shardapi.HoldPath(url.PathEscape(id), "confirm"), cb, key)
		s.shardAnswer(w, resp, err)
		return
	}
	// A real payment: park the hold as awaiting_payment for the showtime's
	// payment window and send the buyer to the payment service, which calls
	// back when done. Paying again does not restart the window.
	if h.State == shardapi.HoldHeld {
		sec := ttlSeconds(s.cfg.PaymentTTL)
		pb := (&shardapi.TTLRequest{TTLSeconds: &sec}).AppendJSON(nil)
		resp, err := s.shard.do(r.Context(), "await_payment", http.MethodPost, shardapi.HoldPath(url.PathEscape(id), "await-payment"), pb, "")
		if err != nil || resp.Status != http.StatusOK {
			s.shardAnswer(w, resp, err)
			return
		}
		body = resp.Body
	} else if h.State != shardapi.HoldAwaitingPayment {
		writeRaw(w, http.StatusOK, body)
		return
	}
	out := map[string]any{"hold": json.RawMessage(body)}
	if s.cfg.PaymentURL != "" {
		out["paymentUrl"] = s.cfg.PaymentURL + "?hold=" + url.QueryEscape(id)
	}
	writeJSON(w, http.StatusAccepted, out)
}
