package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"boxoffice.dev/boxoffice/shard/seats"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// POST /v2/batch: many independent operations in one request (the front end
// gathers its buyers' writes into one round trip). Every operation is
// decoded and validated as its v1 endpoint would, then all are handed to the
// writer (or the raft loop) before waiting for any, so they share a group
// and its one fsync (one Raft entry). Each gets the answer its v1 request
// would have got, idempotency included (the same fingerprints and key
// scopes), and the batch is answered once every operation's answer is ready:
// a 2xx inside means on disk, exactly as v1.

// batchOp is one operation in progress: req while the writer has it,
// otherwise its answer (status, body) is already known.
type batchOp struct {
	kind   seats.Op
	req    *request
	status int
	body   []byte
}

var batchKinds = map[string]seats.Op{
	shardapi.BatchHold: seats.OpHold, shardapi.BatchGet: seats.OpGet, shardapi.BatchExtend: seats.OpExtend,
	shardapi.BatchAwaitPayment: seats.OpAwaitPayment, shardapi.BatchConfirm: seats.OpConfirm, shardapi.BatchRelease: seats.OpRelease,
}

func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	buf := getBuf()
	defer putBuf(buf)
	if !readBody(w, r, buf) {
		return
	}
	// A batch spelled as the contract spells it is read token by token in
	// one pass (shardapi.DecodeBatchRequestFast: decoding was most of a
	// batch's own CPU). Anything else is read by encoding/json; only when
	// an operation does not fit its fields is each one decoded on its own,
	// so the malformed one gets its own 400 and the others go on.
	sc := batchScratchPool.Get().(*batchScratch)
	defer sc.put()
	var in struct {
		Ops []json.RawMessage `json:"ops"`
	}
	// typedErr: the operations do not all fit their fields.
	var typedErr error
	sc.in, typedErr = decodeBatchOps(buf.Bytes(), sc.in[:0])
	n := len(sc.in)
	if typedErr != nil {
		if err := json.Unmarshal(buf.Bytes(), &in); err != nil {
			writeError(w, shardapi.CodeInvalidRequest, "the body is not a batch ({\"ops\":[...]}): "+err.Error(), nil)
			return
		}
		n = len(in.Ops)
	}
	if n == 0 || n > shardapi.MaxBatchOps {
		writeError(w, shardapi.CodeInvalidRequest, "ops must hold 1 to "+strconv.Itoa(shardapi.MaxBatchOps)+" operations", nil)
		return
	}
	s.met.batchSize.Observe(float64(n))
	if cap(sc.ops) < n {
		sc.ops = make([]batchOp, n)
	}
	sc.ops = sc.ops[:n]
	ops := sc.ops
	for i := range ops {
		if typedErr == nil {
			s.startBatchOp(&ops[i], &sc.in[i], nil)
		} else {
			var op shardapi.BatchOp
			s.startBatchOp(&ops[i], &op, decodeJSON(in.Ops[i], &op))
		}
	}
	out := append(buf.AvailableBuffer()[:0], `{"results":[`...)
	for i := range ops {
		if i > 0 {
			out = append(out, ',')
		}
		out = s.finishBatchOp(out, &ops[i])
	}
	out = append(out, "]}"...)
	answerBy(w)
	writeJSON(w, http.StatusOK, out)
	buf.Write(out)
	s.observeBatchedHolds(ops, time.Since(t0))
}

// observeBatchedHolds puts every hold of a batch into the hold route's
// latency histogram with the batch's time, the time its buyer waited: the
// canary analysis judges a shard by that histogram (its p99 and its count),
// and a front end that batches sends no v1 holds at all.
func (s *Server) observeBatchedHolds(ops []batchOp, d time.Duration) {
	for i := range ops {
		if ops[i].kind == seats.OpHold {
			s.met.holdLatency.Observe(d.Seconds())
		}
	}
}

// startBatchOp validates one decoded operation (e: it could not be
// decoded) and hands it to the writer; an operation that fails here has its
// answer at once.
func (s *Server) startBatchOp(o *batchOp, op *shardapi.BatchOp, e *RequestError) {
	req := getRequest()
	if e == nil {
		e = s.batchCommand(o, op, &req.cmd)
	}
	if e == nil {
		if err := s.enqueue(req); err != nil {
			o.status, o.body = renderSubmitError(nil, err)
			putRequest(req)
			return
		}
		o.req = req
		return
	}
	putRequest(req)
	if o.kind == 0 {
		// Undecodable: what it meant to be, as far as it could be read.
		o.kind = batchKinds[op.Op]
	}
	if o.kind == seats.OpHold || o.kind == seats.OpConfirm {
		e = s.keyMismatchOf(op.IdempotencyKey, o.kind, e)
		s.countResult(o.kind, codeOf(e.Code), false)
	}
	o.status, o.body = e.Status, (&shardapi.Error{Code: e.Code, Message: e.Msg, Seats: e.Seats}).AppendJSON(nil)
}

