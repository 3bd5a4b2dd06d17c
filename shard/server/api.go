package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
	"boxoffice.dev/boxoffice/shard/wal"
)

// Limits on what a request may carry (the contract's).
const (
	MaxHolderLen         = shardapi.MaxHolderLen
	MaxOrderIDLen        = shardapi.MaxOrderIDLen
	MaxIdempotencyKeyLen = shardapi.MaxIdempotencyKeyLen
)

// Handler serves the shard contract.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, why := s.readiness()
		if ok && s.node != nil && !s.node.caughtUp() {
			ok, why = false, "cluster member: no leader known, joining, or behind the committed log"
		}
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: "+why+"\n")
			return
		}
		io.WriteString(w, "ok\n")
		if s.lowSpace.Load() {
			io.WriteString(w, "warning: the data volume is low on space ("+strconv.FormatInt(s.freeBytes.Load(), 10)+
				" bytes free): new log segments are not reserved; grow the volume\n")
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{Registry: s.met.reg}))
	v1 := func(pattern, route string, h func(http.ResponseWriter, *http.Request)) {
		obs := s.met.latency.WithLabelValues(route)
		// Routes answered by the writer wait for the disk: they are refused
		// while it is stalled or full. Seats, events and status read the
		// durable view and stay available.
		writer := route != "seats" && route != "events" && route != "status" && route != "room_status"
		limit := s.cfg.MaxBodyBytes
		if route == "batch" {
			limit = shardapi.MaxBatchBytes
		}
		mux.Handle(pattern, s.guard(obs, s.met.codeCounters(route), route == "events", writer, limit, h))
	}
	v1("GET /v1/seats", "seats", s.getSeats)
	v1("POST /v1/holds", "hold", s.postHold)
	v1("GET /v1/holds/{id}", "get_hold", s.holdOp(seats.OpGet))
	v1("POST /v1/holds/{id}/extend", "extend", s.holdOp(seats.OpExtend))
	v1("POST /v1/holds/{id}/await-payment", "await_payment", s.holdOp(seats.OpAwaitPayment))
	v1("POST /v1/holds/{id}/confirm", "confirm", s.holdOp(seats.OpConfirm))
	v1("DELETE /v1/holds/{id}", "release", s.holdOp(seats.OpRelease))
	v1("GET /v1/events", "events", s.events)
	v1("GET /v1/status", "status", s.status)
	s.registerRoom(v1)
	v1("POST /v2/batch", "batch", s.postBatch) // shardapi.PathBatch; contract v3 (docs/api/shard-batch.openapi.yaml)
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, shardapi.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
	}
	mux.HandleFunc("/v1/", notFound)
	mux.HandleFunc("/v2/", notFound)
	// /v1/* and /v2/* need the token whatever the method or path (also for
	// 404 and 405).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/v2/")) && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="boxoffice-shard"`)
			writeError(w, shardapi.CodeUnauthorized, "a valid bearer token is required", nil)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool { return bearerOK(r, s.cfg.Token) }

// guard checks readiness, limits the body and observes latency (the token is
// checked before routing).
func (s *Server) guard(obs prometheus.Observer, codes *[6]prometheus.Counter, stream, writer bool, limit int64, h func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		if !s.ready.Load() {
			w.Header().Set("Retry-After", "1")
			writeError(w, shardapi.CodeNotReady, "the shard is starting or stopping; retry", nil)
			codes[5].Inc()
			return
		}
		if writer && (s.fullSpace.Load() || s.writeStart.Load() != 0) {
			if ok, why := s.readiness(); !ok {
				w.Header().Set("Retry-After", "1")
				writeError(w, shardapi.CodeNotReady, why+"; retry", nil)
				codes[5].Inc()
				return
			}
		}
		if r.ContentLength < 0 || r.ContentLength > limit {
			// A body of known length within the limit cannot exceed it
			// (net/http reads no further than Content-Length): only the
			// others need the limiting reader and its allocation.
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if stream {
			// The stream keeps the plain writer: it needs http.Flusher.
			codes[2].Inc()
			h(w, r)
			return
		}
		cw := codeWriters.Get().(*codeWriter)
		cw.ResponseWriter, cw.code = w, http.StatusOK
		h(cw, r)
		obs.Observe(time.Since(t0).Seconds())
		if c := cw.code / 100; c >= 1 && c <= 5 {
			codes[c].Inc()
		}
		// Handlers keep no reference to their writer once they return.
		cw.ResponseWriter = nil
		codeWriters.Put(cw)
	})
}

