package export

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
)

// UserSource is what the readiness of a month needs from CHT beyond the
// target docs: the users and their last replications. *cht.Client
// implements it. A CHTSource without it gets a readiness with nobody
// expected (only the month's end and its target docs are judged).
type UserSource interface {
	Users(ctx context.Context, fn func(cht.User) error) error
	// LastReplications fails with an error matching cht.ErrNoLogsAccess when
	// the logs database cannot be read; the readiness then falls back to the
	// target docs.
	LastReplications(ctx context.Context) (map[string]time.Time, error)
}

// NotReadyError is an export held back by the readiness gate: the month has
// not ended, CHT holds no target doc of it for the requested org units, or
// too few CHWs have synced it. Nothing was sent to DHIS2. Report is what
// the export would have reported, with the readiness.
type NotReadyError struct {
	DataSet, Period string
	Readiness       *readiness.Object
	Report          *Report
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("export %s %s: month not ready: %s", e.DataSet, e.Period, e.Readiness.Message)
}

// HTTPStatus is 409 Conflict: the request is valid, the month is not ready
// for it yet.
func (e *NotReadyError) HTTPStatus() int { return 409 }

// Retryable is true: the CHWs' next syncs may make the month ready, so
// OpenHIM should retry the export (the answer carries the envelope's error
// member, which flags the transaction for core's auto-retry).
func (e *NotReadyError) Retryable() bool { return true }

// IsNotReady reports whether err is (or wraps) a *NotReadyError.
func IsNotReady(err error) bool {
	var nr *NotReadyError
	return errors.As(err, &nr)
}

// userDocs remembers, per username, the latest updated_date of the user's
// target docs of the month (from the doc ids,
// target~<month>~<contact>~org.couchdb.user:<username>).
type userDocs map[string]int64

func (u userDocs) add(d aggregate.TargetDoc) {
	i := strings.LastIndex(d.ID, "~"+cht.UserSettingsPrefix)
	if i < 0 || d.Malformed != "" {
		return
	}
	name := d.ID[i+1+len(cht.UserSettingsPrefix):]
	if name == "" {
		return
	}
	if cur, ok := u[name]; !ok || d.UpdatedDate > cur {
		u[strings.Clone(name)] = d.UpdatedDate
	}
}

// logRead is the users' last replications, from CHT's medic-logs.
type logRead struct {
	logs   map[string]time.Time
	source string
	err    error
}

// startLogs reads the users' last replications in the background, while
// the month is read. The result is read from the returned channel once.
func (s *Service) startLogs(ctx context.Context, op string) <-chan logRead {
	out := make(chan logRead, 1)
	us, ok := s.cht.(UserSource)
	if !ok {
		out <- logRead{source: readiness.SourceLogs}
		return out
	}
	go func() {
		logs, err := us.LastReplications(ctx)
		switch {
		case errors.Is(err, cht.ErrNoLogsAccess):
			s.log.Warn("cannot read CHT's replication logs; month readiness falls back to the target docs' updated_date",
				"err", err)
			out <- logRead{source: readiness.SourceTargetDocs}
		case err != nil:
			out <- logRead{err: fmt.Errorf("%s: read CHT replication logs: %w", op, err)}
		default:
			out <- logRead{logs: logs, source: readiness.SourceLogs}
		}
	}()
	return out
}

// placeOrgUnits are the org units at and above one CHT place, and the
// nearest of them (the place's own, else its closest ancestor's).
type placeOrgUnits struct {
	orgUnits []string
	nearest  string
}

// placeIndex knows the org units of CHT places: of every owner the month's
// read fetched and of their ancestors, so that the readiness finds a
// user's contact (usually an owner of a target doc) and facility (in that
// owner's lineage) without fetching them again. It keeps one small index
// per place; places with the same org units share them.
type placeIndex struct {
	b     *aggregate.Builder
	uuids map[[16]byte]int32 // places whose id is a uuid, as CHT makes them
	ids   map[string]int32   // other places
	sets  []placeOrgUnits
	setOf map[string]int32 // org units and nearest, joined → index in sets
}

func newPlaceIndex(b *aggregate.Builder) *placeIndex {
	return &placeIndex{b: b, uuids: map[[16]byte]int32{}, ids: map[string]int32{}, setOf: map[string]int32{}}
}

// parseUUID parses a lower-case canonical uuid
// (8-4-4-4-12 hex digits), the form of the ids CHT gives contacts.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if s[i] == '-' {
			i--
			continue
		}
		hi, lo := hexValue[s[i]], hexValue[s[i+1]]
		if hi|lo < 0 {
			return u, false
		}
		u[j] = byte(hi<<4 | lo)
		j++
	}
	return u, true
}

