package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
)

// usersCHT is specExample with users and replication logs.
type usersCHT struct {
	*fakeCHT
	users   []cht.User
	logs    map[string]time.Time
	logsErr error
}

func (u *usersCHT) Users(_ context.Context, fn func(cht.User) error) error {
	for _, x := range u.users {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

func (u *usersCHT) LastReplications(context.Context) (map[string]time.Time, error) {
	return u.logs, u.logsErr
}

var (
	julyNow   = time.Date(2024, 7, 2, 9, 0, 0, 0, time.UTC)
	afterEnd  = time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC)
	beforeEnd = time.Date(2024, 6, 29, 8, 0, 0, 0, time.UTC)
)

// districtUsers: amina (final: doc of p1, synced after the end), zero (no
// doc, synced after the end), late (synced before the end), ghost (never),
// a supervisor with an online role and a CHW of another district.
func districtUsers() *usersCHT {
	f := specExample()
	f.owners["p2"] = aggregate.Owner{ID: "p2", Lineage: []string{"h1", "d1"}}
	f.owners["p3"] = aggregate.Owner{ID: "p3", Lineage: []string{"h1", "d1"}}
	f.owners["p4"] = aggregate.Owner{ID: "p4", Lineage: []string{"d1"}}
	f.owners["h1"] = aggregate.Owner{ID: "h1", Lineage: []string{"d1"}}
	f.owners["pX"] = aggregate.Owner{ID: "pX", Lineage: []string{"hX"}}
	f.settings.Roles = map[string]cht.Role{"chw": {Offline: true}, "supervisor": {}}
	return &usersCHT{fakeCHT: f,
		users: []cht.User{
			{Name: "amina", ContactID: "p1", Roles: []string{"chw"}},
			{Name: "zero", ContactID: "p2", Roles: []string{"chw"}},
			{Name: "late", FullName: "Late Lucy", ContactID: "p3", Roles: []string{"chw"}},
			{Name: "ghost", ContactID: "p4", Roles: []string{"chw"}},
			{Name: "boss", ContactID: "p5", FacilityIDs: []string{"h1"}, Roles: []string{"supervisor"}},
			{Name: "far", ContactID: "pX", Roles: []string{"chw"}},
			{Name: "facility-only", FacilityIDs: []string{"h1"}, Roles: []string{"chw"}},
		},
		logs: map[string]time.Time{"amina": afterEnd, "zero": afterEnd, "late": beforeEnd, "far": afterEnd, "facility-only": afterEnd},
	}
}

func newGateService(t *testing.T, src CHTSource, minReady float64, now time.Time) (*Service, *fakeDHIS2) {
	t.Helper()
	d := &fakeDHIS2{md: specMetadata()}
	s, err := New(src, Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DHIS2: d, MinReady: minReady,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func TestPreview_readiness(t *testing.T) {
	s, _ := newGateService(t, districtUsers(), 1, julyNow)
	p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Readiness
	if r == nil {
		t.Fatal("no readiness")
	}
	// boss has an online-only role; far is under no mapped org unit.
	if r.Expected != 5 || r.Final != 1 || r.NoActivity != 2 || r.Pending != 1 || r.NeverSynced != 1 || r.Source != readiness.SourceLogs {
		t.Fatalf("readiness = %+v", r)
	}
	if r.Ready || r.Reason != readiness.ReasonNotSynced || r.Ratio != 0.6 {
		t.Errorf("ready %v reason %q ratio %v", r.Ready, r.Reason, r.Ratio)
	}
	if len(r.PendingUsers) != 1 || r.PendingUsers[0].Username != "late" || r.PendingUsers[0].ContactName != "Late Lucy" ||
		r.PendingUsers[0].OrgUnit != "ouHc0000001" || !r.PendingUsers[0].LastReplication.Equal(beforeEnd) {
		t.Errorf("pending users = %+v", r.PendingUsers)
	}
	if len(r.NeverSyncedUsers) != 1 || r.NeverSyncedUsers[0].Username != "ghost" {
		t.Errorf("never synced = %+v", r.NeverSyncedUsers)
	}
	per := map[string]readiness.OrgUnit{}
	for _, ou := range r.OrgUnits {
		per[ou.OrgUnit] = ou
	}
	if per["ouDistrict1"].Expected != 5 || per["ouHc0000001"].Expected != 4 || per["ouHc0000001"].NeverSynced != 0 {
		t.Errorf("org units = %+v", r.OrgUnits)
	}

	// With an org unit, only the users under it are expected.
	p, err = s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t), OrgUnit: "ouHc0000001"})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Readiness; r.Expected != 4 || r.NeverSynced != 0 || len(r.OrgUnits) != 1 {
		t.Errorf("readiness of ouHc0000001 = %+v", r)
	}
}