var codeWriters = sync.Pool{New: func() any { return new(codeWriter) }}

// codeWriter remembers the status code of an answer, for requests_total.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *codeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// answerBy gives the answer of a write that waited for the disk the whole
// WriteTimeout from now: the server's write deadline runs from when the
// request was read, and a commit slower than that would otherwise have its
// true answer dropped after it was written. A client that gave up learns the
// outcome by retrying with its Idempotency-Key (holds, confirms) or reading
// the hold.
func answerBy(w http.ResponseWriter) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(WriteTimeout))
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 256<<10 {
		bufPool.Put(b)
	}
}

// jsonContentType is shared by every answer (never modified), which saves an
// allocation per answer over Header.Set.
var jsonContentType = []string{"application/json"}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if len(body) > 2048 {
		// net/http sets the length by itself for small answers.
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	w.Write(body)
}

// writeError answers an error of the contract, with the code's status.
func writeError(w http.ResponseWriter, code shardapi.Code, msg string, seatIDs []string) {
	writeErrorBody(w, &shardapi.Error{Code: code, Message: msg, Seats: seatIDs})
}

func writeErrorBody(w http.ResponseWriter, e *shardapi.Error) {
	b := getBuf()
	out := e.AppendJSON(b.AvailableBuffer())
	status := e.Code.HTTPStatus()
	if status == 0 {
		status = http.StatusInternalServerError // not a code of the contract: a bug
	}
	writeJSON(w, status, out)
	b.Write(out)
	putBuf(b)
}

// readBody reads the body; false means an error answer was written.
func readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) bool {
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, shardapi.CodePayloadTooLarge,
				"the body is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes", nil)
			return false
		}
		writeError(w, shardapi.CodeInvalidRequest, "reading the body: "+err.Error(), nil)
		return false
	}
	return true
}

// RequestError is a request that breaks the contract's shape rules.
type RequestError struct {
	Status int // Code.HTTPStatus()
	Code   shardapi.Code
	Msg    string
	Seats  []string
}

func (e *RequestError) Error() string { return string(e.Code) + ": " + e.Msg }

func invalid(msg string) *RequestError {
	return &RequestError{Status: shardapi.CodeInvalidRequest.HTTPStatus(), Code: shardapi.CodeInvalidRequest, Msg: msg}
}

// decodeJSON decodes an optional JSON object body (empty means {}).
func decodeJSON(body []byte, v any) *RequestError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return invalid("the body is not valid JSON for this request: " + err.Error())
	}
	return nil
}

// resolveTTL resolves an optional ttlSeconds in nanoseconds: absent gives
// def, capped by max; zero or negative gives 0, which the seat rules refuse.
func resolveTTL(sec *int64, def, max time.Duration) int64 {
	switch {
	case sec == nil:
		return int64(def)
	case *sec <= 0:
		return 0
	case *sec >= int64(max/time.Second):
		return int64(max)
	}
	return *sec * int64(time.Second)
}

// ttl resolves the ttl of an extend or await-payment.
func ttl(sec *int64, def, max time.Duration) (int64, *RequestError) {
	t := resolveTTL(sec, def, max)
	if t <= 0 {
		return 0, invalid(seats.ErrBadTTL.Error())
	}
	return t, nil
}

// invalidHold answers a hold that breaks the seat rules' shape.
func invalidHold(err error, ids []string) *RequestError {
	var dup *seats.DuplicateSeatError
	if errors.As(err, &dup) {
		return invalid("seat " + strconv.Quote(ids[dup.Index]) + " is named twice")
	}
	return invalid(err.Error())
}

// DecodeHold turns a hold body into a command (seats resolved, shape
// validated). It is what the handler runs on untrusted bytes.
func DecodeHold(body []byte, ix *seats.Index, holdTTL, maxTTL time.Duration, maxSeats int, c *seats.Command) *RequestError {
	var req shardapi.HoldRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("a body is required")
	}
	if e := decodeJSON(body, &req); e != nil {
		return e
	}
	return HoldCommand(&req, ix, holdTTL, maxTTL, maxSeats, c)
}

