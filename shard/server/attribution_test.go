package server

import (
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestWriteTimeAttribution: every write the writer takes is counted in the
// queue-wait and apply histograms, and every write answered after its
// group's fsync in the commit-wait histogram; a conflict answered early (it
// read only durable seats) waits for no fsync and is not. These are what the
// benchmark reads to attribute a p99 to the disk or to CPU.
func TestWriteTimeAttribution(t *testing.T) {
	h := start(t, t.TempDir(), nil)
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"b1"}`), 201, "")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/2"],"holder":"b2"}`), 201, "")
	h.expect(h.do("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"b3"}`), 409, "seats_unavailable")
	expectMetrics(t, h,
		`boxoffice_shard_writer_queue_wait_seconds_count 3`,
		`boxoffice_shard_writer_apply_seconds_count 3`,
		`boxoffice_shard_writer_commit_wait_seconds_count 2`,
		`boxoffice_shard_early_conflicts_total 1`,
		`boxoffice_shard_wal_group_size_sum 2`,
		// How long goroutines waited for a CPU: CPU starvation apart from work.
		`# TYPE go_sched_latencies_seconds histogram`,
		// How long the garbage collector stopped the world.
		`# TYPE go_sched_pauses_total_gc_seconds histogram`)
}

func msgApp(to, last uint64) *pb.Message {
	return &pb.Message{Type: pb.MsgApp.Enum(), To: proto.Uint64(to),
		Entries: []*pb.Entry{{Index: proto.Uint64(last - 1)}, {Index: proto.Uint64(last)}}}
}

func msgAppResp(from, index uint64, reject bool) *pb.Message {
	return &pb.Message{Type: pb.MsgAppResp.Enum(), From: proto.Uint64(from), Index: proto.Uint64(index), Reject: proto.Bool(reject)}
}

// TestAppendRoundTrip: a follower's round trip runs from the first untimed
// append sent to it until it acknowledges that append's last index; later
// appends sent meanwhile do not restart the clock, earlier acknowledgements
// and rejections do not end it as a success, and other followers are timed
// apart.
func TestAppendRoundTrip(t *testing.T) {
	var a appendRTT
	t0 := time.Unix(1000, 0)
	a.sent([]*pb.Message{msgApp(2, 10), msgApp(3, 10)}, t0)
	a.sent([]*pb.Message{msgApp(2, 12)}, t0.Add(time.Millisecond)) // 2 is being timed already

	if _, ok := a.received(msgAppResp(2, 9, false), t0.Add(2*time.Millisecond)); ok {
		t.Fatal("an acknowledgement below the timed index ended the round trip")
	}
	d, ok := a.received(msgAppResp(2, 10, false), t0.Add(3*time.Millisecond))
	if !ok || d != 3*time.Millisecond {
		t.Fatalf("follower 2: got %v %v, want 3ms true", d, ok)
	}
	if _, ok := a.received(msgAppResp(2, 12, false), t0.Add(4*time.Millisecond)); ok {
		t.Fatal("follower 2: a second sample without a second timed append")
	}
	if _, ok := a.received(msgAppResp(3, 10, true), t0.Add(5*time.Millisecond)); ok {
		t.Fatal("follower 3: a rejection counted as a round trip")
	}
	if _, ok := a.received(msgAppResp(3, 10, false), t0.Add(6*time.Millisecond)); ok {
		t.Fatal("follower 3: the rejected append was still timed")
	}
	a.sent([]*pb.Message{msgApp(3, 20)}, t0.Add(7*time.Millisecond))
	a.reset()
	if _, ok := a.received(msgAppResp(3, 20, false), t0.Add(8*time.Millisecond)); ok {
		t.Fatal("follower 3: timed across a reset")
	}
}
