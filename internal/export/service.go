// Package export is the mediator's use case: read CHT, aggregate, validate,
// and push to DHIS2 or hand the data value set back. It declares the small
// interfaces it needs from the upstream clients, so it can be tested with
// fakes and stays free of HTTP and configuration concerns.
package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/flight"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
)

// CHTSource is what the service reads from CHT. *cht.Client implements it.
// TargetDocs and Contacts call fn from one goroutine at a time; TargetDocs
// hands the docs over in _id order, which keeps each owner's docs together
// (the service folds them in batches cut between owners, and reads the
// month again without batching when an owner's docs come apart). The
// methods may be called concurrently.
type CHTSource interface {
	Settings(ctx context.Context) (cht.Settings, error)
	TargetDocs(ctx context.Context, docMonth string, fn func(aggregate.TargetDoc) error) (int, error)
	Contacts(ctx context.Context, fn func(aggregate.Contact) error) error
	Owners(ctx context.Context, ids []string) ([]aggregate.Owner, error)
	Translations(ctx context.Context, locale string) (map[string]string, error)
}

// Options configure a Service.
type Options struct {
	// Locale selects the CHT translations used for human-readable labels.
	Locale string
	// Now returns the current time; time.Now when nil. It dates completeDate.
	Now func() time.Time
	// Logger receives progress and problems; required.
	Logger *slog.Logger
	// DHIS2 is where exports push; nil for a service that only previews.
	DHIS2 DHIS2Target
	// Data says what an export may do to what DHIS2 holds (deletions,
	// overwriting, completeness).
	Data DataOptions
	// MinReady is the readiness gate (export.min_ready): the share of
	// expected CHWs (0-1) that must have synced a month before an export
	// pushes it.
	MinReady float64
	// OnBuild, optional, is told of every build that read CHT: its data
	// set and the target docs it read (the mediator's metrics).
	OnBuild func(dataSet string, targetDocs int)
}

// Service runs previews (and, later, exports) of CHT data as DHIS2 data
// value sets. It is safe for concurrent use; concurrent identical builds
// share one CHT read (see Preview).
type Service struct {
	cht    CHTSource
	dhis2  DHIS2Target
	data   DataOptions
	locale string
	now    func() time.Time
	log    *slog.Logger
	// minReady is Options.MinReady.
	minReady float64
	onBuild  func(dataSet string, targetDocs int)

	// batchDocs and workers shape the read: target docs are folded in
	// batches of about batchDocs docs, whose owners are fetched by workers
	// batches at once (cht.batch_size and cht.concurrency when the source
	// tells them).
	batchDocs, workers int
	// progressEvery is the interval of the progress lines of a long read
	// (defaultProgressEvery when zero).
	progressEvery time.Duration

	flights flight.Group[Request, *Preview]
}

// tuning is implemented by sources that tell how they fetch owners
// (*cht.Client does).
type tuning interface {
	BatchSize() int
	Concurrency() int
}

// Defaults for sources that do not implement tuning (cht.Default's).
const (
	defaultBatchDocs = 500
	defaultWorkers   = 4
	// batchesAhead bounds the batches read but not yet folded: with
	// batchDocs docs each, what the read holds beyond the sums.
	batchesAhead = 8
)

