package ticket

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	keyA = bytes.Repeat([]byte("a"), 32)
	keyB = bytes.Repeat([]byte("b"), 32)
	keyC = bytes.Repeat([]byte("c"), 32)
	t0   = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
)

const show = "venues/standup-2026-12-05-2000"

func admission() Ticket {
	return Ticket{Kind: Admission, Showtime: show, Place: 4711, IssuedAt: t0, ExpiresAt: t0.Add(10 * time.Minute), MaxSeats: 8}
}

func mustKeys(t *testing.T, cur, prev []byte) *Keys {
	t.Helper()
	k, err := NewKeys(cur, prev)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, k *Keys, tk Ticket) string {
	t.Helper()
	s, err := k.Sign(tk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	k := mustKeys(t, keyA, nil)
	for _, tk := range []Ticket{admission(), {Kind: Queue, Showtime: "a/b", Place: 1, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}} {
		s := sign(t, k, tk)
		if len(s) > MaxLen || strings.ContainsAny(s, "+/= ;,") {
			t.Fatalf("ticket text %q is not a short cookie-safe string", s)
		}
		got, err := k.Verify(s, tk.Kind, tk.Showtime, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !got.IssuedAt.Equal(tk.IssuedAt) || !got.ExpiresAt.Equal(tk.ExpiresAt) {
			t.Fatalf("times %v %v, want %v %v", got.IssuedAt, got.ExpiresAt, tk.IssuedAt, tk.ExpiresAt)
		}
		got.IssuedAt, got.ExpiresAt, tk.IssuedAt, tk.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != tk {
			t.Fatalf("got %+v, want %+v", got, tk)
		}
	}
}

func TestRefused(t *testing.T) {
	k := mustKeys(t, keyA, nil)
	s := sign(t, k, admission())
	now := t0.Add(time.Minute)
	cases := []struct {
		name  string
		text  string
		kind  Kind
		show  string
		now   time.Time
		want  error
		field string
	}{
		{"expired", s, Admission, show, t0.Add(10 * time.Minute), ErrExpired, ""},
		{"issued in the future", s, Admission, show, t0.Add(-2 * time.Minute), ErrNotYetValid, ""},
		{"another showtime", s, Admission, "venues/other", now, ErrWrongShow, ""},
		{"a queue ticket used as an admission", sign(t, k, Ticket{Kind: Queue, Showtime: show, Place: 4711, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}), Admission, show, now, ErrWrongKind, ""},
		{"signed with an unknown key", sign(t, mustKeys(t, keyC, nil), admission()), Admission, show, now, ErrSignature, ""},
		{"empty", "", Admission, show, now, ErrMalformed, ""},
		{"no signature", strings.Split(s, ".")[0], Admission, show, now, ErrMalformed, ""},
		{"too long", strings.Repeat("x", MaxLen+1), Admission, show, now, ErrMalformed, ""},
		{"signature cut", s[:len(s)-2], Admission, show, now, ErrMalformed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Verify(tc.text, tc.kind, tc.show, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := k.Verify(s, Admission, show, t0.Add(30*time.Second-time.Minute)); err != nil {
		t.Fatalf("a ticket issued within the clock skew is refused: %v", err)
	}
}

// TestTamper flips every bit of a ticket's body and signature in turn: no
// change may verify (a changed place, showtime, expiry or seat limit would
// be a stolen place or more seats).
func TestTamper(t *testing.T) {
	k := mustKeys(t, keyA, nil)
	s := sign(t, k, admission())
	body, sig, _ := strings.Cut(s, ".")
	raw, _ := enc.DecodeString(body)
	rawSig, _ := enc.DecodeString(sig)
	for _, part := range []*[]byte{&raw, &rawSig} {
		for i := range *part {
			for bit := 0; bit < 8; bit++ {
				(*part)[i] ^= 1 << bit
				text := enc.EncodeToString(raw) + "." + enc.EncodeToString(rawSig)
				if tk, err := k.Verify(text, Admission, show, t0); err == nil {
					t.Fatalf("byte %d bit %d flipped still verifies: %+v", i, bit, tk)
				}
				(*part)[i] ^= 1 << bit
			}
		}
	}
	// A body re-signed without the key: swapped signature from another ticket.
	other := admission()
	other.MaxSeats = 50
	_, otherSig, _ := strings.Cut(sign(t, k, other), ".")
	if _, err := k.Verify(body+"."+otherSig, Admission, show, t0); !errors.Is(err, ErrSignature) {
		t.Fatalf("a signature of another ticket verifies: %v", err)
	}
}

// TestRotation: after a rotation (B current, A previous) tickets signed with
// A still verify and new ones are signed with B; after the next (C, B), A's
// are refused.
func TestRotation(t *testing.T) {
	old := sign(t, mustKeys(t, keyA, nil), admission())
	rotated := mustKeys(t, keyB, keyA)
	if _, err := rotated.Verify(old, Admission, show, t0); err != nil {
		t.Fatalf("a ticket under the previous key is refused: %v", err)
	}
	fresh := sign(t, rotated, admission())
	if _, err := mustKeys(t, keyB, nil).Verify(fresh, Admission, show, t0); err != nil {
		t.Fatalf("a new ticket is not signed with the current key: %v", err)
	}
	again := mustKeys(t, keyC, keyB)
	if _, err := again.Verify(old, Admission, show, t0); !errors.Is(err, ErrSignature) {
		t.Fatalf("a ticket two rotations old: %v", err)
	}
	if _, err := again.Verify(fresh, Admission, show, t0); err != nil {
		t.Fatalf("a ticket one rotation old: %v", err)
	}
}

func TestKeysAndSigning(t *testing.T) {
	if _, err := NewKeys(keyA[:31], nil); err == nil || !strings.Contains(err.Error(), "current key is 31 bytes") {
		t.Fatalf("short current key: %v", err)
	}
	if _, err := NewKeys(keyA, []byte("short")); err == nil || !strings.Contains(err.Error(), "previous key") {
		t.Fatalf("short previous key: %v", err)
	}
	k := mustKeys(t, keyA, nil)
	if _, err := k.Sign(Ticket{Kind: Admission}); err == nil {
		t.Fatal("a ticket without a showtime was signed")
	}
	if _, err := k.Sign(Ticket{Kind: 9, Showtime: show}); err == nil {
		t.Fatal("a ticket of unknown kind was signed")
	}
}

func FuzzVerify(f *testing.F) {
	k, _ := NewKeys(keyA, keyB)
	s, _ := k.Sign(admission())
	f.Add(s)
	f.Add("AQ.AA")
	f.Fuzz(func(t *testing.T, text string) {
		tk, err := k.Verify(text, Admission, show, t0)
		if err == nil && text != s {
			// Only the key holder can make a valid ticket; a fuzzer that
			// finds another one has found a forgery, unless it re-encodes s.
			again, _ := k.Sign(tk)
			if again != s {
				t.Fatalf("forged ticket %q verifies: %+v", text, tk)
			}
		}
	})
}
