package frontend

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// This file is the payment service's side: signed callbacks, and answers
// that say whether the outcome is final (stop retrying; for a payment that
// found no seat, refund) or worth a retry.

// PaymentCallback is what a payment service posts to /payments/callback.
type PaymentCallback struct {
	HoldID  string `json:"holdId"`
	OrderID string `json:"orderId"`
	Status  string `json:"status"` // "paid" or "failed"
}

// CallbackAnswer is the body of a non-2xx answer to a payment callback.
// Final means retrying cannot change the outcome; Action says what the
// payment service must do: "refund" (the money was taken and no seat
// was sold for it), "none", or "retry" (with a fresh signature).
type CallbackAnswer struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Final   bool   `json:"final"`
	Action  string `json:"action"`
	HoldID  string `json:"holdId,omitempty"`
	OrderID string `json:"orderId,omitempty"`
}

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
const SignatureHeader = "Boxoffice-Signature"

// SignPayment computes the SignatureHeader value for a callback body.
func SignPayment(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func verifyPayment(secret, body []byte, header string, now time.Time) bool {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false
	}
	want := SignPayment(secret, body, time.Unix(sec, 0))
	return hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig))
}

func callbackErr(w http.ResponseWriter, code int, a CallbackAnswer) {
	if !a.Final {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, code, a)
}

func (s *Server) handlePaymentCallback(w http.ResponseWriter, r *http.Request) {
	if s.paySecret == nil {
		callbackErr(w, http.StatusNotFound, CallbackAnswer{Error: "payments_disabled", Message: "no --payment-secret-file configured", Action: "retry"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		callbackErr(w, http.StatusRequestEntityTooLarge, CallbackAnswer{Error: string(shardapi.CodePayloadTooLarge), Message: "body too large", Final: true, Action: "none"})
		return
	}
	if !verifyPayment(s.paySecret, body, r.Header.Get(SignatureHeader), time.Now()) {
		callbackErr(w, http.StatusUnauthorized, CallbackAnswer{Error: "bad_signature", Action: "retry",
			Message: "missing, stale or wrong " + SignatureHeader + "; sign every attempt afresh with the shared secret"})
		return
	}
	var cb PaymentCallback
	if err := json.Unmarshal(body, &cb); err != nil || !holdIDRe.MatchString(cb.HoldID) {
		callbackErr(w, http.StatusBadRequest, CallbackAnswer{Error: string(shardapi.CodeInvalidRequest), Final: true, Action: "refund",
			Message: "body must be {\"holdId\",\"orderId\",\"status\"} with a valid holdId; no seat was sold"})
		return
	}
	id := url.PathEscape(cb.HoldID)
	switch cb.Status {
	case "paid":
		if !idemKeyRe.MatchString(cb.OrderID) {
			callbackErr(w, http.StatusBadRequest, CallbackAnswer{Error: string(shardapi.CodeInvalidRequest), Final: true, Action: "refund", HoldID: cb.HoldID,
				Message: "orderId must be 1-128 characters of A-Z a-z 0-9 . _ : -; no seat was sold"})
			return
		}
		cbody := (&shardapi.ConfirmRequest{OrderID: cb.OrderID}).AppendJSON(nil)
		key := "pay:" + cb.HoldID + ":" + cb.OrderID
		resp, err := s.shard.write(r.Context(), "confirm", shardapi.BatchOp{Op: shardapi.BatchConfirm, Hold: cb.HoldID, OrderID: cb.OrderID, IdempotencyKey: key},
			http.MethodPost, shardapi.HoldPath(id, "confirm"), cbody, key)
		s.callbackAnswer(w, cb, resp, err)
	case "failed":
		resp, err := s.shard.write(r.Context(), "release", shardapi.BatchOp{Op: shardapi.BatchRelease, Hold: cb.HoldID}, http.MethodDelete, shardapi.HoldPath(id, ""), nil, "")
		s.callbackAnswer(w, cb, resp, err)
	default:
		callbackErr(w, http.StatusBadRequest, CallbackAnswer{Error: string(shardapi.CodeInvalidRequest), Final: true, Action: "none", HoldID: cb.HoldID,
			Message: "status must be \"paid\" or \"failed\""})
	}
}

// callbackAnswer relays the shard's answer to a callback: 2xx as is, every
// other answer classified as final or retryable. A payment that found its
// hold expired (or gone, or sold to another order) is final and must be
// refunded; it is counted and logged so that nobody's money goes unnoticed.
func (s *Server) callbackAnswer(w http.ResponseWriter, cb PaymentCallback, resp *shardapi.Answer, err error) {
	if err == nil && resp.Status/100 == 2 {
		writeRaw(w, resp.Status, resp.Body)
		return
	}
	a := CallbackAnswer{HoldID: cb.HoldID, OrderID: cb.OrderID}
	code := http.StatusServiceUnavailable
	if err != nil || resp.Status >= 500 || resp.Status == http.StatusUnauthorized || resp.Status == http.StatusTooManyRequests {
		a.Error, a.Action = "shard_unavailable", "retry"
		a.Message = "the box office could not record this now; retry with the same body and a fresh signature"
		if err == nil && resp.Status == http.StatusUnauthorized {
			s.log.Error("shard refused our token; check --shard-token-file")
		}
		callbackErr(w, code, a)
		return
	}
	se := shardapi.DecodeError(resp.Status, resp.Body)
	code, a.Error, a.Final = resp.Status, string(se.Code), true
	if a.Error == "" {
		a.Error = "rejected"
	}
	if cb.Status == "failed" {
		a.Action = "none"
		a.Message = "the hold was not released: " + se.Message
		callbackErr(w, code, a)
		return
	}
	a.Action = "refund"
	switch a.Error {
	case string(shardapi.CodeHoldExpired):
		a.Message = "the payment arrived after the hold expired; its seats were not sold to this order: refund the buyer"
	case string(shardapi.CodeHoldSold):
		a.Message = "the hold is already sold to another order: refund this payment"
	case string(shardapi.CodeHoldNotFound):
		a.Message = "no such hold: refund this payment"
	default:
		a.Message = "the shard refused the confirmation (" + se.Message + "): refund this payment"
	}
	s.notePaidWithoutSeat(cb, a.Error)
	callbackErr(w, code, a)
}

// notePaidWithoutSeat counts and logs a paid order that got no seat, once
// per hold and order on this pod (the payment service may deliver a callback
// more than once).
func (s *Server) notePaidWithoutSeat(cb PaymentCallback, reason string) {
	if !s.lateSeen.first(cb.HoldID + "\x00" + cb.OrderID) {
		return
	}
	if reason == string(shardapi.CodeHoldExpired) {
		s.m.paidAfterExpiry.Inc()
	}
	s.m.paidWithoutSeat.WithLabelValues(reason).Inc()
	s.log.Warn("payment arrived for a hold that cannot be sold; the payment service must refund it",
		"hold", cb.HoldID, "order", cb.OrderID, "reason", reason, "showtime", s.cfg.Showtime)
}

// seenSet remembers recent keys, at most max; when full it starts over.
type seenSet struct {
	mu  sync.Mutex
	max int
	m   map[string]struct{}
}

func (s *seenSet) first(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return false
	}
	if s.m == nil || len(s.m) >= s.max {
		s.m = make(map[string]struct{}, 64)
	}
	s.m[k] = struct{}{}
	return true
}
