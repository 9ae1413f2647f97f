package seed

import "time"

// LogDoc is a document of CHT's logs database (medic-logs), not of the
// medic database: SplitLogs separates them, and loaders put them into
// <database>-logs.
type LogDoc map[string]any

// ReplicationLog returns the doc in which CHT API records a user's last
// successful replication, as api/src/services/replication/replication-limit-log.js
// writes it: _id replication-count-<user>, user, date (ms since the epoch,
// the server's clock), count (docs the user may replicate) and
// all_docs_count.
func ReplicationLog(username string, at time.Time, count int) LogDoc {
	return LogDoc{
		"_id":            "replication-count-" + username,
		"user":           username,
		"date":           at.UnixMilli(),
		"count":          count,
		"all_docs_count": count,
	}
}

// SplitLogs separates the LogDocs of docs (for <database>-logs) from the
// others (for the medic database), keeping their order.
func SplitLogs(docs []any) (medic, logs []any) {
	for _, d := range docs {
		if l, ok := d.(LogDoc); ok {
			logs = append(logs, map[string]any(l))
			continue
		}
		medic = append(medic, d)
	}
	return medic, logs
}

// Readiness classes of the cast of users DemoOptions.AllStates adds (the
// words of the mediator's readiness object).
const (
	ClassFinal       = "final"
	ClassNoActivity  = "noActivity"
	ClassPending     = "pending"
	ClassNeverSynced = "neverSynced"
)
