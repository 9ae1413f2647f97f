package aggregate

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
)

// benchData is a month of a large deployment: 10 districts × 10 health
// centres × 100 clinics × 10 CHWs = 100 000 CHWs, one target doc of 20
// targets each. Districts, health centres and clinics are mapped (10 110
// contacts); CHWs are not, as in CHT's default hierarchy.
type benchData struct {
	defs     []TargetDef
	contacts []Contact
	owners   []Owner
	docs     []TargetDoc
}

func newBenchData(districts, hcs, clinics, chws, targets int) *benchData {
	d := &benchData{}
	for i := range targets {
		d.defs = append(d.defs, TargetDef{
			ID:   fmt.Sprintf("target-%02d", i),
			DHIS: []Mapping{{DataElement: fmt.Sprintf("de%09d", i), CategoryOptionCombo: "HllvX50cXC0"}},
		})
	}
	entries := func(seed int) []Target {
		ts := make([]Target, targets)
		for i := range ts {
			ts[i] = Target{ID: d.defs[i].ID, Total: float64((seed + i) % 7)}
		}
		return ts
	}
	for di := range districts {
		dID := fmt.Sprintf("district-%d", di)
		d.contacts = append(d.contacts, Contact{ID: dID, Name: dID, OrgUnits: []OrgUnitMapping{{OrgUnit: "ou" + dID}}})
		for hi := range hcs {
			hID := fmt.Sprintf("%s-hc-%d", dID, hi)
			d.contacts = append(d.contacts, Contact{ID: hID, Name: hID, OrgUnits: []OrgUnitMapping{{OrgUnit: "ou" + hID}}, Lineage: []string{dID}})
			for ci := range clinics {
				cID := fmt.Sprintf("%s-clinic-%d", hID, ci)
				d.contacts = append(d.contacts, Contact{ID: cID, Name: cID, OrgUnits: []OrgUnitMapping{{OrgUnit: "ou" + cID}}, Lineage: []string{hID, dID}})
				for wi := range chws {
					wID := fmt.Sprintf("%s-chw-%d", cID, wi)
					d.owners = append(d.owners, Owner{ID: wID, Lineage: []string{cID, hID, dID}})
					d.docs = append(d.docs, TargetDoc{
						ID:          "target~2024-06~" + wID + "~org.couchdb.user:" + wID,
						Owner:       wID,
						UpdatedDate: 1717200000000,
						Targets:     entries(len(d.docs)),
					})
				}
			}
		}
	}
	return d
}

func (d *benchData) run(b *testing.B) Result { return d.runAll(b, func(*Builder) {}) }

// runAll adds every doc, then takes the result with every owner, calling
// beforeResult with the builder once every doc is in.
func (d *benchData) runAll(b *testing.B, beforeResult func(*Builder)) Result {
	bld, err := NewBuilder(Options{DataSet: "dsA"}, testDataSets, d.defs)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range d.contacts {
		bld.AddContact(c)
	}
	for _, doc := range d.docs {
		bld.AddTargetDoc(doc)
	}
	_ = bld.OwnerIDs()
	beforeResult(bld)
	return bld.Result(d.owners)
}

// BenchmarkAggregate measures the builder alone (no decoding) on one month
// of 100 000 CHWs × 20 targets in a 4-level hierarchy.
func BenchmarkAggregate(b *testing.B) {
	d := newBenchData(10, 10, 100, 10, 20)
	b.ReportAllocs()
	b.ResetTimer()
	var res Result
	for b.Loop() {
		res = d.run(b)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(d.docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(retained(func(keep func(*Builder)) { d.runAll(b, keep) }), "builder-MB")
	if res.Stats.Counted != len(d.docs) || len(res.DataValues) != 10110*20 {
		b.Fatalf("stats %+v, %d values; want %d counted, %d values", res.Stats, len(res.DataValues), len(d.docs), 10110*20)
	}
}

// BenchmarkAggregate_flush measures the builder as the export service runs
// it on a month: the same 100 000 docs added in batches of 500 and flushed
// with each batch's owners, so that the builder holds the sums, not the
// month. builder-MB is what the builder holds once every doc is in (before
// Result), here and in BenchmarkAggregate.
func BenchmarkAggregate_flush(b *testing.B) {
	d := newBenchData(10, 10, 100, 10, 20)
	b.ReportAllocs()
	b.ResetTimer()
	var res Result
	for b.Loop() {
		res = d.runFlushed(b, func(*Builder) {})
	}
	b.StopTimer()
	b.ReportMetric(float64(len(d.docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(retained(func(keep func(*Builder)) { d.runFlushed(b, keep) }), "builder-MB")
	if res.Stats.Counted != len(d.docs) || len(res.DataValues) != 10110*20 {
		b.Fatalf("stats %+v, %d values; want %d counted, %d values", res.Stats, len(res.DataValues), len(d.docs), 10110*20)
	}
}

// runFlushed builds the month in flushed batches of 500 docs, calling
// beforeResult with the builder once every doc is in.
func (d *benchData) runFlushed(b *testing.B, beforeResult func(*Builder)) Result {
	const batch = 500
	bld, err := NewBuilder(Options{DataSet: "dsA"}, testDataSets, d.defs)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range d.contacts {
		bld.AddContact(c)
	}
	for start := 0; start < len(d.docs); start += batch {
		end := min(start+batch, len(d.docs))
		for _, doc := range d.docs[start:end] {
			bld.AddTargetDoc(doc)
		}
		_ = bld.OwnerIDs()
		if err := bld.Flush(d.owners[start:end]); err != nil {
			b.Fatal(err)
		}
	}
	beforeResult(bld)
	return bld.Result(nil)
}

// retained runs build and returns, in MB, how much more live heap there is
// when build calls keep with its builder than before build started.
func retained(build func(keep func(*Builder))) float64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	live := func() float64 {
		runtime.GC()
		metrics.Read(sample)
		return float64(sample[0].Value.Uint64())
	}
	before := live()
	var after float64
	build(func(bld *Builder) {
		after = live()
		runtime.KeepAlive(bld)
	})
	return (after - before) / (1 << 20)
}

// TestBenchData checks the benchmark's own arithmetic on a small hierarchy:
// each district sums all docs below it.
func TestBenchData(t *testing.T) {
	d := newBenchData(2, 2, 3, 4, 3)
	bld, err := NewBuilder(Options{DataSet: "dsA"}, testDataSets, d.defs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.contacts {
		bld.AddContact(c)
	}
	want := map[string]float64{}
	for i, doc := range d.docs {
		bld.AddTargetDoc(doc)
		district := d.owners[i].Lineage[2]
		for _, e := range doc.Targets {
			want[e.ID+"@"+district] += e.Total
		}
	}
	res := bld.Result(d.owners)
	if res.Stats.Counted != len(d.docs) {
		t.Fatalf("counted %d; want %d", res.Stats.Counted, len(d.docs))
	}
	for _, dv := range res.DataValues {
		for _, def := range d.defs {
			for di := range 2 {
				dID := fmt.Sprintf("district-%d", di)
				if dv.OrgUnit == "ou"+dID && dv.DataElement == def.DHIS[0].DataElement {
					if w := want[def.ID+"@"+dID]; dv.Value != w {
						t.Errorf("%s %s = %v; want %v", dv.OrgUnit, dv.DataElement, dv.Value, w)
					}
				}
			}
		}
	}
}