// HoldCommand validates a decoded hold request and turns it into a command
// (POST /v1/holds and a batch's hold alike, so both fingerprint a request
// the same way).
func HoldCommand(req *shardapi.HoldRequest, ix *seats.Index, holdTTL, maxTTL time.Duration, maxSeats int, c *seats.Command) *RequestError {
	// The seat rules' own check, on the ids as given: a seat named twice
	// is invalid whether or not the map knows it.
	t := resolveTTL(req.TTLSeconds, holdTTL, maxTTL)
	if err := seats.ValidateHold(req.Holder, req.Seats, t); err != nil {
		return invalidHold(err, req.Seats)
	}
	if len(req.Holder) > MaxHolderLen {
		return invalid("holder is longer than " + strconv.Itoa(MaxHolderLen) + " bytes")
	}
	if len(req.Seats) > maxSeats {
		return &RequestError{Status: shardapi.CodeTooManySeats.HTTPStatus(), Code: shardapi.CodeTooManySeats,
			Msg: "a holder may hold at most " + strconv.Itoa(maxSeats) + " seats"}
	}
	var unknown []string
	c.Seats = c.Seats[:0]
	for _, id := range req.Seats {
		x, ok := ix.Lookup(id)
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		c.Seats = append(c.Seats, x)
	}
	if unknown != nil {
		return &RequestError{Status: shardapi.CodeUnknownSeat.HTTPStatus(), Code: shardapi.CodeUnknownSeat, Msg: "no such seat in this showtime's map", Seats: unknown}
	}
	c.Op = seats.OpHold
	c.Holder = req.Holder
	c.TTL = t
	c.MaxSeats = int32(maxSeats)
	// The fingerprint covers the request as given (ttl as written or absent).
	var scratch [512]byte
	fp := append(scratch[:0], "hold\x00"...)
	fp = append(fp, req.Holder...)
	if req.TTLSeconds == nil {
		fp = append(fp, "\x00-"...)
	} else {
		fp = append(fp, 0)
		fp = strconv.AppendInt(fp, *req.TTLSeconds, 10)
	}
	for _, id := range req.Seats {
		fp = append(fp, 0)
		fp = append(fp, id...)
	}
	sum := sha256.Sum256(fp)
	copy(c.Fingerprint[:], sum[:])
	return nil
}

// keyMismatch answers a request that could not be decoded (e, a 400) whose
// Idempotency-Key was already used, necessarily with another body: 422
// idempotency_mismatch, as the contract says for any other body.
func (s *Server) keyMismatch(r *http.Request, op seats.Op, e *RequestError) *RequestError {
	return s.keyMismatchOf(r.Header.Get(shardapi.HeaderIdempotencyKey), op, e)
}

// keyMismatchOf is keyMismatch for the key k (a batch operation's).
func (s *Server) keyMismatchOf(k string, op seats.Op, e *RequestError) *RequestError {
	if e.Status != http.StatusBadRequest || k == "" || len(k) > MaxIdempotencyKeyLen {
		return e
	}
	q := getRequest()
	defer putRequest(q)
	q.cmd.Op, q.cmd.KeyUsedBy, q.cmd.IdempotencyKey = seats.OpGet, op, k
	if s.submit(q) != nil || q.res.Code != seats.ErrIdempotencyMismatch {
		return e
	}
	return &RequestError{Status: shardapi.CodeIdempotencyMismatch.HTTPStatus(), Code: shardapi.CodeIdempotencyMismatch,
		Msg: "this Idempotency-Key was used with another request"}
}

func idempotencyKey(r *http.Request) (string, *RequestError) {
	k := r.Header.Get(shardapi.HeaderIdempotencyKey)
	if len(k) > MaxIdempotencyKeyLen {
		return "", invalid("Idempotency-Key is longer than " + strconv.Itoa(MaxIdempotencyKeyLen) + " bytes")
	}
	return k, nil
}

func writeReqError(w http.ResponseWriter, e *RequestError) {
	writeError(w, e.Code, e.Msg, e.Seats)
}

func (s *Server) postHold(w http.ResponseWriter, r *http.Request) {
	buf := getBuf()
	defer putBuf(buf)
	if !readBody(w, r, buf) {
		return
	}
	req := getRequest()
	defer putRequest(req)
	if e := DecodeHold(buf.Bytes(), s.ix, s.cfg.HoldTTL, s.cfg.MaxHoldTTL, s.cfg.MaxSeatsPerHolder, &req.cmd); e != nil {
		e = s.keyMismatch(r, seats.OpHold, e)
		s.met.holdResult[codeOf(e.Code)].Inc()
		writeReqError(w, e)
		return
	}
	k, e := idempotencyKey(r)
	if e != nil {
		writeReqError(w, e)
		return
	}
	req.cmd.IdempotencyKey = k
	err := s.submit(req)
	answerBy(w)
	if err != nil {
		writeSubmitError(w, err)
		return
	}
	if req.res.Replayed {
		s.met.holdReplay.Inc()
	} else {
		s.met.holdResult[req.res.Code].Inc()
	}
	s.answer(w, buf, req)
}

