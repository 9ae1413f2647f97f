package seed

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Org units of the demo district (valid DHIS2 uids).
const (
	OUDistrict = "ouDistrct01" // Pwani District (district_hospital)
	OUMbuyu    = "ouHcMbuyu01" // Mbuyu Health Centre
	OUKanji    = "ouHcKanji02" // Kanji Health Centre
	OUBahari   = "ouHcBahar03" // Bahari Health Centre, for DemoDataSet
	OUBahariX  = "ouHcBaharX3" // Bahari Health Centre, for OtherDataSet
)

// DemoOptions configure DemoDistrict.
type DemoOptions struct {
	// Seed selects the names, ids and values; 0 means 1.
	Seed uint64
	// End is the last month with target docs (YYYY-MM, required); the demo
	// uses LastMonth(now).
	End Month
	// Months is the number of months of target docs ending at End; 0 means
	// 12.
	Months int
	// Targets are the target definitions the docs hold values for; nil
	// means DefaultTargets().
	Targets []Target
	// AllStates gives Kanji Health Centre users in every readiness state
	// for the End month: its first CHW is final, its second has no target
	// doc for End but synced after it ended (no activity), its third last
	// synced in End's last week (pending), and a new CHW user there never
	// synced. A program officer (an online role) is never expected.
	// Without AllStates every CHW synced two days after End ended.
	AllStates bool
}

// Place is a place of the demo district.
type Place struct {
	ID        string
	Name      string
	Type      string // district_hospital, health_center or clinic
	ParentID  string // "" for the district
	ContactID string // the place's primary contact (a person)
	// DHIS holds the place's dhis configs (none, one, or the two of
	// Bahari's dhis array).
	DHIS []DHIS
}

// CHW is a community health worker: a person under a clinic (its primary
// contact) and the owner of one target doc per month.
type CHW struct {
	ID       string
	Name     string
	Username string
	// Lineage is the CHW's ancestors, nearest first: clinic, health centre,
	// district.
	Lineage []string
}

// OrgUnit is a DHIS2 org unit mapped onto a place.
type OrgUnit struct {
	ID      string
	Name    string // the place's name
	PlaceID string
	// DataSet is the config's dataSet; "" means every data set.
	DataSet string
	// CHWs are the ids of the CHWs whose target docs roll up into this org
	// unit (those with the place in their lineage).
	CHWs []string
}

// Manifest describes a generated demo district so tests can compute what an
// export must return without reading the documents back.
type Manifest struct {
	DataSet      string // DemoDataSet
	OtherDataSet string // OtherDataSet
	Months       []Month
	Targets      []Target
	District     Place
	// HealthCenters are, in order: Mbuyu (OUMbuyu), Kanji (OUKanji), Bahari
	// (dhis array: OUBahari for DemoDataSet, OUBahariX for OtherDataSet)
	// and Mnazi (no dhis: its CHWs count only towards the district).
	HealthCenters []Place
	Clinics       []Place
	CHWs          []CHW
	OrgUnits      []OrgUnit
	// DocCount is the number of documents returned with the manifest,
	// LogDocs included.
	DocCount int
	// Synced is when the CHWs last replicated (their replication-count
	// docs in the logs database), by username; absent: never.
	Synced map[string]time.Time
	// States is the readiness class of each expected user for the End
	// month, by username.
	States map[string]string
	// NeverSynced is the CHW user AllStates adds, who never synced; "".
	NeverSynced string

	values map[Month]map[string][]TargetValue // month → CHW id → values
}

// Values returns the target values of a CHW's target doc for month.
func (m *Manifest) Values(month Month, chwID string) ([]TargetValue, bool) {
	v, ok := m.values[month][chwID]
	return slices.Clone(v), ok
}

// TargetDocIDs returns the ids of the month's target docs, sorted.
func (m *Manifest) TargetDocIDs(month Month) []string {
	var ids []string
	for _, c := range m.CHWs {
		if _, ok := m.values[month][c.ID]; ok {
			ids = append(ids, TargetDocID(month, c.ID, c.Username))
		}
	}
	slices.Sort(ids)
	return ids
}