// batchCommand is the command of one operation, validated as its v1
// endpoint validates it.
func (s *Server) batchCommand(o *batchOp, op *shardapi.BatchOp, c *seats.Command) *RequestError {
	kind, ok := batchKinds[op.Op]
	if !ok {
		return invalid("op must be one of hold, get, extend, await_payment, confirm, release")
	}
	o.kind = kind
	var e *RequestError
	if kind == seats.OpHold {
		e = HoldCommand(&shardapi.HoldRequest{Seats: op.Seats, Holder: op.Holder, TTLSeconds: op.TTLSeconds},
			s.ix, s.cfg.HoldTTL, s.cfg.MaxHoldTTL, s.cfg.MaxSeatsPerHolder, c)
	} else {
		e = HoldOpCommand(kind, op.Hold, op.TTLSeconds, op.OrderID, s.cfg.HoldTTL, s.cfg.MaxHoldTTL, c)
	}
	if e != nil {
		return e
	}
	if kind == seats.OpHold || kind == seats.OpConfirm {
		if len(op.IdempotencyKey) > MaxIdempotencyKeyLen {
			return invalid("idempotencyKey is longer than " + strconv.Itoa(MaxIdempotencyKeyLen) + " bytes")
		}
		c.IdempotencyKey = op.IdempotencyKey
	}
	return nil
}

// finishBatchOp waits for one operation's answer and appends its result.
func (s *Server) finishBatchOp(out []byte, o *batchOp) []byte {
	status, body := o.status, o.body
	if req := o.req; req != nil {
		if err := s.wait(req); err != nil {
			status, body = renderSubmitError(nil, err)
		} else {
			s.countResult(o.kind, req.res.Code, req.res.Replayed)
			// The status is known once the body is rendered (in place, not
			// copied): a placeholder of its three digits is filled in.
			at := len(out) + len(`{"status":`)
			out = append(out, `{"status":000,"body":`...)
			status, out = s.renderResult(out, req)
			strconv.AppendInt(out[at:at], int64(status), 10)
			putRequest(req)
			return append(out, '}')
		}
		putRequest(req)
	}
	out = append(out, `{"status":`...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, `,"body":`...)
	out = append(out, body...)
	return append(out, '}')
}

// countResult counts a hold's or a confirm's outcome (boxoffice_shard_holds_total
// and confirms_total).
func (s *Server) countResult(kind seats.Op, code seats.Code, replayed bool) {
	switch {
	case kind == seats.OpHold && replayed:
		s.met.holdReplay.Inc()
	case kind == seats.OpHold:
		s.met.holdResult[code].Inc()
	case kind == seats.OpConfirm && replayed:
		s.met.confirmReplay.Inc()
	case kind == seats.OpConfirm:
		s.met.confirmResult[code].Inc()
	}
}

// decodeBatchOps reads a batch's operations into ops: token by token when
// it is spelled as the contract writes it, otherwise by encoding/json.
func decodeBatchOps(body []byte, ops []shardapi.BatchOp) ([]shardapi.BatchOp, error) {
	if ops, ok := shardapi.DecodeBatchRequestFast(body, ops); ok {
		return ops, nil
	}
	var std struct {
		Ops []shardapi.BatchOp `json:"ops"`
	}
	err := json.Unmarshal(body, &std)
	return std.Ops, err
}

// batchScratch is a batch request's reused memory: its decoded operations
// and their progress.
type batchScratch struct {
	in  []shardapi.BatchOp
	ops []batchOp
}

var batchScratchPool = sync.Pool{New: func() any { return new(batchScratch) }}

// put returns the scratch to its pool, cleared so that it holds on to no
// request's strings or answers; a batch far larger than usual is dropped.
func (sc *batchScratch) put() {
	if cap(sc.in) > shardapi.MaxBatchOps || cap(sc.ops) > shardapi.MaxBatchOps {
		return
	}
	clear(sc.in)
	clear(sc.ops)
	sc.in, sc.ops = sc.in[:0], sc.ops[:0]
	batchScratchPool.Put(sc)
}
