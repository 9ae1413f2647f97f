package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
)

// monthSource is a fakeCHT with a month of n CHWs under 10 clinics under one
// district: docs in _id order, one per CHW, plus a second doc for every
// seventh CHW (another device), and a doc of an owner that does not exist.
func monthSource(n int) *fakeCHT {
	f := &fakeCHT{
		settings: cht.Settings{
			DataSets: []aggregate.DataSet{{ID: "dsMonthly01"}},
			Targets: []aggregate.TargetDef{
				{ID: "t1", DHIS: []aggregate.Mapping{{DataElement: "deT00000001"}}},
				{ID: "t2", DHIS: []aggregate.Mapping{{DataElement: "deT00000002", CategoryOptionCombo: "cocA0000001"}}},
			},
		},
		contacts: []aggregate.Contact{{ID: "d", Name: "District", OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouD00000001"}}}},
		docs:     map[string][]aggregate.TargetDoc{},
		owners:   map[string]aggregate.Owner{},
	}
	for c := range 10 {
		id := fmt.Sprintf("clinic-%d", c)
		f.contacts = append(f.contacts, aggregate.Contact{ID: id, Lineage: []string{"d"},
			OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: fmt.Sprintf("ouC%08d", c)}}})
	}
	var docs []aggregate.TargetDoc
	for i := range n {
		owner := fmt.Sprintf("chw-%05d", i)
		f.owners[owner] = aggregate.Owner{ID: owner, Lineage: []string{fmt.Sprintf("clinic-%d", i%10), "d"}}
		doc := func(user string, updated int64) aggregate.TargetDoc {
			return aggregate.TargetDoc{ID: "target~2024-06~" + owner + "~org.couchdb.user:" + user, Owner: owner, UpdatedDate: updated,
				Targets: []aggregate.Target{{ID: "t1", Total: float64(i % 7)}, {ID: "t2", Total: float64(i%5) + 0.25}}}
		}
		docs = append(docs, doc("a", 1))
		if i%7 == 0 {
			docs = append(docs, doc("b", 2))
		}
	}
	docs = append(docs, aggregate.TargetDoc{ID: "target~2024-06~zz-ghost~org.couchdb.user:g", Owner: "zz-ghost", Targets: []aggregate.Target{}})
	f.docs["2024-06"] = docs
	return f
}

// tunedSource tells the service to batch small.
type tunedSource struct {
	*fakeCHT
	batch, workers int
}

func (t tunedSource) BatchSize() int   { return t.batch }
func (t tunedSource) Concurrency() int { return t.workers }

// A month read in many small batches, with owners fetched concurrently,
// gives what one whole read gives, and asks for every owner once.
func TestService_Preview_batchesEqualWholeRead(t *testing.T) {
	src := monthSource(1000)
	whole := newService(t, src)
	b, err := aggregate.NewBuilder(aggregate.Options{DataSet: "dsMonthly01"}, src.settings.DataSets, src.settings.Targets)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := whole.readMonthWhole(context.Background(), "test", Request{DataSet: "dsMonthly01", Period: june(t)}, b, func(aggregate.TargetDoc) {}, func([]aggregate.Owner) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := b.Result(nil)

	for _, batch := range []int{1, 7, 64, 5000} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			f := monthSource(1000)
			s := newService(t, tunedSource{f, batch, 3})
			p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Problems, want.Problems) || p.Stats != want.Stats {
				t.Errorf("problems %v, stats %+v; want %v, %+v", p.Problems, p.Stats, want.Problems, want.Stats)
			}
			if len(p.Set.DataValues) != len(want.DataValues) {
				t.Fatalf("%d values; want %d", len(p.Set.DataValues), len(want.DataValues))
			}
			for i, dv := range want.DataValues {
				if got := p.Set.DataValues[i]; got.OrgUnit != dv.OrgUnit || got.DataElement != dv.DataElement || got.Value != aggregate.FormatValue(dv.Value) {
					t.Errorf("value %d = %+v; want %+v", i, got, dv)
				}
			}
			asked := slices.Clone(f.askedOwners)
			slices.Sort(asked)
			if len(slices.Compact(asked)) != len(f.askedOwners) || len(asked) != 1001 {
				t.Errorf("asked for %d owners (%d distinct); want each of the 1001 once", len(f.askedOwners), len(asked))
			}
			if want.Stats.Duplicates != 143 || want.Stats.UnknownOwners != 1 {
				t.Errorf("the source's month has %+v; want 143 duplicates and 1 unknown owner", want.Stats)
			}
		})
	}
}

