package openapitest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Event is one server-sent event.
type Event struct {
	ID, Event, Data string
}

// Stream reads server-sent events and keeps every byte read, so the stream's
// answer can be checked with Check afterwards.
type Stream struct {
	Raw      bytes.Buffer
	Comments []string // comment lines, without the colon
	Retry    []string // values of retry: fields
	r        *bufio.Reader
}

// NewStream reads events from r (a response body; the caller bounds the time
// with the request's context).
func NewStream(r io.Reader) *Stream {
	s := &Stream{}
	s.r = bufio.NewReader(io.TeeReader(r, &s.Raw))
	return s
}

// Next reads up to the next event (comments and retry fields on the way are
// recorded). A line the event-stream format does not know is an error.
func (s *Stream) Next() (Event, error) {
	var ev Event
	data := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, fmt.Errorf("the stream ended: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if ev.Event != "" || data {
				return ev, nil
			}
		case name == "":
			s.Comments = append(s.Comments, value)
		case name == "id":
			ev.ID = value
		case name == "event":
			ev.Event = value
		case name == "data":
			if data {
				ev.Data += "\n"
			}
			ev.Data += value
			data = true
		case name == "retry":
			s.Retry = append(s.Retry, value)
		default:
			return ev, fmt.Errorf("unknown event-stream line %q", line)
		}
	}
}