// answer writes a machine result.
func (s *Server) answer(w http.ResponseWriter, buf *bytes.Buffer, req *request) {
	status, out := s.renderResult(buf.AvailableBuffer()[:0], req)
	writeJSON(w, status, out)
	buf.Write(out)
}

// renderResult appends the JSON answer of a machine result to b and
// returns its status.
func (s *Server) renderResult(b []byte, req *request) (int, []byte) {
	res := &req.res
	if res.Code == seats.OK {
		status := http.StatusOK
		if res.Created {
			status = http.StatusCreated
		}
		return status, appendHold(b, s.ix, &res.Hold)
	}
	var ids []string
	for _, x := range res.Seats {
		ids = append(ids, s.ix.ID(x))
	}
	msg := ""
	switch res.Code {
	case seats.ErrUnavailable:
		msg = "some seats are not free; nothing was held"
	case seats.ErrExpired:
		msg = "the hold has expired or was released"
	case seats.ErrSold:
		msg = "the hold is sold"
		if req.cmd.Op == seats.OpConfirm {
			msg = "the hold is already sold with another order id"
		}
	case seats.ErrNotFound:
		msg = "no such hold"
	case seats.ErrTooMany:
		msg = "the holder's active holds would exceed the per-holder seat limit; nothing was held"
	case seats.ErrIdempotencyMismatch:
		msg = "this Idempotency-Key was used with another request"
	case seats.ErrInvalid:
		msg = "invalid request"
	case seats.ErrUnknownSeat:
		msg = "no such seat"
	case seats.ErrAdmissionRequired:
		msg = "the waiting room is on: only an admitted place (holder w:<place>) may hold"
	case seats.ErrAdmissionEnded:
		msg = "this place's turn in the waiting room has ended"
	}
	// The machine's codes are the contract's (shardapi's tests hold them to it).
	e := shardapi.Error{Code: shardapi.Code(res.Code.String()), Message: msg, Seats: ids}
	return e.Code.HTTPStatus(), e.AppendJSON(b)
}

// holdOp serves the per-hold endpoints.
func (s *Server) holdOp(op seats.Op) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		buf := getBuf()
		defer putBuf(buf)
		if !readBody(w, r, buf) {
			return
		}
		req := getRequest()
		defer putRequest(req)
		if e := DecodeHoldOp(op, r.PathValue("id"), buf.Bytes(), s.cfg.HoldTTL, s.cfg.MaxHoldTTL, &req.cmd); e != nil {
			if op == seats.OpConfirm {
				e = s.keyMismatch(r, op, e)
				s.met.confirmResult[codeOf(e.Code)].Inc()
			}
			writeReqError(w, e)
			return
		}
		if op == seats.OpConfirm {
			k, e := idempotencyKey(r)
			if e != nil {
				writeReqError(w, e)
				return
			}
			req.cmd.IdempotencyKey = k
		}
		err := s.submit(req)
		answerBy(w)
		if err != nil {
			writeSubmitError(w, err)
			return
		}
		if op == seats.OpConfirm {
			if req.res.Replayed {
				s.met.confirmReplay.Inc()
			} else {
				s.met.confirmResult[req.res.Code].Inc()
			}
		}
		s.answer(w, buf, req)
	}
}

func codeOf(code shardapi.Code) seats.Code {
	for c := seats.OK; c <= seats.LastCode; c++ {
		if c.String() == string(code) {
			return c
		}
	}
	return seats.ErrInvalid
}

// DecodeHoldOp turns a per-hold request (id from the path, body) into a command.
func DecodeHoldOp(op seats.Op, id string, body []byte, holdTTL, maxTTL time.Duration, c *seats.Command) *RequestError {
	var ttlSec *int64
	var orderID string
	switch op {
	case seats.OpExtend, seats.OpAwaitPayment:
		var req shardapi.TTLRequest
		if e := decodeJSON(body, &req); e != nil {
			return holdOpFirst(id, e)
		}
		ttlSec = req.TTLSeconds
	case seats.OpConfirm:
		var req shardapi.ConfirmRequest
		if e := decodeJSON(body, &req); e != nil {
			return holdOpFirst(id, e)
		}
		orderID = req.OrderID
	}
	return HoldOpCommand(op, id, ttlSec, orderID, holdTTL, maxTTL, c)
}