// A source whose docs do not come grouped by owner is read again without
// batching, and still gives the whole read's result.
func TestService_Preview_ownersApart(t *testing.T) {
	var logs bytes.Buffer
	src := monthSource(300)
	docs := src.docs["2024-06"]
	// The second docs of every seventh CHW go to the end.
	var firsts, seconds []aggregate.TargetDoc
	for _, d := range docs {
		if strings.HasSuffix(d.ID, ":b") {
			seconds = append(seconds, d)
		} else {
			firsts = append(firsts, d)
		}
	}
	src.docs["2024-06"] = append(firsts, seconds...)
	s, err := New(tunedSource{src, 10, 2}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: newService(t, src).now})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
	if err != nil {
		t.Fatal(err)
	}
	want, err := newService(t, monthSource(300)).Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Set, want.Set) || p.Stats != want.Stats {
		t.Errorf("preview of a source with owners apart differs:\ngot  %+v\n%+v\nwant %+v\n%+v", p.Stats, p.Set, want.Stats, want.Set)
	}
	if got := src.count("TargetDocs"); got != 2 {
		t.Errorf("TargetDocs read %d times; want 2 (batched, then whole)", got)
	}
	if !strings.Contains(logs.String(), "not together in _id order") {
		t.Errorf("no warning about the second read in the logs:\n%s", logs.String())
	}
}

// 50 concurrent identical previews make one CHT read and get the same
// data; a different request builds on its own; once done, the next
// identical request reads again.
func TestService_Preview_coalesces(t *testing.T) {
	src := specExample()
	src.gate = make(chan struct{})
	s := newService(t, src)
	req := Request{DataSet: "dsMonthly01", Period: june(t)}
	const n = 50
	var wg sync.WaitGroup
	results := make([]*Preview, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = s.Preview(context.Background(), req) })
	}
	waitFor(t, func() bool { return s.waiting(req) == n })
	other := Request{DataSet: "dsMonthly01", Period: june(t), OrgUnit: "ouDistrict1"}
	otherDone := make(chan error, 1)
	go func() { _, err := s.Preview(context.Background(), other); otherDone <- err }()
	waitFor(t, func() bool { return s.waiting(other) == 1 })
	close(src.gate)
	wg.Wait()
	if err := <-otherDone; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil || !reflect.DeepEqual(results[i].Set, results[0].Set) {
			t.Fatalf("preview %d = %v, %+v; want the shared result", i, errs[i], results[i])
		}
	}
	for _, m := range []string{"Settings", "TargetDocs", "Contacts", "Owners"} {
		if got := src.count(m); got != 2 {
			t.Errorf("%s called %d times for %d identical previews and one other; want 2", m, got, n)
		}
	}
	if _, err := s.Preview(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := src.count("TargetDocs"); got != 3 {
		t.Errorf("TargetDocs called %d times after a later preview; want 3", got)
	}
}

// A caller that leaves does not cancel a build another caller waits for;
// when the last one leaves, the build is canceled.
func TestService_Preview_callersLeave(t *testing.T) {
	src := specExample()
	src.gate = make(chan struct{}) // opened only at the end: until then, only cancellation ends the read
	s := newService(t, src)
	req := Request{DataSet: "dsMonthly01", Period: june(t)}
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	err1, err2 := make(chan error, 1), make(chan error, 1)
	go func() { _, err := s.Preview(ctx1, req); err1 <- err }()
	waitFor(t, func() bool { return s.waiting(req) == 1 })
	go func() { _, err := s.Preview(ctx2, req); err2 <- err }()
	waitFor(t, func() bool { return s.waiting(req) == 2 })
	cancel1()
	if err := <-err1; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left got %v; want context.Canceled", err)
	}
	if s.waiting(req) != 1 {
		t.Fatalf("%d callers wait after one left; want 1", s.waiting(req))
	}
	cancel2()
	if err := <-err2; !errors.Is(err, context.Canceled) {
		t.Errorf("the second caller got %v; want context.Canceled", err)
	}
	waitFor(t, func() bool { return s.waiting(req) == 0 })
	// A new caller starts a new build.
	close(src.gate)
	if _, err := s.Preview(context.Background(), req); err != nil {
		t.Fatalf("a preview after the canceled build: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