// healthCenterSpec is the fixed shape of the demo's health centres.
var healthCenterSpec = []struct {
	name    string
	clinics int
	dhis    []DHIS
}{
	{"Mbuyu Health Centre", 3, []DHIS{{OrgUnit: OUMbuyu}}},
	{"Kanji Health Centre", 3, []DHIS{{OrgUnit: OUKanji}}},
	{"Bahari Health Centre", 2, []DHIS{{OrgUnit: OUBahari, DataSet: DemoDataSet}, {OrgUnit: OUBahariX, DataSet: OtherDataSet}}},
	{"Mnazi Health Centre", 2, nil},
}

var (
	firstNames = []string{"Amina", "Baraka", "Chausiku", "Daudi", "Eshe", "Faraji", "Gathoni", "Hamisi", "Imani", "Jabari",
		"Kamaria", "Lulu", "Makena", "Nuru", "Odhiambo", "Pendo", "Rehema", "Saida", "Tumaini", "Wanjiru", "Zawadi", "Juma"}
	lastNames = []string{"Otieno", "Mwangi", "Kamau", "Achieng", "Njoroge", "Wekesa", "Chebet", "Mutua", "Omondi", "Kariuki",
		"Hassan", "Mohamed", "Onyango", "Wanjala", "Kiprop", "Nyambura"}
)