// holdOpFirst keeps v1's order of checks: an unknown hold id is 404 before
// the body is looked at.
func holdOpFirst(id string, e *RequestError) *RequestError {
	if _, ok := parseHoldID(id); !ok {
		return &RequestError{Status: shardapi.CodeHoldNotFound.HTTPStatus(), Code: shardapi.CodeHoldNotFound, Msg: "no such hold"}
	}
	return e
}

// HoldOpCommand validates a decoded per-hold request and turns it into a
// command (the v1 endpoints and a batch's operations alike).
func HoldOpCommand(op seats.Op, id string, ttlSec *int64, orderID string, holdTTL, maxTTL time.Duration, c *seats.Command) *RequestError {
	hid, ok := parseHoldID(id)
	if !ok {
		return &RequestError{Status: shardapi.CodeHoldNotFound.HTTPStatus(), Code: shardapi.CodeHoldNotFound, Msg: "no such hold"}
	}
	c.Op, c.HoldID = op, hid
	switch op {
	case seats.OpExtend, seats.OpAwaitPayment:
		def := holdTTL
		if op == seats.OpAwaitPayment {
			// Offline payment gets the longest allowed window unless asked.
			def = maxTTL
		}
		t, e := ttl(ttlSec, def, maxTTL)
		if e != nil {
			return e
		}
		c.TTL = t
	case seats.OpConfirm:
		if orderID == "" {
			return invalid("orderId is required")
		}
		if len(orderID) > MaxOrderIDLen {
			return invalid("orderId is longer than " + strconv.Itoa(MaxOrderIDLen) + " bytes")
		}
		c.OrderID = orderID
		sum := sha256.Sum256([]byte("confirm\x00" + id + "\x00" + orderID))
		copy(c.Fingerprint[:], sum[:])
	}
	return nil
}

func (s *Server) getSeats(w http.ResponseWriter, r *http.Request) {
	if s.node != nil && s.node.isLeaderNow() {
		// Current on the leader: wait for a read index. A member that is no
		// longer the leader serves its committed state like any follower.
		s.node.barrier()
	}
	v, counts, arr := s.hub.seatsJSON()
	b := make([]byte, 0, len(arr)+256)
	b = append(b, `{"showtime":`...)
	b = shardapi.AppendString(b, s.cfg.Showtime)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, v, 10)
	b = append(b, `,"seats":`...)
	b = append(b, arr...)
	b = append(b, `,"counts":`...)
	b = appendCounts(b, counts)
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	v, counts := s.hub.snapshotCounts()
	b := make([]byte, 0, 512)
	b = append(b, `{"showtime":`...)
	b = shardapi.AppendString(b, s.cfg.Showtime)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, v, 10)
	b = append(b, `,"epoch":`...)
	if s.node != nil {
		b = strconv.AppendUint(b, s.node.term.Load(), 10) // v2: the epoch is the term
	} else {
		b = strconv.AppendUint(b, s.epoch.Load(), 10)
	}
	// logFormat is the log format this binary writes (and the newest it reads).
	b = append(b, `,"logFormat":`...)
	b = strconv.AppendInt(b, wal.FormatVersion, 10)
	b = s.appendClusterStatus(b)
	b = append(b, `,"counts":`...)
	b = appendCounts(b, counts)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(s.ix.Len()), 10)
	b = append(b, `,"ready":`...)
	b = strconv.AppendBool(b, s.Ready())
	b = append(b, `,"holdTTLSeconds":`...)
	b = strconv.AppendInt(b, int64(s.cfg.HoldTTL/time.Second), 10)
	b = append(b, `,"maxHoldTTLSeconds":`...)
	b = strconv.AppendInt(b, int64(s.cfg.MaxHoldTTL/time.Second), 10)
	b = append(b, `,"maxSeatsPerHolder":`...)
	b = strconv.AppendInt(b, int64(s.cfg.MaxSeatsPerHolder), 10)
	b = append(b, `,"streamClients":`...)
	b = strconv.AppendInt(b, int64(s.hub.clientCount()), 10)
	if l := s.walLog.Load(); l != nil {
		b = append(b, `,"logBytes":`...)
		b = strconv.AppendInt(b, l.Bytes(), 10)
	}
	b = s.appendHealth(b)
	if rv := s.roomView.Load(); rv.announced() {
		b = append(b, `,"room":`...)
		b = append(b, rv.json...)
	}
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}
