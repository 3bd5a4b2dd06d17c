package seats

import (
	"errors"
	"strconv"
	"testing"
)

func TestValidateHold(t *testing.T) {
	long := make([]string, 40)
	for i := range long {
		long[i] = "s/A/" + strconv.Itoa(i)
	}
	longDup := append(append([]string(nil), long...), "s/A/7")
	for _, tc := range []struct {
		name   string
		holder string
		seats  []string
		ttl    int64
		want   error
		dupAt  int
	}{
		{"ok", "b", []string{"a", "b"}, 1, nil, 0},
		{"no seats", "b", nil, 1, ErrNoSeats, 0},
		{"no holder", "", []string{"a"}, 1, ErrNoHolder, 0},
		{"zero ttl", "b", []string{"a"}, 0, ErrBadTTL, 0},
		{"negative ttl", "b", []string{"a"}, -5, ErrBadTTL, 0},
		{"twice", "b", []string{"a", "b", "a"}, 1, &DuplicateSeatError{}, 2},
		{"long ok", "b", long, 1, nil, 0},
		{"long twice", "b", longDup, 1, &DuplicateSeatError{}, 40},
		// The order: no holder before a bad ttl before a duplicate.
		{"order", "", []string{"a", "a"}, 0, ErrNoHolder, 0},
		{"ttl before duplicate", "b", []string{"a", "a"}, 0, ErrBadTTL, 0},
	} {
		err := ValidateHold(tc.holder, tc.seats, tc.ttl)
		var dup *DuplicateSeatError
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case errors.As(tc.want, &dup):
			if !errors.As(err, &dup) || dup.Index != tc.dupAt {
				t.Errorf("%s: %v, want a duplicate at %d", tc.name, err, tc.dupAt)
			}
		case tc.want != nil && err != tc.want:
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// The machine's form: seat indexes.
	if err := ValidateHold("b", []int32{3, 4, 3}, 1); err == nil {
		t.Error("indexes named twice passed")
	}
}