// hexValue is the value of each lower-case hex digit, -1 for other bytes.
var hexValue = func() (t [256]int8) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = int8(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = int8(c - 'a' + 10)
		default:
			t[c] = -1
		}
	}
	return t
}()

func (x *placeIndex) lookup(place string) (int32, bool) {
	if u, ok := parseUUID(place); ok {
		i, ok := x.uuids[u]
		return i, ok
	}
	i, ok := x.ids[place]
	return i, ok
}

func (x *placeIndex) store(place string, i int32) {
	if u, ok := parseUUID(place); ok {
		x.uuids[u] = i
		return
	}
	x.ids[place] = i
}

// add records owners and their ancestors. It is called from the fold,
// after the owners' batch is flushed into b.
func (x *placeIndex) add(owners []aggregate.Owner) error {
	for _, o := range owners {
		// Most owners (a CHW's person) have no org unit of their own:
		// they have their parent's, as put would find. The owner's own
		// doc tells its lineage, so it is recorded even when a child's
		// lineage named the owner first.
		if parent, ok := x.parentOf(o.Lineage); ok && o.ID != "" && len(x.b.OrgUnitsUnder(o.ID, nil)) == 0 {
			x.store(o.ID, parent)
			continue
		}
		x.put(o.ID, o.Lineage)
	}
	return nil
}

// parentOf returns the index of the first place of lineage (parent
// first), putting the lineage first when that place is not known yet.
// Ancestors are put top-down, so a known parent has known ancestors: most
// owners share their parent with an owner already seen.
func (x *placeIndex) parentOf(lineage []string) (int32, bool) {
	if len(lineage) == 0 {
		return 0, false
	}
	if i, ok := x.lookup(lineage[0]); ok {
		return i, true
	}
	for i := len(lineage) - 1; i >= 0; i-- {
		x.put(lineage[i], lineage[i+1:])
	}
	return x.lookup(lineage[0]) // not found for an empty id
}

// put records place, whose ancestors are lineage (parent first), once. A
// place with no org unit of its own has its parent's.
func (x *placeIndex) put(place string, lineage []string) {
	if _, ok := x.lookup(place); ok || place == "" {
		return
	}
	own := x.b.OrgUnitsUnder(place, nil)
	if len(own) == 0 && len(lineage) > 0 {
		if i, ok := x.lookup(lineage[0]); ok {
			x.store(place, i)
			return
		}
	}
	p := placeOrgUnits{orgUnits: x.b.OrgUnitsUnder(place, lineage)}
	for _, id := range append([]string{place}, lineage...) {
		if own := x.b.OrgUnitsUnder(id, nil); len(own) > 0 {
			p.nearest = own[0]
			break
		}
	}
	key := strings.Join(p.orgUnits, "\x00") + "\x01" + p.nearest
	i, ok := x.setOf[key]
	if !ok {
		i = int32(len(x.sets))
		x.sets = append(x.sets, p)
		x.setOf[key] = i
	}
	x.store(place, i)
}

// get returns the org units of place, if known.
func (x *placeIndex) get(place string) (placeOrgUnits, bool) {
	i, ok := x.lookup(place)
	if !ok {
		return placeOrgUnits{}, false
	}
	return x.sets[i], true
}

// userPlaces yields the places of u: its contact, then its facilities,
// skipping empty ids.
func userPlaces(u cht.User) iter.Seq[string] {
	return func(yield func(string) bool) {
		if u.ContactID != "" && !yield(u.ContactID) {
			return
		}
		for _, place := range u.FacilityIDs {
			if place != "" && !yield(place) {
				return
			}
		}
	}
}

