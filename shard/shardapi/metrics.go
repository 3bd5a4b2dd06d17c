package shardapi

// Metric names the shard exports on /metrics (Prometheus text format).
// Labels: route on request_duration_seconds and requests_total (with code,
// the status class "2xx"...); result on holds_total and confirms_total (an
// error code, "ok", or ResultReplay); state on seats. The raft_* and
// peer_* metrics exist in cluster mode only, the waitingroom_* ones while a
// waiting room is configured.
const (
	MetricBatchOperations            = "boxoffice_shard_batch_operations"
	MetricConfirmsTotal              = "boxoffice_shard_confirms_total"
	MetricEarlyConflictsTotal        = "boxoffice_shard_early_conflicts_total"
	MetricEpoch                      = "boxoffice_shard_epoch"
	MetricHoldsTotal                 = "boxoffice_shard_holds_total"
	MetricPaidAfterExpiryTotal       = "boxoffice_shard_paid_after_expiry_total"
	MetricPeerRequestsRejectedTotal  = "boxoffice_shard_peer_requests_rejected_total"
	MetricRaftAppendRoundTripSeconds = "boxoffice_shard_raft_append_round_trip_seconds"
	MetricRaftAppliedIndex           = "boxoffice_shard_raft_applied_index"
	MetricRaftCommitIndex            = "boxoffice_shard_raft_commit_index"
	MetricRaftLeaderChangesTotal     = "boxoffice_shard_raft_leader_changes_total"
	MetricRaftMemberMatchIndex       = "boxoffice_shard_raft_member_match_index"
	MetricRaftProposalCommitSeconds  = "boxoffice_shard_raft_proposal_commit_seconds"
	MetricRaftRole                   = "boxoffice_shard_raft_role"
	MetricRaftTerm                   = "boxoffice_shard_raft_term"
	MetricReady                      = "boxoffice_shard_ready"
	MetricRecoveryDurationSeconds    = "boxoffice_shard_recovery_duration_seconds"
	MetricRequestDurationSeconds     = "boxoffice_shard_request_duration_seconds"
	MetricRequestsTotal              = "boxoffice_shard_requests_total"
	MetricSeats                      = "boxoffice_shard_seats"
	MetricSnapshotsTotal             = "boxoffice_shard_snapshots_total"
	MetricStreamClients              = "boxoffice_shard_stream_clients"
	MetricStreamClientsDroppedTotal  = "boxoffice_shard_stream_clients_dropped_total"
	MetricVersion                    = "boxoffice_shard_version"
	MetricVolumeFreeBytes            = "boxoffice_shard_volume_free_bytes"
	MetricVolumeFull                 = "boxoffice_shard_volume_full"
	MetricVolumeLow                  = "boxoffice_shard_volume_low"
	MetricWalBytes                   = "boxoffice_shard_wal_bytes"
	MetricWalDamagedRecordsTotal     = "boxoffice_shard_wal_damaged_records_total"
	MetricWalFsyncDurationSeconds    = "boxoffice_shard_wal_fsync_duration_seconds"
	MetricWalGroupSize               = "boxoffice_shard_wal_group_size"
	MetricWalWriteAgeSeconds         = "boxoffice_shard_wal_write_age_seconds"
	MetricWalWriteStalled            = "boxoffice_shard_wal_write_stalled"
	MetricWriterApplySeconds         = "boxoffice_shard_writer_apply_seconds"
	MetricWriterCommitWaitSeconds    = "boxoffice_shard_writer_commit_wait_seconds"
	MetricWriterQueueWaitSeconds     = "boxoffice_shard_writer_queue_wait_seconds"

	MetricWaitingRoomWaiting             = "boxoffice_shard_waitingroom_waiting"
	MetricWaitingRoomPreQueued           = "boxoffice_shard_waitingroom_pre_queued"
	MetricWaitingRoomActive              = "boxoffice_shard_waitingroom_active"
	MetricWaitingRoomChoosing            = "boxoffice_shard_waitingroom_choosing"
	MetricWaitingRoomOpen                = "boxoffice_shard_waitingroom_open"
	MetricWaitingRoomSoldOut             = "boxoffice_shard_waitingroom_sold_out"
	MetricWaitingRoomSeatsMayReturn      = "boxoffice_shard_waitingroom_seats_may_return"
	MetricWaitingRoomAdmissionsPerSecond = "boxoffice_shard_waitingroom_admissions_per_second"
	MetricWaitingRoomWaitMedianSeconds   = "boxoffice_shard_waitingroom_wait_median_seconds"
	MetricWaitingRoomWaitP99Seconds      = "boxoffice_shard_waitingroom_wait_p99_seconds"
	MetricWaitingRoomAdmittedTotal       = "boxoffice_shard_waitingroom_admitted_total"
	MetricWaitingRoomTimedOutTotal       = "boxoffice_shard_waitingroom_timed_out_total"
	MetricWaitingRoomBoughtTotal         = "boxoffice_shard_waitingroom_bought_total"
)

// MetricPrefix starts every metric name of the shard's own.
const MetricPrefix = "boxoffice_shard_"

// ResultReplay is the result label of an answer replayed from the
// idempotency table (a retry, not a new hold or sale); ResultOK that of a
// write that succeeded. Every other result is an error code.
const (
	ResultOK     = "ok"
	ResultReplay = "replay"
)

// MetricNames lists every metric name above.
func MetricNames() []string {
	return []string{
		MetricBatchOperations,
		MetricConfirmsTotal,
		MetricEarlyConflictsTotal,
		MetricEpoch,
		MetricHoldsTotal,
		MetricPaidAfterExpiryTotal,
		MetricPeerRequestsRejectedTotal,
		MetricRaftAppendRoundTripSeconds,
		MetricRaftAppliedIndex,
		MetricRaftCommitIndex,
		MetricRaftLeaderChangesTotal,
		MetricRaftMemberMatchIndex,
		MetricRaftProposalCommitSeconds,
		MetricRaftRole,
		MetricRaftTerm,
		MetricReady,
		MetricRecoveryDurationSeconds,
		MetricRequestDurationSeconds,
		MetricRequestsTotal,
		MetricSeats,
		MetricSnapshotsTotal,
		MetricStreamClients,
		MetricStreamClientsDroppedTotal,
		MetricVersion,
		MetricVolumeFreeBytes,
		MetricVolumeFull,
		MetricVolumeLow,
		MetricWalBytes,
		MetricWalDamagedRecordsTotal,
		MetricWalFsyncDurationSeconds,
		MetricWalGroupSize,
		MetricWalWriteAgeSeconds,
		MetricWalWriteStalled,
		MetricWriterApplySeconds,
		MetricWriterCommitWaitSeconds,
		MetricWriterQueueWaitSeconds,
		MetricWaitingRoomWaiting,
		MetricWaitingRoomPreQueued,
		MetricWaitingRoomActive,
		MetricWaitingRoomChoosing,
		MetricWaitingRoomOpen,
		MetricWaitingRoomSoldOut,
		MetricWaitingRoomSeatsMayReturn,
		MetricWaitingRoomAdmissionsPerSecond,
		MetricWaitingRoomWaitMedianSeconds,
		MetricWaitingRoomWaitP99Seconds,
		MetricWaitingRoomAdmittedTotal,
		MetricWaitingRoomTimedOutTotal,
		MetricWaitingRoomBoughtTotal,
	}
}