// DemoDistrict returns a realistic district in CHT's default hierarchy,
// district_hospital > health_center > clinic > person, every doc carrying its
// minified lineage and every place its primary contact:
//
//   - Pwani District (dhis orgUnit OUDistrict) with a manager;
//   - four health centres, each with a nurse: Mbuyu (OUMbuyu, 3 clinics),
//     Kanji (OUKanji, 3 clinics), Bahari (dhis array: OUBahari scoped to
//     DemoDataSet and OUBahariX scoped to OtherDataSet, 2 clinics) and Mnazi
//     (no dhis, 2 clinics);
//   - ten clinics (CHW areas), each with a CHW (its primary contact, a user
//     with a user-settings doc) and one household member;
//   - one target doc per CHW per month for opts.Months months ending at
//     opts.End, with a value for every target definition.
//
// That is 1 district + 4 health centres + 10 clinics + 25 persons + 10
// user-settings docs + 10×Months target docs (170 docs for 12 months). The
// settings doc and design doc are not included (SettingsDoc, DesignDocs).
func DemoDistrict(opts DemoOptions) ([]any, *Manifest, error) {
	if opts.End == "" {
		return nil, nil, errors.New("seed: demo district: End month is required")
	}
	end, err := ParseMonth(string(opts.End))
	if err != nil {
		return nil, nil, fmt.Errorf("seed: demo district: %w", err)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Months == 0 {
		opts.Months = 12
	}
	if opts.Months < 0 {
		return nil, nil, fmt.Errorf("seed: demo district: Months %d < 0", opts.Months)
	}
	if opts.Targets == nil {
		opts.Targets = DefaultTargets()
	}
	g := &demoGen{
		r:        rand.New(rand.NewPCG(opts.Seed, 0x5eed)),
		created:  end.Add(-opts.Months).Start().AddDate(0, -6, 0),
		usedName: map[string]bool{},
	}
	m := &Manifest{
		DataSet:      DemoDataSet,
		OtherDataSet: OtherDataSet,
		Targets:      opts.Targets,
		values:       map[Month]map[string][]TargetValue{},
	}
	var docs []any

	// District and its manager.
	dist := Place{ID: g.id(), Name: "Pwani District", Type: "district_hospital", DHIS: []DHIS{{OrgUnit: OUDistrict}}}
	mgr := g.person("manager", dist.ID)
	dist.ContactID = mgr["_id"].(string)
	docs = append(docs, g.place(dist, nil), mgr)
	m.District = dist

	for _, hs := range healthCenterSpec {
		hc := Place{ID: g.id(), Name: hs.name, Type: "health_center", ParentID: dist.ID, DHIS: hs.dhis}
		nurse := g.person("nurse", hc.ID, dist.ID)
		hc.ContactID = nurse["_id"].(string)
		docs = append(docs, g.place(hc, []string{dist.ID}), nurse)
		m.HealthCenters = append(m.HealthCenters, hc)

		short := strings.Fields(hs.name)[0]
		for i := range hs.clinics {
			cl := Place{ID: g.id(), Name: fmt.Sprintf("%s CHW Area %d", short, i+1), Type: "clinic", ParentID: hc.ID}
			chwDoc := g.person("chw", cl.ID, hc.ID, dist.ID)
			member := g.person("patient", cl.ID, hc.ID, dist.ID)
			cl.ContactID = chwDoc["_id"].(string)
			docs = append(docs, g.place(cl, []string{hc.ID, dist.ID}), chwDoc, member)
			m.Clinics = append(m.Clinics, cl)

			name := chwDoc["name"].(string)
			chw := CHW{
				ID:       cl.ContactID,
				Name:     name,
				Username: fmt.Sprintf("%s%02d", strings.ToLower(strings.Fields(name)[0]), len(m.CHWs)+1),
				Lineage:  []string{cl.ID, hc.ID, dist.ID},
			}
			m.CHWs = append(m.CHWs, chw)
			docs = append(docs, map[string]any{
				"_id":           UserID(chw.Username),
				"type":          "user-settings",
				"name":          chw.Username,
				"fullname":      chw.Name,
				"contact_id":    chw.ID,
				"facility_id":   cl.ID,
				"language":      "en",
				"known":         true,
				"roles":         []any{"chw"},
				"reported_date": g.created.UnixMilli(),
			})
		}
	}

	// Who synced when: two days after End ended, except the AllStates
	// cast under Kanji (CHWs 4 to 6 in hierarchy order).
	synced := end.Add(1).Start().AddDate(0, 0, 2).Add(7 * time.Hour)
	m.Synced, m.States = map[string]time.Time{}, map[string]string{}
	noDoc := map[string]bool{} // CHW id → no target doc for End
	for i, c := range m.CHWs {
		at, state := synced.Add(time.Duration(i)*time.Minute), ClassFinal
		if opts.AllStates {
			switch i {
			case 4:
				state = ClassNoActivity
				noDoc[c.ID] = true
			case 5:
				at, state = end.Add(1).Start().AddDate(0, 0, -3).Add(10*time.Hour), ClassPending
			}
		}
		m.Synced[c.Username], m.States[c.Username] = at, state
		docs = append(docs, ReplicationLog(c.Username, at, 40+i))
	}
	if opts.AllStates {
		kanji3 := m.Clinics[5]
		newCHW := g.person("chw", kanji3.ID, m.HealthCenters[1].ID, dist.ID)
		name := newCHW["name"].(string)
		m.NeverSynced = strings.ToLower(strings.Fields(name)[0]) + "-new"
		m.States[m.NeverSynced] = ClassNeverSynced
		docs = append(docs, newCHW, map[string]any{
			"_id": UserID(m.NeverSynced), "type": "user-settings", "name": m.NeverSynced, "fullname": name,
			"contact_id": newCHW["_id"], "facility_id": kanji3.ID, "language": "en", "roles": []any{"chw"},
			"reported_date": g.created.UnixMilli(),
		})
		// An online user: CHT does not replicate to it, so it writes no
		// target doc and is not expected (program_officer is configured
		// without offline: true).
		docs = append(docs, map[string]any{
			"_id": UserID("hrio"), "type": "user-settings", "name": "hrio", "fullname": "Records Officer",
			"contact_id": mgr["_id"], "facility_id": dist.ID, "language": "en", "roles": []any{"program_officer"},
			"reported_date": g.created.UnixMilli(),
		})
	}

	// Target docs, oldest month first, CHWs in hierarchy order.
	vr := rand.New(rand.NewPCG(opts.Seed, 0x7a2e))
	for i := opts.Months - 1; i >= 0; i-- {
		month := end.Add(-i)
		m.Months = append(m.Months, month)
		m.values[month] = map[string][]TargetValue{}
		for _, c := range m.CHWs {
			if month == end && noDoc[c.ID] {
				continue
			}
			vals := make([]TargetValue, len(opts.Targets))
			for j, t := range opts.Targets {
				vals[j] = TargetValue{ID: t.ID, Value: randomValue(vr, t)}
			}
			m.values[month][c.ID] = vals
			// The last write of a closed month: a day in its last week.
			updated := month.Add(1).Start().AddDate(0, 0, -1-vr.IntN(7))
			docs = append(docs, TargetDoc(month, c.ID, c.Username, updated, vals))
		}
	}

	// Org units, with the CHWs rolling up into each.
	for _, p := range append([]Place{dist}, m.HealthCenters...) {
		for _, d := range p.DHIS {
			ou := OrgUnit{ID: d.OrgUnit, Name: p.Name, PlaceID: p.ID, DataSet: d.DataSet}
			for _, c := range m.CHWs {
				if slices.Contains(c.Lineage, p.ID) {
					ou.CHWs = append(ou.CHWs, c.ID)
				}
			}
			m.OrgUnits = append(m.OrgUnits, ou)
		}
	}
	m.DocCount = len(docs)
	return docs, m, nil
}

// randomValue draws a plausible month's value for target t. Counts may have
// pass < total (a passesIf), so that exporting total, not pass, is visible.
func randomValue(r *rand.Rand, t Target) Value {
	lo, hi := 0, 10
	switch t.ID {
	case TargetBirths:
		lo, hi = 0, 3
	case TargetHouseholdVisits:
		lo, hi = 8, 40
	case TargetPregnancyRegs:
		lo, hi = 0, 4
	case TargetU5Assessments:
		lo, hi = 2, 15
	case TargetDeaths:
		lo, hi = 0, 1
	case TargetFacilityDeliv, TargetANC4, TargetPNC48h:
		lo, hi = 0, 5
	}
	total := lo + r.IntN(hi-lo+1)
	pass := total
	if t.Type == "percent" || t.ID == TargetHouseholdVisits {
		pass = r.IntN(total + 1)
	}
	return Value{Pass: pass, Total: total, Percent: t.Type == "percent"}
}

type demoGen struct {
	r        *rand.Rand
	created  time.Time
	usedName map[string]bool
}

func (g *demoGen) id() string { return uuid(g.r) }

// name returns a full name not used before in this district.
func (g *demoGen) name() string {
	for {
		n := firstNames[g.r.IntN(len(firstNames))] + " " + lastNames[g.r.IntN(len(lastNames))]
		if !g.usedName[n] {
			g.usedName[n] = true
			return n
		}
	}
}

// place returns a place doc; ancestors are the parent's lineage, nearest
// first.
func (g *demoGen) place(p Place, ancestors []string) map[string]any {
	doc := map[string]any{
		"_id":           p.ID,
		"type":          p.Type,
		"name":          p.Name,
		"reported_date": g.created.UnixMilli(),
		"contact": map[string]any{
			"_id":    p.ContactID,
			"parent": Lineage(append([]string{p.ID}, ancestors...)...),
		},
	}
	if len(ancestors) > 0 {
		doc["parent"] = Lineage(ancestors...)
	}
	switch len(p.DHIS) {
	case 0:
	case 1:
		doc["dhis"] = p.DHIS[0].JSON()
	default:
		l := make([]any, len(p.DHIS))
		for i, d := range p.DHIS {
			l[i] = d.JSON()
		}
		doc["dhis"] = l
	}
	return doc
}

// person returns a person doc under the given lineage (parent first).
func (g *demoGen) person(role string, lineage ...string) map[string]any {
	sex := []string{"female", "male"}[g.r.IntN(2)]
	age := 20 + g.r.IntN(35)
	if role == "patient" {
		age = g.r.IntN(70)
	}
	dob := g.created.AddDate(-age, -g.r.IntN(12), -g.r.IntN(28))
	return map[string]any{
		"_id":           g.id(),
		"type":          "person",
		"name":          g.name(),
		"role":          role,
		"sex":           sex,
		"date_of_birth": dob.Format("2006-01-02"),
		"phone":         fmt.Sprintf("+2547%08d", g.r.IntN(100_000_000)),
		"reported_date": g.created.UnixMilli(),
		"parent":        Lineage(lineage...),
	}
}

// DemoDocs returns everything a CHT database needs for the demo: the
// settings doc, the medic-admin design doc and DemoDistrict's documents.
func DemoDocs(opts DemoOptions) ([]any, *Manifest, error) {
	district, m, err := DemoDistrict(opts)
	if err != nil {
		return nil, nil, err
	}
	docs := append([]any{SettingsDoc(nil, nil)}, DesignDocs()...)
	return append(docs, district...), m, nil
}