func TestPreview_readinessFallback(t *testing.T) {
	src := districtUsers()
	src.logs, src.logsErr = nil, &cht.StatusError{Op: "fetch replication logs", StatusCode: 403}
	src.logsErr = errors.Join(src.logsErr, cht.ErrNoLogsAccess)
	s, _ := newGateService(t, src, 1, julyNow)
	p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
	if err != nil {
		t.Fatal(err)
	}
	// amina's doc was updated (updated_date 1) long before the end: pending.
	if r := p.Readiness; r.Source != readiness.SourceTargetDocs || r.Final != 0 || r.Pending != 5 || r.Note == "" {
		t.Errorf("fallback readiness = %+v", r)
	}

	src.logsErr = errors.New("cht: fetch replication logs: status 500")
	if _, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)}); err == nil ||
		!strings.Contains(err.Error(), "read CHT replication logs") {
		t.Errorf("a failing logs read = %v; want an error", err)
	}
}

func TestExport_gate(t *testing.T) {
	ready := func() *usersCHT {
		u := districtUsers()
		u.users = u.users[:2] // amina (final) and zero (no activity)
		return u
	}
	tests := []struct {
		name     string
		src      CHTSource
		minReady float64
		now      time.Time
		req      ExportRequest
		pushed   bool
		forced   bool
		notReady string // substring of the NotReadyError
		input    string // substring of an InputError
	}{
		{name: "ready month pushes", src: ready(), minReady: 1, now: julyNow, pushed: true},
		{name: "not synced is held back", src: districtUsers(), minReady: 1, now: julyNow,
			notReady: "export dsMonthly01 202406: month not ready: 2 of 5 CHWs have not synced since the month ended (2024-07-01; ready 60%, at least 100% needed): late, ghost (never synced)"},
		{name: "min_ready reached", src: districtUsers(), minReady: 0.6, now: julyNow, pushed: true},
		{name: "forced past the gate", src: districtUsers(), minReady: 1, now: julyNow, req: ExportRequest{Force: true}, pushed: true, forced: true},
		{name: "a dry run is not held back", src: districtUsers(), minReady: 1, now: julyNow, req: ExportRequest{DryRun: true}, pushed: true},
		{name: "unfinished month", src: ready(), minReady: 0, now: time.Date(2024, 6, 30, 23, 0, 0, 0, time.UTC),
			notReady: "month not ready: the month has not ended: it ends 2024-07-01 00:00 UTC"},
		{name: "future month", src: ready(), minReady: 0, now: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC),
			req: ExportRequest{Force: true}, input: "period 202406 has not begun"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := newGateService(t, tt.src, tt.minReady, tt.now)
			req := tt.req
			req.Request = Request{DataSet: "dsMonthly01", Period: june(t)}
			rep, err := s.Export(context.Background(), req)
			var nr *NotReadyError
			switch {
			case tt.notReady != "":
				if !errors.As(err, &nr) || !strings.Contains(err.Error(), tt.notReady) {
					t.Fatalf("Export() = %v; want a NotReadyError containing %q", err, tt.notReady)
				}
				if nr.Report == nil || nr.Report.Readiness == nil || nr.Report.Status != StatusFailed || !strings.HasPrefix(nr.Report.Error, "month not ready: ") {
					t.Errorf("NotReadyError.Report = %+v", nr.Report)
				}
				if d.mdCalls != 0 {
					t.Errorf("DHIS2 metadata read %d times; want none: the gate comes before DHIS2", d.mdCalls)
				}
			case tt.input != "":
				if !IsInputError(err) || !strings.Contains(err.Error(), tt.input) {
					t.Fatalf("Export() = %v; want an InputError containing %q", err, tt.input)
				}
			case err != nil:
				t.Fatalf("Export() = %v", err)
			default:
				if rep.Readiness == nil || rep.Forced != tt.forced || (rep.ForcedPast != "") != tt.forced {
					t.Errorf("report readiness %v forced %v %q; want forced %v", rep.Readiness != nil, rep.Forced, rep.ForcedPast, tt.forced)
				}
			}
			if got := len(d.pushed) > 0; got != tt.pushed {
				t.Errorf("pushed = %v; want %v", got, tt.pushed)
			}
		})
	}
}

