package controllers

import (
	"slices"
	"strings"
	"testing"
	"time"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	"boxoffice.dev/boxoffice/shard/shardapi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestNewShardNotices(t *testing.T) {
	at := time.Date(2026, 12, 5, 19, 30, 0, 0, time.UTC)
	rep := &shardapi.Status{ReportsID: "0a1b2c3d4e5f6071",
		PaidAfterExpiry: []shardapi.LatePayment{{Seq: 1, Hold: "h7", OrderID: "o-1", At: at}, {Seq: 3, Hold: "h9", OrderID: "o-2", At: at}},
		LogWarnings:     []shardapi.LogWarning{{Seq: 2, At: at, Kind: "damaged_last_record", File: "wal-1.log", Message: "may have been acknowledged"}},
	}
	cases := []struct {
		seen string
		want []uint64
	}{
		{"", []uint64{1, 2, 3}},
		{"0a1b2c3d4e5f6071/1", []uint64{2, 3}},
		{"0a1b2c3d4e5f6071/3", nil},
		{"0a1b2c3d4e5f6071/junk", []uint64{1, 2, 3}},
		{"ffff/3", []uint64{1, 2, 3}}, // another data directory's reports
	}
	for _, c := range cases {
		got := newShardNotices(c.seen, rep)
		var seqs []uint64
		for _, n := range got {
			seqs = append(seqs, n.seq)
		}
		if !slices.Equal(seqs, c.want) {
			t.Fatalf("seen %q: notices %v, want %v", c.seen, seqs, c.want)
		}
	}
	all := newShardNotices("", rep)
	if all[0].reason != ReasonPaidAfterExpiry || !strings.Contains(all[0].note, "h7") || !strings.Contains(all[0].note, `"o-1"`) || !strings.Contains(all[0].note, "2026-12-05T19:30:00Z") {
		t.Fatalf("late payment notice: %+v", all[0])
	}
	if all[1].reason != ReasonShardLogDamaged || !strings.Contains(all[1].note, "may have been acknowledged") {
		t.Fatalf("log damage notice: %+v", all[1])
	}
	if newShardNotices("", &shardapi.Status{}) != nil {
		t.Fatal("a shard without reports raised notices")
	}
	long := strings.Repeat("x", 5000)
	if n := newShardNotices("", &shardapi.Status{ReportsID: "ab", LogWarnings: []shardapi.LogWarning{{Seq: 1, Message: long}}}); len(n[0].note) > 1024 {
		t.Fatalf("note of %d bytes", len(n[0].note))
	}
}

func TestShardNoticeName(t *testing.T) {
	st := &boxv1.Showtime{ObjectMeta: metav1.ObjectMeta{Name: "standup-2026-12-05-2000", Namespace: "venues"}}
	for _, id := range []string{"0a1b2c3d4e5f6071", "NOT/hex", strings.Repeat("a", 64)} {
		n := shardNoticeName(st, id, 12)
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Fatalf("%q: %v", n, errs)
		}
		if n != shardNoticeName(st, id, 12) || n == shardNoticeName(st, id, 13) {
			t.Fatalf("names are not one per report: %q", n)
		}
	}
	st.Name = strings.Repeat("a", 250)
	if n := shardNoticeName(st, "ab", 1); len(validation.IsDNS1123Subdomain(n)) > 0 {
		t.Fatalf("long showtime name: %q", n)
	}
}
