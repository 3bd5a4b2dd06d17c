package v1alpha1

// AnnotationShardReportsSeen on a Showtime is how far the operator has
// raised its shard's reports (payments after expiry, log damage) as Warning
// events: "<reportsId>/<seq>", the shard's data-directory report id and the
// highest report sequence number raised. It keeps a report from being raised
// twice across manager restarts, after the events themselves have expired.
// Written by the operator; annotation-only, so freezes do not apply.
const AnnotationShardReportsSeen = "boxoffice.dev/shard-reports-seen"
