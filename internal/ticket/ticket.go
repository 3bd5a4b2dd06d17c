// Package ticket signs and checks the waiting room's tickets: the queue
// ticket a buyer holds while waiting (their place in the showtime's line) and
// the admission ticket that lets them choose seats.
//
// A ticket is a short string a front-end pod hands the browser (in a cookie)
// and any pod checks again: HMAC-SHA256 over a binary body, under a key every
// pod of the showtime shares. Keys rotate: a ticket is signed with the current
// key and accepted under the current or the previous one (the signing key is
// named in the ticket by a short fingerprint), so a key can be replaced
// without sending everyone in line to the back.
//
// A ticket proves who a place belongs to and until when the holder may use
// it; it does not say where the place stands now. That is the waiting room's
// state (package shard/waitroom), which may have moved on: an admission ends
// when its buyer idles out, whatever the ticket's expiry says.
//
// The package is pure: no I/O, and the time is passed in.
package ticket

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is what a ticket is for.
type Kind uint8

const (
	Queue     Kind = iota + 1 // a place in line
	Admission                 // leave to choose seats
)

func (k Kind) String() string {
	switch k {
	case Queue:
		return "queue"
	case Admission:
		return "admission"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Ticket is what a ticket says.
type Ticket struct {
	Kind Kind
	// Showtime is NAMESPACE/NAME: a ticket for one show is worth nothing at
	// another.
	Showtime string
	// Place is the place's id in the showtime's waiting room.
	Place     uint64
	IssuedAt  time.Time
	ExpiresAt time.Time
	// MaxSeats is the seat limit of an admission (0 in a queue ticket).
	MaxSeats int32
}

// Errors of Verify. Each is wrapped with detail; test with errors.Is.
var (
	ErrMalformed    = errors.New("ticket: malformed")
	ErrSignature    = errors.New("ticket: bad signature or unknown key")
	ErrExpired      = errors.New("ticket: expired")
	ErrNotYetValid  = errors.New("ticket: issued in the future")
	ErrWrongShow    = errors.New("ticket: for another showtime")
	ErrWrongKind    = errors.New("ticket: of another kind")
	errShowtimeSize = errors.New("ticket: showtime name too long")
)

const (
	// MinKeyLen is the shortest key accepted.
	MinKeyLen = 32
	// MaxLen bounds a ticket's text; longer strings are refused unread.
	MaxLen = 512
	// Skew is how far in the future a ticket's issue time may be (clocks of
	// two pods differ a little).
	Skew = time.Minute

	version  = 1
	kidLen   = 4
	macLen   = 32
	maxShow  = 253 + 1 + 63
	macLabel = "boxoffice.dev/waiting-room-ticket\x00"
)

// enc is strict, so every ticket has exactly one text.
var enc = base64.RawURLEncoding.Strict()

// Keys signs with the current key and verifies under the current or the
// previous one. It is immutable and safe for concurrent use.
type Keys struct {
	keys [][]byte // current first
	kids [][kidLen]byte
}

// NewKeys takes the current key and, optionally, the previous one (nil when
// there is none).
func NewKeys(current, previous []byte) (*Keys, error) {
	k := &Keys{}
	for i, key := range [][]byte{current, previous} {
		if i == 1 && key == nil {
			break
		}
		if len(key) < MinKeyLen {
			return nil, fmt.Errorf("ticket: %s key is %d bytes, at least %d needed", [2]string{"current", "previous"}[i], len(key), MinKeyLen)
		}
		sum := sha256.Sum256(append([]byte("kid\x00"), key...))
		k.keys = append(k.keys, bytes.Clone(key))
		k.kids = append(k.kids, [kidLen]byte(sum[:kidLen]))
	}
	return k, nil
}

// Sign gives the ticket's text, signed with the current key.
func (k *Keys) Sign(t Ticket) (string, error) {
	if len(t.Showtime) > maxShow || t.Showtime == "" {
		return "", errShowtimeSize
	}
	if t.Kind != Queue && t.Kind != Admission {
		return "", fmt.Errorf("ticket: unknown kind %d", t.Kind)
	}
	body := []byte{version}
	body = append(body, k.kids[0][:]...)
	body = append(body, byte(t.Kind))
	body = binary.AppendUvarint(body, uint64(len(t.Showtime)))
	body = append(body, t.Showtime...)
	body = binary.AppendUvarint(body, t.Place)
	body = binary.AppendVarint(body, t.IssuedAt.UnixMilli())
	body = binary.AppendVarint(body, t.ExpiresAt.UnixMilli())
	body = binary.AppendUvarint(body, uint64(max(t.MaxSeats, 0)))
	return enc.EncodeToString(body) + "." + enc.EncodeToString(mac(k.keys[0], body)), nil
}

func mac(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(macLabel))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a ticket's signature, then that it is of kind for showtime
// and valid at now, and gives what it says.
func (k *Keys) Verify(text string, kind Kind, showtime string, now time.Time) (Ticket, error) {
	body, err := k.open(text)
	if err != nil {
		return Ticket{}, err
	}
	t, err := decode(body)
	if err != nil {
		return Ticket{}, err
	}
	switch {
	case t.Kind != kind:
		return t, fmt.Errorf("%w: %v ticket where a %v ticket is needed", ErrWrongKind, t.Kind, kind)
	case t.Showtime != showtime:
		return t, fmt.Errorf("%w: for %s, this is %s", ErrWrongShow, t.Showtime, showtime)
	case t.IssuedAt.After(now.Add(Skew)):
		return t, fmt.Errorf("%w: issued at %s", ErrNotYetValid, t.IssuedAt.UTC().Format(time.RFC3339))
	case !now.Before(t.ExpiresAt):
		return t, fmt.Errorf("%w at %s", ErrExpired, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// open checks the signature and gives the signed body.
func (k *Keys) open(text string) ([]byte, error) {
	if len(text) > MaxLen {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(text), MaxLen)
	}
	b64body, b64mac, ok := strings.Cut(text, ".")
	if !ok {
		return nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	body, err1 := enc.DecodeString(b64body)
	sig, err2 := enc.DecodeString(b64mac)
	if err1 != nil || err2 != nil || len(sig) != macLen || len(body) < 1+kidLen || body[0] != version {
		return nil, fmt.Errorf("%w: not a version %d ticket", ErrMalformed, version)
	}
	for i, kid := range k.kids {
		if bytes.Equal(body[1:1+kidLen], kid[:]) && hmac.Equal(sig, mac(k.keys[i], body)) {
			return body, nil
		}
	}
	return nil, ErrSignature
}

// decode reads a signed body. It is only ever given bodies whose signature
// checked, but still trusts no length.
func decode(body []byte) (Ticket, error) {
	b := body[1+kidLen:]
	bad := fmt.Errorf("%w: truncated body", ErrMalformed)
	if len(b) < 1 {
		return Ticket{}, bad
	}
	t := Ticket{Kind: Kind(b[0])}
	b = b[1:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > maxShow || uint64(len(b)-w) < n {
		return Ticket{}, bad
	}
	t.Showtime, b = string(b[w:w+int(n)]), b[w+int(n):]
	var iat, exp int64
	var seats uint64
	if t.Place, w = binary.Uvarint(b); w <= 0 {
		return Ticket{}, bad
	}
	b = b[w:]
	if iat, w = binary.Varint(b); w <= 0 {
		return Ticket{}, bad
	}
	b = b[w:]
	if exp, w = binary.Varint(b); w <= 0 {
		return Ticket{}, bad
	}
	b = b[w:]
	if seats, w = binary.Uvarint(b); w <= 0 || seats > 1<<31-1 || w != len(b) {
		return Ticket{}, bad
	}
	t.IssuedAt, t.ExpiresAt, t.MaxSeats = time.UnixMilli(iat), time.UnixMilli(exp), int32(seats)
	return t, nil
}