func TestExport_emptyMonthIsHeldBack(t *testing.T) {
	src := districtUsers()
	src.docs = map[string][]aggregate.TargetDoc{}
	s, d := newGateService(t, src, 0, julyNow)
	_, err := s.Export(context.Background(), ExportRequest{Request: Request{DataSet: "dsMonthly01", Period: june(t)}})
	if !IsNotReady(err) || !strings.Contains(err.Error(), "CHT holds no target doc of this month") {
		t.Fatalf("Export() = %v; want not ready: empty", err)
	}
	if len(d.pushed) != 0 {
		t.Errorf("pushed %d values; want none", len(d.pushed))
	}
	rep, err := s.Export(context.Background(), ExportRequest{Request: Request{DataSet: "dsMonthly01", Period: june(t)}, Force: true})
	if err != nil || !rep.Forced || len(d.pushed) != 4 {
		t.Errorf("forced: %v, %+v, %d values pushed; want the 4 zeros", err, rep, len(d.pushed))
	}
}

func TestReadinessOK(t *testing.T) {
	p := readiness.PeriodOf(2024, time.June, 1, time.UTC)
	users := []readiness.User{
		{Name: "a", OrgUnits: []string{"ouDistrict1", "ouHcA"}, HasDoc: true, DocUpdated: p.End},
		{Name: "b", OrgUnits: []string{"ouDistrict1", "ouHcB"}},
	}
	notReady := readiness.Compute(readiness.Input{Period: p, Now: p.End.Add(time.Hour), Source: readiness.SourceLogs, MinReady: 1, TargetDocs: 1, Users: users})
	ready := readiness.Compute(readiness.Input{Period: p, Now: p.End.Add(time.Hour), Source: readiness.SourceLogs, MinReady: 0.5, TargetDocs: 1, Users: users})
	unfinished := readiness.Compute(readiness.Input{Period: p, Now: p.End.Add(-time.Hour), Source: readiness.SourceLogs, MinReady: 0, TargetDocs: 1, Users: users})
	tests := []struct {
		name string
		r    *readiness.Object
		ou   string
		want bool
	}{
		{"unknown readiness", nil, "ouHcB", true},
		{"ready month", ready, "ouHcB", true},
		{"forced: an org unit whose CHWs all synced", notReady, "ouHcA", true},
		{"forced: an org unit with a CHW pending", notReady, "ouHcB", false},
		{"forced: the district", notReady, "ouDistrict1", false},
		{"forced: an unfinished month", unfinished, "ouHcA", false},
	}
	for _, tt := range tests {
		if got := readinessOK(&Report{Readiness: tt.r}, tt.ou); got != tt.want {
			t.Errorf("%s: readinessOK(%s) = %v; want %v", tt.name, tt.ou, got, tt.want)
		}
	}
}

