package shardapi

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// The batch endpoint, contract v3 (docs/api/shard-batch.openapi.yaml):
// many independent operations in one request, each with the answer its v1
// request gets. shard/batch gathers concurrent callers' operations into
// batches.
const (
	PathBatch = "/v2/batch"
	// MaxBatchOps is the most operations one batch may carry; MaxBatchBytes
	// the largest body a shard reads.
	MaxBatchOps   = 256
	MaxBatchBytes = 1 << 20
)

// Operation names (BatchOp.Op), one per v1 endpoint.
const (
	BatchHold         = "hold"          // POST /v1/holds
	BatchGet          = "get"           // GET /v1/holds/{hold}
	BatchExtend       = "extend"        // POST /v1/holds/{hold}/extend
	BatchAwaitPayment = "await_payment" // POST /v1/holds/{hold}/await-payment
	BatchConfirm      = "confirm"       // POST /v1/holds/{hold}/confirm
	BatchRelease      = "release"       // DELETE /v1/holds/{hold}
)

// BatchOp is one operation: the v1 request's path parameter, header and body
// in one object.
type BatchOp struct {
	Op string `json:"op"`
	// Hold is the hold id of every operation but hold.
	Hold string `json:"hold,omitempty"`
	// IdempotencyKey is the v1 Idempotency-Key header (hold and confirm;
	// ignored on the others, as v1 ignores the header there).
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Seats and Holder: hold. TTLSeconds: hold, extend, await_payment
	// (absent: the shard's default, as in v1).
	Seats      []string `json:"seats,omitempty"`
	Holder     string   `json:"holder,omitempty"`
	TTLSeconds *int64   `json:"ttlSeconds,omitempty"`
	// OrderID: confirm.
	OrderID string `json:"orderId,omitempty"`
}

// BatchRequest is the body of POST /v2/batch.
type BatchRequest struct {
	Ops []BatchOp `json:"ops"`
}

// BatchResult is one operation's answer: the status code and the JSON body
// v1 answers (a Hold, or an Error with its code).
type BatchResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// BatchResponse is the body of a 200 answer to POST /v2/batch: one result
// per operation, in the request's order.
type BatchResponse struct {
	Results []BatchResult `json:"results"`
}

// DecodeBatchResponse reads the body of a 200 answer to POST /v2/batch.
// Each result's Body is a slice of body, not a copy: body must not be
// reused while the results are.
//
// An answer spelled as the shard writes it (the names exactly "results",
// "status" and "body", each once; integer statuses) is read token by token
// without reflection and without copying the bodies; anything else is
// read by encoding/json, so the results never depend on which decoder ran
// (FuzzDecodeBatchResponseAgreesWithEncodingJSON). The fast path exists
// because decoding the answers was about 15% of the batching load
// generator's CPU in its profile.
func DecodeBatchResponse(body []byte) ([]BatchResult, error) {
	if res, ok := decodeBatchResponseFast(body); ok {
		return res, nil
	}
	var r BatchResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	return r.Results, nil
}

// decodeBatchResponseFast is DecodeBatchResponse's fast path; ok is false
// for anything it does not read exactly as encoding/json would.
func decodeBatchResponseFast(body []byte) (res []BatchResult, ok bool) {
	// Duplicate names are refused below, cheaper than the decoder's check.
	d := jsontext.NewDecoder(bytes.NewBuffer(body), jsontext.AllowDuplicateNames(true))
	if !readDelim(d, '{') {
		return nil, false
	}
	seen := false
	for d.PeekKind() == '"' {
		name, err := d.ReadValue()
		if err != nil || string(name) != `"results"` || seen {
			return nil, false
		}
		seen = true
		if d.PeekKind() == 'n' {
			if _, err := d.ReadToken(); err != nil {
				return nil, false
			}
			continue
		}
		if !readDelim(d, '[') {
			return nil, false
		}
		res = make([]BatchResult, 0, bytes.Count(body, []byte(`"status":`)))
		for d.PeekKind() == '{' {
			r, ok := decodeBatchResultFast(d, body)
			if !ok {
				return nil, false
			}
			res = append(res, r)
		}
		if !readDelim(d, ']') {
			return nil, false
		}
	}
	if !readDelim(d, '}') {
		return nil, false
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return nil, false
	}
	return res, true
}

// decodeBatchResultFast reads one result object, its body as a slice of
// the answer.
func decodeBatchResultFast(d *jsontext.Decoder, answer []byte) (r BatchResult, ok bool) {
	if !readDelim(d, '{') {
		return r, false
	}
	var status, body bool
	for d.PeekKind() == '"' {
		name, err := d.ReadValue()
		if err != nil {
			return r, false
		}
		switch string(name) {
		case `"status"`:
			v, err := d.ReadValue()
			if err != nil || status || len(v) == 0 || len(v) > 9 {
				return r, false
			}
			for _, c := range v {
				if c < '0' || c > '9' {
					return r, false
				}
				r.Status = r.Status*10 + int(c-'0')
			}
			status = true
		case `"body"`:
			v, err := d.ReadValue()
			end := int(d.InputOffset())
			if err != nil || body || end > len(answer) || end < len(v) {
				return r, false
			}
			r.Body = answer[end-len(v) : end : end]
			body = true
		default:
			return r, false
		}
	}
	return r, status && body && readDelim(d, '}')
}

// readDelim reads the next token and says whether it is kind.
func readDelim(d *jsontext.Decoder, kind jsontext.Kind) bool {
	t, err := d.ReadToken()
	return err == nil && t.Kind() == kind
}
