package seed

import (
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
)

// GenOptions configure Generate.
type GenOptions struct {
	// Seed selects ids and values; 0 means 1.
	Seed uint64
	// CHWs is the number of CHWs, one per clinic (required, > 0).
	CHWs int
	// Targets is the number of target definitions, each exported to
	// DemoDataSet with its own data element; 0 means 10.
	Targets int
	// Month is the month of the target docs (required).
	Month Month
	// ClinicsPerHC and HCsPerDistrict shape the hierarchy; 0 means 10.
	ClinicsPerHC, HCsPerDistrict int
}

// Scale is a large generated data set: districts > health centres > clinics
// > CHWs, each district and health centre mapped to its own org unit, one
// target doc per CHW for one month. Documents are produced on demand by
// Docs, so they need not all be in memory at once.
type Scale struct {
	opts           GenOptions
	targets        []Target
	hcs, districts int
}

// Generate returns a scale data set. With the defaults, 10 000 CHWs make
// 100 districts, 1 000 health centres, 10 000 clinics, 10 000 persons and
// 10 000 target docs (31 100 docs).
func Generate(opts GenOptions) (*Scale, error) {
	if opts.CHWs <= 0 {
		return nil, errors.New("seed: generate: CHWs must be > 0")
	}
	if _, err := ParseMonth(string(opts.Month)); err != nil {
		return nil, fmt.Errorf("seed: generate: %w", err)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Targets == 0 {
		opts.Targets = 10
	}
	if opts.ClinicsPerHC == 0 {
		opts.ClinicsPerHC = 10
	}
	if opts.HCsPerDistrict == 0 {
		opts.HCsPerDistrict = 10
	}
	if opts.Targets < 0 || opts.ClinicsPerHC < 0 || opts.HCsPerDistrict < 0 {
		return nil, errors.New("seed: generate: negative size")
	}
	if opts.Targets > 99_999_999 || opts.CHWs > 99_999_999 {
		return nil, errors.New("seed: generate: too large")
	}
	s := &Scale{opts: opts}
	s.hcs = ceilDiv(opts.CHWs, opts.ClinicsPerHC)
	s.districts = ceilDiv(s.hcs, opts.HCsPerDistrict)
	for i := range opts.Targets {
		t := Target{
			ID:             fmt.Sprintf("target-%03d", i+1),
			Type:           "count",
			Goal:           -1,
			TranslationKey: fmt.Sprintf("targets.generated.%03d", i+1),
			Icon:           "icon-healthcare",
			DHIS:           &DHIS{DataElement: fmt.Sprintf("deT%08d", i+1)},
		}
		if i%4 == 3 {
			t.Type = "percent"
			t.DHIS.CategoryOptionCombo = COCDefault
		}
		s.targets = append(s.targets, t)
	}
	return s, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Targets returns the generated target definitions.
func (s *Scale) Targets() []Target { return s.targets }

// Settings returns the settings doc for the generated targets and
// DefaultDataSets().
func (s *Scale) Settings() map[string]any { return SettingsDoc(s.targets, nil) }

// DocCount returns the number of documents Docs yields.
func (s *Scale) DocCount() int { return s.districts + s.hcs + 3*s.opts.CHWs }

// OrgUnitCount returns the number of mapped org units (districts and health
// centres).
func (s *Scale) OrgUnitCount() int { return s.districts + s.hcs }

// DistrictOrgUnit and HealthCenterOrgUnit return the org unit uid of the
// i-th district or health centre (0-based).
func DistrictOrgUnit(i int) string     { return fmt.Sprintf("ouD%08d", i+1) }
func HealthCenterOrgUnit(i int) string { return fmt.Sprintf("ouH%08d", i+1) }

// ids are drawn from a PCG stream per (kind, index), so any doc can be
// rebuilt without generating the ones before it.
const (
	kindDistrict = iota + 1
	kindHC
	kindClinic
	kindCHW
	kindValues
)

func (s *Scale) rng(kind, i int) *rand.Rand {
	return rand.New(rand.NewPCG(s.opts.Seed, uint64(kind)<<56|uint64(i)))
}

func (s *Scale) idOf(kind, i int) string { return uuid(s.rng(kind, i)) }

// Docs yields the places, persons and target docs: each district, then each
// of its health centres, then each of that centre's clinics followed by its
// CHW and the CHW's target doc.
func (s *Scale) Docs() iter.Seq[any] {
	return func(yield func(any) bool) {
		month := s.opts.Month
		updated := month.Add(1).Start().AddDate(0, 0, -1)
		created := month.Start().AddDate(-1, 0, 0).UnixMilli()
		for d := range s.districts {
			did := s.idOf(kindDistrict, d)
			if !yield(map[string]any{
				"_id": did, "type": "district_hospital", "name": fmt.Sprintf("District %d", d+1),
				"reported_date": created, "dhis": map[string]any{"orgUnit": DistrictOrgUnit(d)},
			}) {
				return
			}
			for h := d * s.opts.HCsPerDistrict; h < min((d+1)*s.opts.HCsPerDistrict, s.hcs); h++ {
				hid := s.idOf(kindHC, h)
				if !yield(map[string]any{
					"_id": hid, "type": "health_center", "name": fmt.Sprintf("Health Centre %d", h+1),
					"reported_date": created, "parent": Lineage(did), "dhis": map[string]any{"orgUnit": HealthCenterOrgUnit(h)},
				}) {
					return
				}
				for c := h * s.opts.ClinicsPerHC; c < min((h+1)*s.opts.ClinicsPerHC, s.opts.CHWs); c++ {
					cid, pid := s.idOf(kindClinic, c), s.idOf(kindCHW, c)
					user := fmt.Sprintf("chw%06d", c+1)
					if !yield(map[string]any{
						"_id": cid, "type": "clinic", "name": fmt.Sprintf("CHW Area %d", c+1),
						"reported_date": created, "parent": Lineage(hid, did),
						"contact": map[string]any{"_id": pid, "parent": Lineage(cid, hid, did)},
					}) {
						return
					}
					if !yield(map[string]any{
						"_id": pid, "type": "person", "name": fmt.Sprintf("CHW %d", c+1), "role": "chw",
						"reported_date": created, "parent": Lineage(cid, hid, did),
					}) {
						return
					}
					if !yield(TargetDoc(month, pid, user, updated, s.values(c))) {
						return
					}
				}
			}
		}
	}
}

// values returns the target values of CHW c.
func (s *Scale) values(c int) []TargetValue {
	r := s.rng(kindValues, c)
	vals := make([]TargetValue, len(s.targets))
	for j, t := range s.targets {
		total := r.IntN(21)
		pass := total
		if t.Type == "percent" {
			pass = r.IntN(total + 1)
		}
		vals[j] = TargetValue{ID: t.ID, Value: Value{Pass: pass, Total: total, Percent: t.Type == "percent"}}
	}
	return vals
}

// Expected returns what CHT's export gives for DemoDataSet and the month:
// per district and health centre org unit, per data element, the sum of the
// totals of the CHWs below. Sorted as SortDataValues.
func (s *Scale) Expected() []DataValue {
	nt := len(s.targets)
	hcSums := make([]int, s.hcs*nt)
	for c := range s.opts.CHWs {
		h := c / s.opts.ClinicsPerHC
		for j, v := range s.values(c) {
			hcSums[h*nt+j] += v.Value.Total
		}
	}
	var out []DataValue
	add := func(ou string, sums []int) {
		for j, t := range s.targets {
			out = append(out, DataValue{DataElement: t.DHIS.DataElement, CategoryOptionCombo: t.DHIS.CategoryOptionCombo, OrgUnit: ou, Value: sums[j]})
		}
	}
	for d := range s.districts {
		sums := make([]int, nt)
		for h := d * s.opts.HCsPerDistrict; h < min((d+1)*s.opts.HCsPerDistrict, s.hcs); h++ {
			for j := range nt {
				sums[j] += hcSums[h*nt+j]
			}
		}
		add(DistrictOrgUnit(d), sums)
	}
	for h := range s.hcs {
		add(HealthCenterOrgUnit(h), hcSums[h*nt:(h+1)*nt])
	}
	SortDataValues(out)
	return out
}
