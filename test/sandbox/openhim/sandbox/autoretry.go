package sandbox

import (
	"time"
)

// retryEntry is a transaction queued for auto-retry (core's AutoRetry
// model: transactionID, channelID, requestTimestamp).
type retryEntry struct {
	txID, channelID string
	requestTime     time.Time
}

// RunAutoRetry runs core's auto-retry job once (src/autoRetry.js
// autoRetryTask, which core's agenda runs every minute): for every enabled
// channel with autoRetryEnabled, the queued transactions whose request is
// at least autoRetryPeriodMinutes-1 minutes old are taken off the queue and
// rerun, as a rerun task of user "internal" does. A transaction is queued
// when it is stored with autoRetry set (src/middleware/messageStore.js),
// which happens when the mediator's response has an error and the channel's
// autoRetryMaxAttempts is not reached. The rerun's transaction carries
// autoRetryAttempt = the parent's + 1 (src/middleware/rerunUpdateTransactionTask.js
// setAttemptNumber). It returns the new child transactions.
func (s *Server) RunAutoRetry() []Transaction {
	s.mu.Lock()
	now := s.now()
	var due []retryEntry
	keep := s.retryQueue[:0]
	for _, e := range s.retryQueue {
		rec := s.channelByID(e.channelID)
		if rec == nil {
			keep = append(keep, e)
			continue
		}
		ch := channelOf(rec)
		period := ch.AutoRetryPeriodMinutes
		if period == 0 {
			period = 60 // the schema's default
		}
		to := now.Add(-time.Duration(period-1) * time.Minute)
		if !ch.AutoRetryEnabled || (ch.Status != "" && ch.Status != "enabled") || e.requestTime.After(to) {
			keep = append(keep, e)
			continue
		}
		due = append(due, e)
	}
	s.retryQueue = keep
	type run struct {
		parent string
		ex     *exchange
	}
	var runs []run
	taskID := s.newID()
	for _, e := range due {
		ex, err := s.rerunExchange(e.txID, taskID)
		if err != nil {
			s.log.Warn("auto-retry: transaction not rerun", "tx", e.txID, "err", err)
			continue
		}
		if p := s.findTx(e.txID); p != nil && p.AutoRetry {
			ex.attempt = p.AutoRetryAttempt + 1
		}
		runs = append(runs, run{e.txID, ex})
	}
	s.mu.Unlock()
	children := make([]Transaction, 0, len(runs))
	for _, r := range runs {
		children = append(children, s.runRerun(r.parent, r.ex))
	}
	return children
}
