package readiness

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPeriodOf(t *testing.T) {
	utc := time.UTC
	tests := []struct {
		name       string
		y          int
		m          time.Month
		startDay   int
		start, end time.Time
	}{
		{"calendar month", 2024, time.June, 1, time.Date(2024, 6, 1, 0, 0, 0, 0, utc), time.Date(2024, 7, 1, 0, 0, 0, 0, utc)},
		{"december", 2024, time.December, 1, time.Date(2024, 12, 1, 0, 0, 0, 0, utc), time.Date(2025, 1, 1, 0, 0, 0, 0, utc)},
		{"start day 26", 2024, time.June, 26, time.Date(2024, 5, 26, 0, 0, 0, 0, utc), time.Date(2024, 6, 26, 0, 0, 0, 0, utc)},
		{"start day 31 in february", 2023, time.February, 31, time.Date(2023, 1, 31, 0, 0, 0, 0, utc), time.Date(2023, 3, 1, 0, 0, 0, 0, utc)},
		{"start day 31 after a 30-day month", 2024, time.May, 31, time.Date(2024, 5, 1, 0, 0, 0, 0, utc), time.Date(2024, 5, 31, 0, 0, 0, 0, utc)},
		{"out of range counts as 1", 2024, time.June, 40, time.Date(2024, 6, 1, 0, 0, 0, 0, utc), time.Date(2024, 7, 1, 0, 0, 0, 0, utc)},
		{"zero counts as 1", 2024, time.June, 0, time.Date(2024, 6, 1, 0, 0, 0, 0, utc), time.Date(2024, 7, 1, 0, 0, 0, 0, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PeriodOf(tt.y, tt.m, tt.startDay, utc)
			if !p.Start.Equal(tt.start) || !p.End.Equal(tt.end) {
				t.Errorf("PeriodOf(%d, %v, %d) = [%v, %v); want [%v, %v)", tt.y, tt.m, tt.startDay, p.Start, p.End, tt.start, tt.end)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	end := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	before, after := end.Add(-time.Hour), end.Add(48*time.Hour)
	tests := []struct {
		name   string
		u      User
		source string
		want   Class
	}{
		{"doc and sync after the end", User{HasDoc: true, DocUpdated: before, LastReplication: after}, SourceLogs, Final},
		{"doc updated after the end, last sync before", User{HasDoc: true, DocUpdated: end, LastReplication: before}, SourceLogs, Final},
		{"doc updated after the end, no log", User{HasDoc: true, DocUpdated: after}, SourceLogs, Final},
		{"synced after the end without a doc", User{LastReplication: after}, SourceLogs, NoActivity},
		{"synced exactly at the end without a doc", User{LastReplication: end}, SourceLogs, NoActivity},
		{"doc, last sync before the end", User{HasDoc: true, DocUpdated: before, LastReplication: before}, SourceLogs, Pending},
		{"no doc, last sync before the end", User{LastReplication: before}, SourceLogs, Pending},
		{"doc but no log", User{HasDoc: true, DocUpdated: before}, SourceLogs, Pending},
		{"nothing at all", User{}, SourceLogs, NeverSynced},
		{"fallback: doc after the end", User{HasDoc: true, DocUpdated: after}, SourceTargetDocs, Final},
		{"fallback: doc before the end", User{HasDoc: true, DocUpdated: before}, SourceTargetDocs, Pending},
		{"fallback: no doc", User{}, SourceTargetDocs, Pending},
		{"fallback ignores replication times", User{LastReplication: after}, SourceTargetDocs, Pending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.u, end, tt.source); got != tt.want {
				t.Errorf("Classify(%+v, %s) = %s; want %s", tt.u, tt.source, got, tt.want)
			}
		})
	}
}

func TestCompute(t *testing.T) {
	p := PeriodOf(2024, time.June, 1, time.UTC)
	after, before := p.End.Add(72*time.Hour), p.End.Add(-72*time.Hour)
	users := []User{
		{Name: "final1", OrgUnits: []string{"ouDistrict", "ouHcA"}, HasDoc: true, DocUpdated: before, LastReplication: after},
		{Name: "zero1", OrgUnits: []string{"ouDistrict", "ouHcA"}, LastReplication: after},
		{Name: "late1", Contact: "c-late", ContactName: "Late CHW", OrgUnits: []string{"ouDistrict", "ouHcB"}, HasDoc: true, DocUpdated: before, LastReplication: before},
		{Name: "ghost", OrgUnits: []string{"ouDistrict", "ouHcB"}},
		{Name: "elsewhere"}, // under no requested org unit: not expected
	}
	in := Input{Period: p, Now: p.End.Add(5 * 24 * time.Hour), Source: SourceLogs, MinReady: 1, TargetDocs: 2, Users: users,
		OrgUnits: []string{"ouDistrict", "ouHcA", "ouHcB", "ouEmpty"}, OrgUnitNames: map[string]string{"ouHcA": "HC A"}}
	o := Compute(in)
	if o.Expected != 4 || o.Final != 1 || o.NoActivity != 1 || o.Pending != 1 || o.NeverSynced != 1 {
		t.Fatalf("counts = %d expected, %d final, %d noActivity, %d pending, %d neverSynced; want 4, 1, 1, 1, 1",
			o.Expected, o.Final, o.NoActivity, o.Pending, o.NeverSynced)
	}
	if o.Ratio != 0.5 || o.Ready || o.Reason != ReasonNotSynced {
		t.Errorf("ratio %v ready %v reason %q; want 0.5, false, %q", o.Ratio, o.Ready, o.Reason, ReasonNotSynced)
	}
	wantMsg := "2 of 4 CHWs have not synced since the month ended (2024-07-01; ready 50%, at least 100% needed): late1, ghost (never synced)"
	if o.Message != wantMsg {
		t.Errorf("message = %q; want %q", o.Message, wantMsg)
	}
	want := map[string][5]int{ // expected, final, noActivity, pending, neverSynced
		"ouDistrict": {4, 1, 1, 1, 1}, "ouHcA": {2, 1, 1, 0, 0}, "ouHcB": {2, 0, 0, 1, 1}, "ouEmpty": {0, 0, 0, 0, 0},
	}
	if len(o.OrgUnits) != len(want) {
		t.Fatalf("org units = %+v; want %d", o.OrgUnits, len(want))
	}
	for _, ou := range o.OrgUnits {
		got := [5]int{ou.Expected, ou.Final, ou.NoActivity, ou.Pending, ou.NeverSynced}
		if got != want[ou.OrgUnit] {
			t.Errorf("org unit %s = %v; want %v", ou.OrgUnit, got, want[ou.OrgUnit])
		}
	}
	if o.OrgUnits[0].OrgUnit != "ouDistrict" || o.OrgUnits[2].Name != "HC A" || o.OrgUnits[2].Ratio != 1 || o.OrgUnits[3].Ratio != 0 || o.OrgUnits[1].Ratio != 1 {
		t.Errorf("org units = %+v", o.OrgUnits)
	}
	if len(o.PendingUsers) != 1 || o.PendingUsers[0].Username != "late1" || o.PendingUsers[0].ContactName != "Late CHW" ||
		o.PendingUsers[0].OrgUnit != "ouDistrict" || o.PendingUsers[0].LastReplication == nil || !o.PendingUsers[0].LastReplication.Equal(before) {
		t.Errorf("pending users = %+v", o.PendingUsers)
	}
	if len(o.NeverSyncedUsers) != 1 || o.NeverSyncedUsers[0].Username != "ghost" || o.NeverSyncedUsers[0].LastReplication != nil {
		t.Errorf("never synced users = %+v", o.NeverSyncedUsers)
	}

	in.MinReady = 0.5
	if o := Compute(in); !o.Ready || o.Reason != "" || o.Message != "" {
		t.Errorf("with min_ready 0.5: ready %v reason %q message %q; want ready", o.Ready, o.Reason, o.Message)
	}
}

func TestComputeGate(t *testing.T) {
	p := PeriodOf(2024, time.June, 1, time.UTC)
	synced := []User{{Name: "a", OrgUnits: []string{"ou1"}, HasDoc: true, DocUpdated: p.End}}
	tests := []struct {
		name       string
		now        time.Time
		targetDocs int
		users      []User
		ready      bool
		reason     string
		msg        string
	}{
		{"ready", p.End.Add(time.Hour), 1, synced, true, "", ""},
		{"nobody expected counts as ready", p.End.Add(time.Hour), 1, nil, true, "", ""},
		{"the month has not ended", p.End.Add(-time.Second), 1, synced, false, ReasonUnfinished, "the month has not ended: it ends 2024-07-01 00:00 UTC"},
		{"the month has not begun", p.Start.Add(-time.Second), 1, synced, false, ReasonUnfinished, "the month has not begun: it begins 2024-06-01 00:00 UTC"},
		{"no target doc", p.End.Add(time.Hour), 0, synced, false, ReasonEmpty, "CHT holds no target doc of this month for the requested org units"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Compute(Input{Period: p, Now: tt.now, Source: SourceLogs, MinReady: 1, TargetDocs: tt.targetDocs, Users: tt.users})
			if o.Ready != tt.ready || o.Reason != tt.reason || o.Message != tt.msg {
				t.Errorf("ready %v reason %q message %q; want %v %q %q", o.Ready, o.Reason, o.Message, tt.ready, tt.reason, tt.msg)
			}
			if o.Ratio != 1 {
				t.Errorf("ratio = %v; want 1", o.Ratio)
			}
		})
	}
}

func TestComputeFallbackNote(t *testing.T) {
	p := PeriodOf(2024, time.June, 1, time.UTC)
	o := Compute(Input{Period: p, Now: p.End, Source: SourceTargetDocs, TargetDocs: 1,
		Users: []User{{Name: "x", OrgUnits: []string{"ou1"}}}})
	if o.Source != SourceTargetDocs || !strings.Contains(o.Note, "medic-logs") || o.Pending != 1 || o.NeverSynced != 0 {
		t.Errorf("fallback object = %+v", o)
	}
}

func TestComputeLongListIsCut(t *testing.T) {
	p := PeriodOf(2024, time.June, 1, time.UTC)
	var users []User
	for _, n := range strings.Split("a b c d e f g h i j k l", " ") {
		users = append(users, User{Name: n, OrgUnits: []string{"ou1"}, LastReplication: p.Start})
	}
	o := Compute(Input{Period: p, Now: p.End, Source: SourceLogs, MinReady: 0.9, TargetDocs: 1, Users: users})
	if !strings.HasSuffix(o.Message, ": a, b, c, d, e, f, g, h, i, j, and 2 more") {
		t.Errorf("message = %q", o.Message)
	}
}

// A Tally fed the users one at a time, in any order, gives what Compute
// gives for them all.
func TestTally_anyOrder(t *testing.T) {
	p := PeriodOf(2024, time.June, 1, time.UTC)
	after, before := p.End.Add(72*time.Hour), p.End.Add(-72*time.Hour)
	var users []User
	for i := range 40 {
		u := User{Name: fmt.Sprintf("u%02d", i), OrgUnits: []string{"ouD", fmt.Sprintf("ouH%d", i%3)}}
		switch i % 4 {
		case 0:
			u.HasDoc, u.DocUpdated, u.LastReplication = true, before, after
		case 1:
			u.LastReplication = after
		case 2:
			u.HasDoc, u.DocUpdated, u.LastReplication = true, before, before
		}
		users = append(users, u)
	}
	in := Input{Period: p, Now: p.End.Add(24 * time.Hour), Source: SourceLogs, MinReady: 0.8, TargetDocs: 20, Users: users,
		OrgUnits: []string{"ouD", "ouEmpty"}}
	want := Compute(in)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		shuffled := slices.Clone(users)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		tl := NewTally(Input{Period: in.Period, Now: in.Now, Source: in.Source, MinReady: in.MinReady, TargetDocs: in.TargetDocs, OrgUnits: in.OrgUnits})
		for _, u := range shuffled {
			tl.Add(u)
		}
		if got := tl.Object(); !reflect.DeepEqual(got, want) {
			t.Fatalf("tally in shuffled order = %+v\nwant %+v", got, want)
		}
	}
	if want.Pending != 10 || want.NeverSynced != 10 || len(want.PendingUsers) != 10 || want.PendingUsers[0].Username != "u02" {
		t.Errorf("compute = %+v", want)
	}
}
