package export

import (
	"context"
	"sync/atomic"
	"time"
)

// defaultProgressEvery is how often a long CHT read reports how far it got.
const defaultProgressEvery = 5 * time.Second

// progress counts what a build has read from CHT so far. Its counters are
// updated by the read's goroutines and read by the reporter.
type progress struct {
	docs, contacts, owners atomic.Int64
}

// startProgress logs, at info level every s.progressEvery until the
// returned stop is called, the target docs, org unit contacts and owners
// read so far and the time spent: a national month takes minutes, and one
// line at the end is too little to tell a slow read from a stuck one.
func (s *Service) startProgress(ctx context.Context, req Request) (*progress, func()) {
	p := &progress{}
	every := s.progressEvery
	if every <= 0 {
		every = defaultProgressEvery
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				s.log.Info("reading CHT", "data_set", req.DataSet, "period", req.Period.Period(),
					"target_docs", p.docs.Load(), "org_unit_contacts", p.contacts.Load(),
					"owners", p.owners.Load(), "elapsed", time.Since(start).Round(time.Second))
			}
		}
	}()
	return p, func() {
		close(done)
		<-stopped
	}
}