// The readiness takes the org units of the users' places from the owners
// the month's read fetched (and their lineages): no place is asked for
// twice, and the readiness is the same as from a fetch of every place.
func TestPreview_readinessReusesOwners(t *testing.T) {
	src := districtUsers()
	s, _ := newGateService(t, src, 1, julyNow)
	p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range src.askedOwners {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("owner %s asked for %d times; want once (asked: %v)", id, n, src.askedOwners)
		}
	}
	// p1 owns a target doc and h1 is in its lineage, so neither is fetched
	// for the readiness; p2, p3, p4 and pX own none this month, so they
	// are. p5 is boss's, whose role computes no targets: not needed.
	if seen["h1"] != 0 || seen["p5"] != 0 {
		t.Errorf("h1 (in an owner's lineage) or p5 (not a CHW's) was fetched; asked: %v", src.askedOwners)
	}
	for _, id := range []string{"p2", "p3", "p4", "pX"} {
		if seen[id] != 1 {
			t.Errorf("%s asked for %d times; want 1 (asked: %v)", id, seen[id], src.askedOwners)
		}
	}
	if r := p.Readiness; r.Expected != 5 || r.Final != 1 || r.NoActivity != 2 || r.Pending != 1 || r.NeverSynced != 1 {
		t.Errorf("readiness = %+v", r)
	}
}

func TestParseUUID(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"00015eab-e868-484d-a8c8-dead223021f9", true},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"00015EAB-e868-484d-a8c8-dead223021f9", false}, // upper case: kept as a string
		{"00015eab-e868-484d-a8c8-dead223021f", false},
		{"00015eab0e868-484d-a8c8-dead223021f9", false},
		{"00015eab-e868-484d-a8c8-dead223021g9", false},
		{"district-1", false},
		{"", false},
	}
	for _, tc := range tests {
		u, ok := parseUUID(tc.in)
		if ok != tc.ok {
			t.Errorf("parseUUID(%q) ok = %v; want %v", tc.in, ok, tc.ok)
			continue
		}
		if ok {
			if got := fmt.Sprintf("%x-%x-%x-%x-%x", u[:4], u[4:6], u[6:8], u[8:10], u[10:]); got != tc.in {
				t.Errorf("parseUUID(%q) = %s", tc.in, got)
			}
		}
	}
}

// placeIndexOf returns an empty place index over a builder of f's
// contacts for dsMonthly01.
func placeIndexOf(t *testing.T, f *fakeCHT) *placeIndex {
	t.Helper()
	b, err := aggregate.NewBuilder(aggregate.Options{DataSet: "dsMonthly01"}, f.settings.DataSets, f.settings.Targets)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range f.contacts {
		b.AddContact(c)
	}
	return newPlaceIndex(b)
}

// placeIndex keeps uuid and other ids apart, and never confuses two.
func TestPlaceIndex_ids(t *testing.T) {
	x := placeIndexOf(t, specExample())
	const p1 = "00015eab-e868-484d-a8c8-dead223021f9"
	_ = x.add([]aggregate.Owner{{ID: p1, Lineage: []string{"h1", "d1"}}, {ID: "P-UPPER", Lineage: []string{"d1"}}})
	for _, id := range []string{p1, "h1", "d1", "P-UPPER"} {
		if _, ok := x.get(id); !ok {
			t.Errorf("place %s not found", id)
		}
	}
	for _, id := range []string{"00015eab-e868-484d-a8c8-dead223021f8", "p1", "h2"} {
		if _, ok := x.get(id); ok {
			t.Errorf("place %s found; never added", id)
		}
	}
	a, _ := x.get(p1)
	h, _ := x.get("h1")
	if !slices.Equal(a.orgUnits, h.orgUnits) || a.nearest != h.nearest || len(a.orgUnits) == 0 {
		t.Errorf("p1 %+v and its parent h1 %+v; want the same org units", a, h)
	}
}

// pagedUsers lists users and fails after failAfter of them when err is set.
type pagedUsers struct {
	users     []cht.User
	failAfter int
	err       error
	stopped   error // the error fn returned, if any
}

