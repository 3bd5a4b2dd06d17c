package main

import (
	"bytes"
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// The generator's decoding of the shard's answers. It shares the CPUs with
// the system under test, and encoding/json was a third of its CPU on the
// batched path (each batch answer, then each hold in it); the JSON v2
// prototype's decoder reads the same answers in about a third of the time
// and fills only the fields the generator uses.

// batchAnswer is the body of a 200 answer to POST /v2/batch.
type batchAnswer struct {
	Results []struct {
		Status int            `json:"status"`
		Body   jsontext.Value `json:"body"`
	} `json:"results"`
}

// decodeBatchAnswer reads a batch's results, each body as it came.
func decodeBatchAnswer(body []byte) ([]shardapi.BatchResult, error) {
	var a batchAnswer
	if err := jsonv2.Unmarshal(body, &a, fast); err != nil {
		return nil, err
	}
	out := make([]shardapi.BatchResult, len(a.Results))
	for i, r := range a.Results {
		out[i] = shardapi.BatchResult{Status: r.Status, Body: json.RawMessage(r.Body)}
	}
	return out, nil
}

// fast skips the check for duplicate names (the shard writes none; the
// check was a third of the decoding).
var fast = jsontext.AllowDuplicateNames(true)

// holdID is the id of the hold a 201 answer describes ("" if it names none).
// The shard writes the id first: a plain id there is taken as it is without
// reading the rest (a batch's bodies were checked when the batch was
// decoded; a wrong id fails the hold's confirm or release), anything else
// is decoded.
func holdID(body []byte) (string, error) {
	const prefix = `{"id":"`
	if bytes.HasPrefix(body, []byte(prefix)) {
		rest := body[len(prefix):]
		if end := bytes.IndexByte(rest, '"'); end > 0 && bytes.IndexByte(rest[:end], '\\') < 0 && bytes.HasSuffix(body, []byte("}")) {
			return string(rest[:end]), nil
		}
	}
	var h struct {
		ID string `json:"id"`
	}
	err := jsonv2.Unmarshal(body, &h, fast)
	return h.ID, err
}