// readinessOf computes the readiness of the month just built in b. The
// users are streamed (eachUserBatch): each batch is classified while the
// next is read, with the org units of the users' places from places;
// places no owner of the month showed are fetched in batches.
func (s *Service) readinessOf(ctx context.Context, op string, req Request, settings cht.Settings, b *aggregate.Builder,
	res aggregate.Result, docs userDocs, places *placeIndex, logs <-chan logRead) (*readiness.Object, error) {
	var lr logRead
	select {
	case lr = <-logs:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if lr.err != nil {
		return nil, lr.err
	}
	now := s.now()
	tally := readiness.NewTally(readiness.Input{
		Period: readiness.PeriodOf(req.Period.Year, req.Period.Month, settings.MonthStartDate, now.Location()),
		Now:    now, Source: lr.source, MinReady: s.minReady, TargetDocs: res.Stats.Counted,
		OrgUnits: res.OrgUnits, OrgUnitNames: res.OrgUnitNames,
	})
	us, ok := s.cht.(UserSource)
	if !ok {
		return tally.Object(), nil
	}
	// placesOf returns the org units of u's known places, its contact
	// first, each looked up once; missing gets the places not known yet.
	var buf []placeOrgUnits
	placesOf := func(u cht.User, missing func(string)) []placeOrgUnits {
		buf = buf[:0]
		for place := range userPlaces(u) {
			if p, ok := places.get(place); ok {
				buf = append(buf, p)
			} else if missing != nil {
				missing(place)
			}
		}
		return buf
	}
	var ous []string // reused: the tally keeps no user's org units
	add := func(u cht.User, found []placeOrgUnits) {
		ous = ous[:0]
		nearest := ""
		for _, p := range found {
			ous = append(ous, p.orgUnits...)
			if nearest == "" {
				nearest = p.nearest
			}
		}
		if len(ous) == 0 {
			return
		}
		slices.Sort(ous)
		ru := readiness.User{Name: u.Name, Contact: u.ContactID, ContactName: u.FullName,
			OrgUnits: slices.Compact(ous), OrgUnit: nearest, LastReplication: lr.logs[u.Name]}
		if ms, ok := docs[u.Name]; ok {
			ru.HasDoc = true
			ru.DocUpdated = time.UnixMilli(ms).In(now.Location())
		}
		tally.Add(ru)
	}
	// Users with a place no owner showed wait for one fetch of a batch of
	// such places.
	var waiting []cht.User
	missing := map[string]bool{}
	fetch := func(ctx context.Context) error {
		if len(missing) == 0 {
			return nil
		}
		ids := slices.Sorted(maps.Keys(missing))
		owners, err := s.cht.Owners(ctx, ids)
		if err != nil {
			return fmt.Errorf("%s: read the contacts of CHT users: %w", op, err)
		}
		for _, o := range owners {
			places.put(o.ID, o.Lineage)
		}
		for _, u := range waiting {
			add(u, placesOf(u, nil))
		}
		waiting, missing = waiting[:0], map[string]bool{}
		return nil
	}
	batch := max(s.batchDocs, 1)
	err := eachUserBatch(ctx, op, us, settings, func(ctx context.Context, users []cht.User) error {
		for _, u := range users {
			known := true
			found := placesOf(u, func(place string) {
				missing[place] = true
				known = false
			})
			if known {
				add(u, found)
				continue
			}
			waiting = append(waiting, u)
			if len(missing) >= batch {
				if err := fetch(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := fetch(ctx); err != nil {
		return nil, err
	}
	return tally.Object(), nil
}

// userBatch is how many users eachUserBatch decodes ahead of their
// classification, per hand-over.
const userBatch = 256

// eachUserBatch reads the users whose roles compute targets and hands them
// to fn in batches, in _id order: the user-settings docs are read and
// decoded in one goroutine while fn classifies the previous batch in
// another, so the two run on two cores. A failed read is wrapped; fn's
// error is returned as is, and either stops the other.
func eachUserBatch(ctx context.Context, op string, us UserSource, settings cht.Settings, fn func(context.Context, []cht.User) error) error {
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []cht.User, 2)
	g.Go(func() error {
		defer close(batches)
		cur := make([]cht.User, 0, userBatch)
		send := func() error {
			select {
			case batches <- cur:
				cur = make([]cht.User, 0, userBatch)
				return nil
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		}
		err := us.Users(gctx, func(u cht.User) error {
			if len(u.Roles) == 0 || !settings.ComputesTargets(u.Roles) {
				return nil
			}
			cur = append(cur, u)
			if len(cur) == cap(cur) {
				return send()
			}
			return nil
		})
		if err == nil && len(cur) > 0 {
			err = send()
		}
		if err != nil {
			return fmt.Errorf("%s: read CHT users: %w", op, err)
		}
		return nil
	})
	g.Go(func() error {
		for users := range batches {
			if err := fn(gctx, users); err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// Readiness builds the month of req and returns its readiness. A month that
// has not begun is the request's mistake (an InputError).
func (s *Service) Readiness(ctx context.Context, req Request) (*readiness.Object, error) {
	req.HumanReadable = false
	p, err := s.Preview(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := NotBegun(req.Period, p.Readiness, s.now()); err != nil {
		return nil, err
	}
	return p.Readiness, nil
}

// NotBegun returns an InputError when month has not begun at now (by CHT's
// reporting interval in r), nil otherwise: nobody can report, pull or
// export a future month, so asking for one is the request's mistake.
func NotBegun(month aggregate.Month, r *readiness.Object, now time.Time) error {
	if r == nil || !now.Before(r.MonthStart) {
		return nil
	}
	return &InputError{Err: fmt.Errorf("period %s has not begun (it begins %s): a future month cannot be reported",
		month.Period(), r.MonthStart.Format(time.DateOnly))}
}