func (p *pagedUsers) Users(_ context.Context, fn func(cht.User) error) error {
	for i, u := range p.users {
		if p.err != nil && i == p.failAfter {
			return p.err
		}
		if err := fn(u); err != nil {
			p.stopped = err
			return err
		}
	}
	return nil
}

func (p *pagedUsers) LastReplications(context.Context) (map[string]time.Time, error) {
	return nil, nil
}

// eachUserBatch hands over the users that compute targets, in order, in
// batches; a failed read is wrapped with the operation, fn's error comes
// back as is and stops the read.
func TestEachUserBatch(t *testing.T) {
	settings := cht.Settings{Roles: map[string]cht.Role{"chw": {Offline: true}, "supervisor": {}}}
	var users, want []string
	var list []cht.User
	for i := range 10*userBatch + 7 { // more batches than the hand-over holds
		u := cht.User{Name: fmt.Sprintf("u%04d", i), Roles: []string{"chw"}}
		switch i % 5 {
		case 1:
			u.Roles = []string{"supervisor"} // online: computes no targets
		case 2:
			u.Roles = nil
		default:
			want = append(want, u.Name)
		}
		list = append(list, u)
	}
	readFailed := errors.New("connection reset")
	classifyFailed := errors.New("owners unreachable")
	tests := []struct {
		name      string
		src       *pagedUsers
		failOn    int // fn fails on its failOn-th call when > 0
		want      []string
		wantErr   error
		errPrefix string
	}{
		{name: "all users in order", src: &pagedUsers{users: list}, want: want},
		{name: "no users", src: &pagedUsers{}, want: nil},
		{name: "read fails", src: &pagedUsers{users: list, failAfter: userBatch + 3, err: readFailed},
			wantErr: readFailed, errPrefix: "build ds 202406: read CHT users: "},
		{name: "fn fails", src: &pagedUsers{users: list}, failOn: 1, wantErr: classifyFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users = users[:0]
			calls := 0
			err := eachUserBatch(context.Background(), "build ds 202406", tt.src, settings, func(_ context.Context, batch []cht.User) error {
				calls++
				if len(batch) == 0 || len(batch) > userBatch {
					t.Errorf("batch of %d users; want 1 to %d", len(batch), userBatch)
				}
				if calls == tt.failOn {
					return classifyFailed
				}
				for _, u := range batch {
					if u.Roles == nil || !settings.ComputesTargets(u.Roles) {
						t.Errorf("user %s (roles %v) handed over; computes no targets", u.Name, u.Roles)
					}
					users = append(users, u.Name)
				}
				return nil
			})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !slices.Equal(users, tt.want) {
					t.Errorf("got %d users %v…; want %d", len(users), users[:min(len(users), 5)], len(tt.want))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.HasPrefix(err.Error(), tt.errPrefix) {
				t.Fatalf("err = %v; want %v prefixed %q", err, tt.wantErr, tt.errPrefix)
			}
			if tt.wantErr == classifyFailed && (err != classifyFailed || tt.src.stopped == nil) {
				t.Errorf("err = %v, read stopped by %v; want fn's error as is, and the read stopped", err, tt.src.stopped)
			}
		})
	}
}