// New returns a Service reading CHT through src.
func New(src CHTSource, opts Options) (*Service, error) {
	if src == nil {
		return nil, errors.New("export: a CHT source is required")
	}
	if opts.Logger == nil {
		return nil, errors.New("export: a logger is required")
	}
	s := &Service{cht: src, dhis2: opts.DHIS2, data: opts.Data, locale: opts.Locale, now: opts.Now, log: opts.Logger.With("component", "export"), minReady: opts.MinReady,
		onBuild: opts.OnBuild, batchDocs: defaultBatchDocs, workers: defaultWorkers}
	if t, ok := src.(tuning); ok {
		s.batchDocs = max(t.BatchSize(), 1)
		s.workers = max(t.Concurrency(), 1)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.locale == "" {
		s.locale = "en"
	}
	return s, nil
}

// Request names one data value set to build.
type Request struct {
	DataSet  string
	Period   aggregate.Month
	OrgUnit  string // optional: this org unit only
	Children bool   // with OrgUnit: also every mapped org unit below it
	// HumanReadable labels data set, org units and data elements with CHT's
	// names instead of DHIS2 ids. The result cannot be imported into DHIS2.
	HumanReadable bool
}

// Preview is a built data value set with what was found wrong on the way.
type Preview struct {
	Set      DataValueSet
	Problems []aggregate.Problem
	// Warnings are configuration oddities that were worked around, such as
	// a target whose dhis entry is not an object.
	Warnings []string
	Stats    aggregate.Stats
	// Readiness tells whether the month is complete in CHT: who was
	// expected to report it and who has synced since it ended.
	Readiness *readiness.Object
}

// InputError marks an error caused by the request itself (an unknown data
// set, a data set with no mapped targets), as opposed to an upstream failure.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// StatusError is an error that decides the HTTP answer it calls for: the
// status code and whether OpenHIM should retry the transaction (the
// envelope's error member). The HTTP layer honours any error with
// HTTPStatus() int and Retryable() bool methods, so other typed failures
// (a month not ready, say) slot in the same way.
type StatusError struct {
	Code  int
	Retry bool
	Err   error
}

func (e *StatusError) Error() string   { return e.Err.Error() }
func (e *StatusError) Unwrap() error   { return e.Err }
func (e *StatusError) HTTPStatus() int { return e.Code }
func (e *StatusError) Retryable() bool { return e.Retry }

// NotConfigured wraps why the mediator cannot export yet (no CHT or DHIS2
// configuration): 503, retried, as the configuration may arrive from the
// OpenHIM console at any time.
func NotConfigured(err error) error {
	return &StatusError{Code: 503, Retry: true, Err: err}
}

// IsInputError reports whether err was caused by the request itself.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// Preview reads CHT and builds the data value set of req, without calling
// DHIS2.
//
// Concurrent identical requests share one build: the first starts it, the
// others wait for it, and all get the same result (its slices are shared:
// treat them as read-only). The build runs detached from any one caller
// (keeping the first caller's context values, such as its orchestration
// recorder) and is canceled when every caller waiting for it has gone.
func (s *Service) Preview(ctx context.Context, req Request) (*Preview, error) {
	return s.shared(ctx, req, func(ctx context.Context) (*Preview, error) { return s.build(ctx, req) })
}

// shared runs build once for all concurrent calls with the same req.
func (s *Service) shared(ctx context.Context, req Request, build func(context.Context) (*Preview, error)) (*Preview, error) {
	res, _, err := s.flights.Do(ctx, req, build, nil)
	if pe := (*flight.PanicError)(nil); errors.As(err, &pe) {
		s.log.Error("panic while building a data value set", "data_set", req.DataSet,
			"period", req.Period.Period(), "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
		return nil, fmt.Errorf("build %s %s: %w", req.DataSet, req.Period, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build %s %s: %w", req.DataSet, req.Period, err)
		}
		return nil, err
	}
	p := *res
	return &p, nil
}

// waiting returns the number of callers waiting for the build of req (for
// tests).
func (s *Service) waiting(req Request) int { return s.flights.Waiting(req) }

// build reads CHT and builds the data value set of req.
func (s *Service) build(ctx context.Context, req Request) (*Preview, error) {
	op := fmt.Sprintf("build %s %s", req.DataSet, req.Period)
	settings, err := s.cht.Settings(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: read CHT settings: %w", op, err)
	}
	opts := aggregate.Options{DataSet: req.DataSet, OrgUnit: req.OrgUnit, Children: req.Children}
	b, err := aggregate.NewBuilder(opts, settings.DataSets, settings.Targets)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	// The replication logs are read while the month is; the fold records
	// the org units of the owners' places for the readiness (placeIndex).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logs := s.startLogs(ctx, op)
	places := newPlaceIndex(b)
	byUser := userDocs{}
	docs, owners, err := s.readMonth(ctx, op, req, b, byUser.add, places.add)
	if errors.Is(err, aggregate.ErrOwnerSplit) {
		// The source handed over an owner's docs apart (not in _id order,
		// or owners that differ from the ids): read again, keeping every
		// owner until the end.
		s.log.Warn("target docs of one owner are not together in _id order; reading the month again without batching",
			"data_set", req.DataSet, "period", req.Period.Period(), "err", err)
		if b, err = aggregate.NewBuilder(opts, settings.DataSets, settings.Targets); err != nil {
			return nil, &InputError{Err: err}
		}
		places = newPlaceIndex(b)
		docs, owners, err = s.readMonthWhole(ctx, op, req, b, byUser.add, places.add)
	}
	if s.onBuild != nil && docs > 0 {
		s.onBuild(req.DataSet, docs)
	}
	if err != nil {
		return nil, err
	}
	set := DataValueSet{
		DataSet:      req.DataSet,
		CompleteDate: s.now().Format(time.DateOnly),
		Period:       req.Period.Period(),
	}
	// The values go straight into their wire form: one copy of the result.
	res := b.ResultTo(nil, func(n int) { set.DataValues = make([]DataValue, 0, n) },
		func(dv aggregate.DataValue) { set.DataValues = append(set.DataValues, wireValue(dv, set.Period)) })
	if req.OrgUnit != "" && len(set.DataValues) == 0 {
		return nil, &InputError{Err: fmt.Errorf("org unit %q is not mapped on any CHT contact for data set %q", req.OrgUnit, req.DataSet)}
	}
	rd, err := s.readinessOf(ctx, op, req, settings, b, res, byUser, places, logs)
	if err != nil {
		return nil, err
	}
	s.log.Info("built data value set", "data_set", req.DataSet, "period", req.Period.Period(),
		"target_docs", docs, "owners", owners, "data_values", len(set.DataValues), "problems", len(res.Problems),
		"ready", rd.Ready, "readiness", rd.Ratio, "expected", rd.Expected)

	if req.HumanReadable {
		if err := s.label(ctx, &set, settings, res); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return &Preview{Set: set, Problems: res.Problems, Warnings: settings.Warnings, Stats: res.Stats, Readiness: rd}, nil
}

// docBatch is a run of the month's target docs, cut between two owners,
// with the owners it needs.
type docBatch struct {
	docs   []aggregate.TargetDoc
	ids    []string // distinct owners, sorted
	owners []aggregate.Owner
	err    error
	done   chan struct{} // closed once owners (or err) are set
}

// readMonth streams the month into b: the contacts view and the target docs
// are read at once, the docs cut into batches between owners, each batch's
// owners fetched by s.workers goroutines while later docs are read, and
// the batches folded into b in _id order from one goroutine (b is not safe
// for concurrent use), each flushed as soon as its owners are in. Memory
// holds the sums and at most batchesAhead batches, whatever the month's
// size. It returns the number of docs and owners.
func (s *Service) readMonth(ctx context.Context, op string, req Request, b *aggregate.Builder, seen func(aggregate.TargetDoc),
	flushed func([]aggregate.Owner) error) (int, int, error) {
	month := req.Period.DocMonth()
	prog, stop := s.startProgress(ctx, req)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)

	contacts := make(chan aggregate.Contact, 1024)
	g.Go(func() error {
		defer close(contacts)
		err := s.cht.Contacts(gctx, func(c aggregate.Contact) error {
			prog.contacts.Add(1)
			select {
			case contacts <- c:
				return nil
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		})
		if err != nil {
			return fmt.Errorf("%s: read CHT contacts: %w", op, err)
		}
		return nil
	})

	batches := make(chan *docBatch, batchesAhead) // in order, to the fold
	jobs := make(chan *docBatch, batchesAhead)    // to the owner workers
	var docs int
	g.Go(func() error {
		defer close(jobs)
		defer close(batches)
		cur := make([]aggregate.TargetDoc, 0, s.batchDocs)
		send := func() error {
			bt := &docBatch{docs: cur, ids: ownersOf(cur), done: make(chan struct{})}
			cur = make([]aggregate.TargetDoc, 0, s.batchDocs)
			for _, ch := range []chan *docBatch{batches, jobs} {
				select {
				case ch <- bt:
				case <-gctx.Done():
					return context.Cause(gctx)
				}
			}
			return nil
		}
		n, err := s.cht.TargetDocs(gctx, month, func(d aggregate.TargetDoc) error {
			prog.docs.Add(1)
			if len(cur) >= s.batchDocs && d.Owner != cur[len(cur)-1].Owner {
				if err := send(); err != nil {
					return err
				}
			}
			seen(d)
			cur = append(cur, d)
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: read CHT target docs %s: %w", op, month, err)
		}
		docs = n
		if len(cur) > 0 {
			return send()
		}
		return nil
	})

	for range s.workers {
		g.Go(func() error {
			for bt := range jobs {
				bt.owners, bt.err = s.cht.Owners(gctx, bt.ids)
				close(bt.done)
				if bt.err != nil {
					return fmt.Errorf("%s: read CHT owners: %w", op, bt.err)
				}
			}
			return nil
		})
	}

	owners := 0
	g.Go(func() error {
		for c := range contacts {
			b.AddContact(c)
		}
		if err := gctx.Err(); err != nil {
			return context.Cause(gctx)
		}
		for bt := range batches {
			select {
			case <-bt.done:
			case <-gctx.Done():
				return context.Cause(gctx)
			}
			if bt.err != nil {
				return fmt.Errorf("%s: read CHT owners: %w", op, bt.err)
			}
			for _, d := range bt.docs {
				b.AddTargetDoc(d)
			}
			if err := b.Flush(bt.owners); err != nil {
				return err
			}
			if err := flushed(bt.owners); err != nil {
				return err
			}
			owners += len(bt.ids)
			prog.owners.Add(int64(len(bt.ids)))
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	return docs, owners, nil
}

// readMonthWhole reads the month into b one step after the other, keeping
// every owner until the end: for a source whose docs do not come grouped
// by owner.
func (s *Service) readMonthWhole(ctx context.Context, op string, req Request, b *aggregate.Builder, seen func(aggregate.TargetDoc),
	flushed func([]aggregate.Owner) error) (int, int, error) {
	prog, stop := s.startProgress(ctx, req)
	defer stop()
	if err := s.cht.Contacts(ctx, func(c aggregate.Contact) error {
		prog.contacts.Add(1)
		b.AddContact(c)
		return nil
	}); err != nil {
		return 0, 0, fmt.Errorf("%s: read CHT contacts: %w", op, err)
	}
	docs, err := s.cht.TargetDocs(ctx, req.Period.DocMonth(), func(d aggregate.TargetDoc) error {
		seen(d)
		prog.docs.Add(1)
		b.AddTargetDoc(d)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("%s: read CHT target docs %s: %w", op, req.Period.DocMonth(), err)
	}
	ids := b.OwnerIDs()
	owners, err := s.cht.Owners(ctx, ids)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: read CHT owners: %w", op, err)
	}
	if err := b.Flush(owners); err != nil {
		return 0, 0, err
	}
	if err := flushed(owners); err != nil {
		return 0, 0, err
	}
	return docs, len(ids), nil
}

// ownersOf returns the distinct non-empty owners of docs, sorted.
func ownersOf(docs []aggregate.TargetDoc) []string {
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		if d.Owner != "" {
			ids = append(ids, d.Owner)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// label rewrites ids into CHT's names, as CHT's humanReadable option does:
// the data set's translated label, the org unit's contact name and the data
// element's target id.
func (s *Service) label(ctx context.Context, set *DataValueSet, settings cht.Settings, res aggregate.Result) error {
	translations, err := s.cht.Translations(ctx, s.locale)
	if err != nil {
		return fmt.Errorf("read CHT translations %s: %w", s.locale, err)
	}
	for _, ds := range settings.DataSets {
		if ds.ID == set.DataSet {
			set.DataSet = aggregate.DataSetLabel(ds, translations)
			break
		}
	}
	for i := range set.DataValues {
		dv := &set.DataValues[i]
		if name, ok := res.OrgUnitNames[dv.OrgUnit]; ok {
			dv.OrgUnit = name
		}
		if name, ok := res.DataElementNames[dv.DataElement]; ok {
			dv.DataElement = name
		}
	}
	return nil
}

// DataSets returns the ids of CHT's dhis_data_sets, in CHT's order: what an
// export without a data set covers.
func (s *Service) DataSets(ctx context.Context) ([]string, error) {
	settings, err := s.cht.Settings(ctx)
	if err != nil {
		return nil, fmt.Errorf("read CHT settings: %w", err)
	}
	ids := make([]string, 0, len(settings.DataSets))
	for _, ds := range settings.DataSets {
		ids = append(ids, ds.ID)
	}
	return ids, nil
}
