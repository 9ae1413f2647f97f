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
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
)

// CHTSource is what the service reads from CHT. *cht.Client implements it.
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
}

// Service runs previews (and, later, exports) of CHT data as DHIS2 data
// value sets.
type Service struct {
	cht    CHTSource
	dhis2  DHIS2Target
	locale string
	now    func() time.Time
	log    *slog.Logger
}

// New returns a Service reading CHT through src.
func New(src CHTSource, opts Options) (*Service, error) {
	if src == nil {
		return nil, errors.New("export: a CHT source is required")
	}
	if opts.Logger == nil {
		return nil, errors.New("export: a logger is required")
	}
	s := &Service{cht: src, dhis2: opts.DHIS2, locale: opts.Locale, now: opts.Now, log: opts.Logger.With("component", "export")}
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
}

// InputError marks an error caused by the request itself (an unknown data
// set, a data set with no mapped targets), as opposed to an upstream failure.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// IsInputError reports whether err was caused by the request itself.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// Preview reads CHT and builds the data value set of req, without calling
// DHIS2.
func (s *Service) Preview(ctx context.Context, req Request) (*Preview, error) {
	op := fmt.Sprintf("build %s %s", req.DataSet, req.Period)
	settings, err := s.cht.Settings(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: read CHT settings: %w", op, err)
	}
	b, err := aggregate.NewBuilder(aggregate.Options{
		DataSet:  req.DataSet,
		OrgUnit:  req.OrgUnit,
		Children: req.Children,
	}, settings.DataSets, settings.Targets)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if err := s.cht.Contacts(ctx, func(c aggregate.Contact) error {
		b.AddContact(c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%s: read CHT contacts: %w", op, err)
	}
	docs, err := s.cht.TargetDocs(ctx, req.Period.DocMonth(), func(d aggregate.TargetDoc) error {
		b.AddTargetDoc(d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: read CHT target docs %s: %w", op, req.Period.DocMonth(), err)
	}
	ownerIDs := b.OwnerIDs()
	owners, err := s.cht.Owners(ctx, ownerIDs)
	if err != nil {
		return nil, fmt.Errorf("%s: read CHT owners: %w", op, err)
	}
	res := b.Result(owners)
	if req.OrgUnit != "" && len(res.DataValues) == 0 {
		return nil, &InputError{Err: fmt.Errorf("org unit %q is not mapped on any CHT contact for data set %q", req.OrgUnit, req.DataSet)}
	}
	s.log.Info("built data value set", "data_set", req.DataSet, "period", req.Period.Period(),
		"target_docs", docs, "owners", len(ownerIDs), "data_values", len(res.DataValues), "problems", len(res.Problems))

	set := DataValueSet{
		DataSet:      req.DataSet,
		CompleteDate: s.now().Format(time.DateOnly),
		Period:       req.Period.Period(),
		DataValues:   make([]DataValue, 0, len(res.DataValues)),
	}
	for _, dv := range res.DataValues {
		set.DataValues = append(set.DataValues, wireValue(dv, set.Period))
	}
	if req.HumanReadable {
		if err := s.label(ctx, &set, settings, res); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return &Preview{Set: set, Problems: res.Problems, Warnings: settings.Warnings, Stats: res.Stats}, nil
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