// placeIndex.add gives each owner and ancestor the org units at and above
// it, and the nearest of them.
func TestPlaceIndex_add(t *testing.T) {
	f := specExample()
	f.contacts = append(f.contacts,
		aggregate.Contact{ID: "pm", Name: "Mapped person", Lineage: []string{"h1", "d1"},
			OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouPerson001"}}},
		aggregate.Contact{ID: "d2", Name: "District Two", OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouDistrict2"}}})
	hc := []string{"ouDistrict1", "ouHc0000001"}
	tests := []struct {
		name    string
		owners  []aggregate.Owner
		place   string
		want    []string
		nearest string
	}{
		{name: "person under a known parent", place: "p2",
			owners: []aggregate.Owner{{ID: "p1", Lineage: []string{"h1", "d1"}}, {ID: "p2", Lineage: []string{"h1", "d1"}}},
			want:   hc, nearest: "ouHc0000001"},
		{name: "ancestors of the first owner", place: "h1",
			owners: []aggregate.Owner{{ID: "p1", Lineage: []string{"h1", "d1"}}}, want: hc, nearest: "ouHc0000001"},
		{name: "unmapped area between", place: "p1",
			owners: []aggregate.Owner{{ID: "p1", Lineage: []string{"a1", "h1", "d1"}}}, want: hc, nearest: "ouHc0000001"},
		{name: "owner with an org unit of its own", place: "pm",
			owners: []aggregate.Owner{{ID: "p1", Lineage: []string{"h1", "d1"}}, {ID: "pm", Lineage: []string{"h1", "d1"}}},
			want:   []string{"ouDistrict1", "ouHc0000001", "ouPerson001"}, nearest: "ouPerson001"},
		{name: "owner without lineage", place: "d1",
			owners: []aggregate.Owner{{ID: "d1"}}, want: []string{"ouDistrict1"}, nearest: "ouDistrict1"},
		{name: "empty ancestor id", place: "p3",
			owners: []aggregate.Owner{{ID: "p3", Lineage: []string{"", "d1"}}}, want: []string{"ouDistrict1"}, nearest: "ouDistrict1"},
		{name: "an owner's own doc over a child's lineage", place: "a1",
			owners: []aggregate.Owner{{ID: "p1", Lineage: []string{"a1", "h1", "d1"}}, {ID: "a1", Lineage: []string{"d2"}}},
			want:   []string{"ouDistrict2"}, nearest: "ouDistrict2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := placeIndexOf(t, f)
			if err := x.add(tt.owners); err != nil {
				t.Fatal(err)
			}
			got, ok := x.get(tt.place)
			if !ok {
				t.Fatalf("place %s not found", tt.place)
			}
			if !slices.Equal(got.orgUnits, tt.want) || got.nearest != tt.nearest {
				t.Errorf("place %s: org units %v nearest %q; want %v nearest %q", tt.place, got.orgUnits, got.nearest, tt.want, tt.nearest)
			}
		})
	}
}

// failingUsers fails the users read after some users, or the fetch of the
// users' contacts that no owner of the month showed.
type failingUsers struct {
	*usersCHT
	usersErr  error // after the first two users
	ownersErr error // when asked for p2, a contact only a user names
}

func (f *failingUsers) Users(ctx context.Context, fn func(cht.User) error) error {
	if f.usersErr == nil {
		return f.usersCHT.Users(ctx, fn)
	}
	for _, u := range f.users[:2] {
		if err := fn(u); err != nil {
			return err
		}
	}
	return f.usersErr
}

func (f *failingUsers) Owners(ctx context.Context, ids []string) ([]aggregate.Owner, error) {
	if f.ownersErr != nil && slices.Contains(ids, "p2") {
		return nil, f.ownersErr
	}
	return f.usersCHT.Owners(ctx, ids)
}

// A readiness read that fails fails the preview with what failed, never a
// readiness computed without it.
func TestPreview_readinessReadFails(t *testing.T) {
	reset := errors.New("connection reset by peer")
	tests := []struct {
		name    string
		src     *failingUsers
		wantMsg string
	}{
		{"users read", &failingUsers{usersCHT: districtUsers(), usersErr: reset},
			"build dsMonthly01 202406: read CHT users: connection reset by peer"},
		{"users' contacts", &failingUsers{usersCHT: districtUsers(), ownersErr: reset},
			"build dsMonthly01 202406: read the contacts of CHT users: connection reset by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newGateService(t, tt.src, 1, julyNow)
			p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
			if err == nil {
				t.Fatalf("preview = %+v; want an error", p.Readiness)
			}
			if !errors.Is(err, reset) || err.Error() != tt.wantMsg || IsInputError(err) {
				t.Errorf("err = %q (input error %v); want %q wrapping the read's error", err, IsInputError(err), tt.wantMsg)
			}
		})
	}
}
