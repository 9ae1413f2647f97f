// Package couchsource is a CouchDB-shaped HTTP source of generated CHT data
// for benchmarks: a national hierarchy of districts > health centres >
// CHW areas (clinics) > CHWs, one target doc per CHW for one month, served
// the way CouchDB serves the medic database (_all_docs GET with
// startkey/endkey/limit/skip, _all_docs POST with keys, doc GETs, the
// medic-admin/contacts_by_dhis_orgunit view with startkey/startkey_docid,
// the settings doc) without holding the documents: every row is generated
// on the fly from a deterministic seed, so 100 000 CHWs cost a few MB.
//
// The data follows test/seed's Generate: the same ids (PCG streams per kind
// and index), names, target definitions, values and settings doc. With
// CHWsPerClinic 1 and MapClinics false it serves exactly seed.Generate's
// documents (a test checks it), so seed's expected values hold.
package couchsource

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// Options shape the generated data. Zero values take the defaults noted.
type Options struct {
	// Seed selects ids and values; 0 means 1 (as seed.Generate).
	Seed uint64
	// CHWs is the number of CHWs, each with one target doc (required).
	CHWs int
	// Targets is the number of target definitions; 0 means 20.
	Targets int
	// Month of the target docs, YYYY-MM (required).
	Month string
	// CHWsPerClinic, ClinicsPerHC, HCsPerDistrict shape the hierarchy;
	// 0 means 1, 10 and 10 (seed.Generate's shape).
	CHWsPerClinic, ClinicsPerHC, HCsPerDistrict int
	// MapClinics also maps each clinic (CHW area) to an org unit; by default
	// only districts and health centres are mapped, as in seed.Generate.
	MapClinics bool
	// Database is the database name; "" means medic.
	Database string

	// The CHT shape beyond seed.Generate's (all off by default, on in
	// National):
	//
	// Supervisors adds one supervisor person per CHW area (in the area,
	// with its full lineage).
	Supervisors bool
	// Users adds what CHT writes for each CHW's login: a user-settings doc
	// org.couchdb.user:<name> (name, fullname, contact_id, facility_id,
	// roles) in the database, and a replication-count-<name> doc in the
	// logs database (<database>-logs) dated a few days after the month.
	Users bool
	// ReportsPerCHW adds that many data_record docs (uuid ids, so spread
	// across _all_docs) submitted by each CHW.
	ReportsPerCHW int
	// CHTAPI also answers GET /api/v1/settings with the app settings, as
	// CHT API does in front of CouchDB (api/src/controllers/settings.js);
	// without it that path is a 404, as on a bare CouchDB.
	CHTAPI bool
	// ChunkSize, when above 0, streams the rows of _all_docs and view
	// answers as CouchDB does: rows are gathered until the next one would
	// take the chunk past ChunkSize bytes, then sent as one HTTP chunk
	// (couch_mrview_http's buffer; CouchDB's chunked_response_buffer
	// setting, 1490 bytes by default, COUCHDB-2724). 0 writes the answer
	// in 64 KiB pieces, which the bench uses by default: less of the
	// server's CPU on the cores it shares with the program measured.
	ChunkSize int
}

// National returns the options of the benchmark's national deployment in
// CHT's shape: chws CHWs, 20 targets each, five CHWs per CHW area, ten
// areas per health centre, ten health centres per district, a supervisor
// per area, a user-settings doc and a replication log per CHW and two
// reports per CHW (50 000 CHWs: 10 000 areas, 1 000 health centres, 100
// districts, 71 100 contacts; the 1 100 districts and health centres are
// DHIS2 org units), served behind CHT API's settings endpoint.
func National(chws int, month string) Options {
	return Options{CHWs: chws, Targets: 20, Month: month, CHWsPerClinic: 5, ClinicsPerHC: 10, HCsPerDistrict: 10,
		Supervisors: true, Users: true, ReportsPerCHW: 2, CHTAPI: true}
}

// Kinds of generated docs; the values are seed's PCG stream kinds.
const (
	kindDistrict = 1
	kindHC       = 2
	kindClinic   = 3
	kindCHW      = 4
	kindValues   = 5
	kindSuper    = 6 // supervisors, one per clinic
	kindReport   = 7 // reports, ReportsPerCHW per CHW
	nKinds       = 8
)

// uid is a version 4 UUID as two words; its string form sorts like the
// words (fixed-width lower-case hex).
type uid struct{ a, b uint64 }

func cmpUID(x, y uid) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b)) }

// Data is the generated data set. It is immutable and safe for concurrent
// use.
type Data struct {
	opts     Options
	db       string
	targets  []seed.Target
	month    seed.Month
	created  int64 // reported_date of every contact
	updated  int64 // updated_date of every target doc
	settings []byte
	appSets  []byte // the settings doc's settings member: CHT API's answer
	ddoc     []byte

	nDistricts, nHCs, nClinics, nCHWs int
	nSupers, nReports                 int
	ids                               [nKinds][]uid   // by kind, by index
	sorted                            [nKinds][]int32 // by kind, indices in id order
}

// New generates the data of opts.
func New(opts Options) (*Data, error) {
	if opts.CHWs <= 0 {
		return nil, errors.New("couchsource: CHWs must be > 0")
	}
	month, err := seed.ParseMonth(opts.Month)
	if err != nil {
		return nil, fmt.Errorf("couchsource: %w", err)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	opts.Targets = cmp.Or(opts.Targets, 20)
	opts.CHWsPerClinic = cmp.Or(opts.CHWsPerClinic, 1)
	opts.ClinicsPerHC = cmp.Or(opts.ClinicsPerHC, 10)
	opts.HCsPerDistrict = cmp.Or(opts.HCsPerDistrict, 10)
	if opts.Targets < 0 || opts.CHWsPerClinic < 0 || opts.ClinicsPerHC < 0 || opts.HCsPerDistrict < 0 || opts.ReportsPerCHW < 0 {
		return nil, errors.New("couchsource: negative size")
	}
	if opts.CHWs > 999_999 || opts.Targets > 999 || opts.ReportsPerCHW > 100 {
		return nil, errors.New("couchsource: too large")
	}
	// seed.Generate makes the target definitions and the settings doc.
	g, err := seed.Generate(seed.GenOptions{CHWs: 1, Targets: opts.Targets, Month: month})
	if err != nil {
		return nil, fmt.Errorf("couchsource: %w", err)
	}
	d := &Data{opts: opts, db: cmp.Or(opts.Database, "medic"), targets: g.Targets(), month: month}
	d.created = month.Start().AddDate(-1, 0, 0).UnixMilli()
	d.updated = month.Add(1).Start().AddDate(0, 0, -1).UTC().Truncate(24 * time.Hour).UnixMilli()
	if d.settings, err = withRev(g.Settings()); err != nil {
		return nil, err
	}
	var doc struct {
		Settings json.RawMessage `json:"settings"`
	}
	if err := json.Unmarshal(d.settings, &doc); err != nil || len(doc.Settings) == 0 {
		return nil, fmt.Errorf("couchsource: the settings doc has no settings: %v", err)
	}
	d.appSets = doc.Settings
	if d.ddoc, err = withRev(seed.DesignDocs()[0].(map[string]any)); err != nil {
		return nil, err
	}
	d.nCHWs = opts.CHWs
	d.nClinics = ceilDiv(d.nCHWs, opts.CHWsPerClinic)
	d.nHCs = ceilDiv(d.nClinics, opts.ClinicsPerHC)
	d.nDistricts = ceilDiv(d.nHCs, opts.HCsPerDistrict)
	if opts.Supervisors {
		d.nSupers = d.nClinics
	}
	d.nReports = d.nCHWs * opts.ReportsPerCHW
	for kind, n := range map[int]int{kindDistrict: d.nDistricts, kindHC: d.nHCs, kindClinic: d.nClinics, kindCHW: d.nCHWs,
		kindSuper: d.nSupers, kindReport: d.nReports} {
		ids := make([]uid, n)
		order := make([]int32, n)
		for i := range ids {
			ids[i] = newUID(opts.Seed, kind, i)
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(x, y int32) int { return cmpUID(ids[x], ids[y]) })
		d.ids[kind], d.sorted[kind] = ids, order
	}
	return d, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// withRev marshals doc with a _rev.
func withRev(doc map[string]any) ([]byte, error) {
	m := map[string]any{"_rev": "1-00000000000000000000000000000001"}
	for k, v := range doc {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("couchsource: %w", err)
	}
	return b, nil
}

// newUID is seed's uuid(rng(kind, i)).
func newUID(s uint64, kind, i int) uid {
	p := rand.NewPCG(s, uint64(kind)<<56|uint64(i))
	a, b := p.Uint64(), p.Uint64()
	a = a&^(0xf<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // variant 10
	return uid{a, b}
}

const hexDigits = "0123456789abcdef"

// appendUID appends the UUID's string form, 8-4-4-4-12 hex digits.
func appendUID(dst []byte, u uid) []byte {
	var s [36]byte
	put := func(at int, v uint64, digits int) {
		for k := digits - 1; k >= 0; k-- {
			s[at+k] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	put(0, u.a>>32, 8)
	s[8] = '-'
	put(9, u.a>>16&0xffff, 4)
	s[13] = '-'
	put(14, u.a&0xffff, 4)
	s[18] = '-'
	put(19, u.b>>48, 4)
	s[23] = '-'
	put(24, u.b&0xffffffffffff, 12)
	return append(dst, s[:]...)
}

// parseUID reads a UUID string; ok is false for anything else.
func parseUID(s []byte) (u uid, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return uid{}, false
	}
	n := 0
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		var v uint64
		switch {
		case c >= '0' && c <= '9':
			v = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			v = uint64(c-'a') + 10
		default:
			return uid{}, false
		}
		if n < 16 {
			u.a = u.a<<4 | v
		} else {
			u.b = u.b<<4 | v
		}
		n++
	}
	return u, true
}

// Hierarchy: CHW c is in clinic c/CHWsPerClinic, clinic k in health centre
// k/ClinicsPerHC, health centre h in district h/HCsPerDistrict.
func (d *Data) clinicOf(c int) int   { return c / d.opts.CHWsPerClinic }
func (d *Data) hcOf(k int) int       { return k / d.opts.ClinicsPerHC }
func (d *Data) districtOf(h int) int { return h / d.opts.HCsPerDistrict }

// Org unit uids: seed's for districts and health centres, ouC… for clinics.
func districtOrgUnit(i int) string { return seed.DistrictOrgUnit(i) }
func hcOrgUnit(i int) string       { return seed.HealthCenterOrgUnit(i) }
func clinicOrgUnit(i int) string   { return fmt.Sprintf("ouC%08d", i+1) }

// Counts describes the data's size.
type Counts struct {
	CHWs       int // CHW persons, each owning one target doc
	TargetDocs int
	Targets    int // entries per target doc
	Contacts   int // contact docs: districts, health centres, clinics, CHWs, supervisors
	OrgUnits   int // mapped contacts: the rows of the DHIS view
	Users      int // user-settings docs (and replication logs)
	Reports    int // data_record docs
	Docs       int // every doc of the database (not of the logs database)
}

// Counts returns the data's size.
func (d *Data) Counts() Counts {
	ou := d.nDistricts + d.nHCs
	if d.opts.MapClinics {
		ou += d.nClinics
	}
	contacts := d.nDistricts + d.nHCs + d.nClinics + d.nCHWs + d.nSupers
	users := 0
	if d.opts.Users {
		users = d.nCHWs
	}
	return Counts{
		CHWs: d.nCHWs, TargetDocs: d.nCHWs, Targets: len(d.targets), Contacts: contacts,
		OrgUnits: ou, Users: users, Reports: d.nReports, Docs: contacts + d.nCHWs + users + d.nReports + 2,
	}
}

// DataSet is the data set every target is exported to.
const DataSet = seed.DemoDataSet

// Month returns the month of the target docs.
func (d *Data) Month() string { return string(d.month) }

// Database returns the database name.
func (d *Data) Database() string { return d.db }

// LogsDatabase returns the name of the logs database (the replication
// logs, when Options.Users): CHT's <database>-logs.
func (d *Data) LogsDatabase() string { return d.db + "-logs" }

// values fills vals with the target values of CHW c: seed's
// Scale.values(c), total and pass per target.
func (d *Data) values(c int, r *rand.Rand, pcg *rand.PCG, vals []seed.Value) {
	pcg.Seed(d.opts.Seed, uint64(kindValues)<<56|uint64(c))
	for j, t := range d.targets {
		total := r.IntN(21)
		pass := total
		if t.Type == "percent" {
			pass = r.IntN(total + 1)
		}
		vals[j] = seed.Value{Pass: pass, Total: total, Percent: t.Type == "percent"}
	}
}

// Expected returns the data values CHT's export gives for DataSet and the
// month: for every mapped org unit, per target's data element, the sum of
// the totals of the CHWs below it (zero filled). Sorted as
// seed.SortDataValues.
func (d *Data) Expected() []seed.DataValue {
	nt := len(d.targets)
	clinicSums := make([]int, d.nClinics*nt)
	pcg := &rand.PCG{}
	r := rand.New(pcg)
	vals := make([]seed.Value, nt)
	for c := range d.nCHWs {
		d.values(c, r, pcg, vals)
		k := d.clinicOf(c)
		for j, v := range vals {
			clinicSums[k*nt+j] += v.Total
		}
	}
	hcSums := make([]int, d.nHCs*nt)
	for k := range d.nClinics {
		h := d.hcOf(k)
		for j := range nt {
			hcSums[h*nt+j] += clinicSums[k*nt+j]
		}
	}
	districtSums := make([]int, d.nDistricts*nt)
	for h := range d.nHCs {
		di := d.districtOf(h)
		for j := range nt {
			districtSums[di*nt+j] += hcSums[h*nt+j]
		}
	}
	var out []seed.DataValue
	add := func(ou string, sums []int) {
		for j, t := range d.targets {
			out = append(out, seed.DataValue{DataElement: t.DHIS.DataElement, CategoryOptionCombo: t.DHIS.CategoryOptionCombo, OrgUnit: ou, Value: sums[j]})
		}
	}
	for i := range d.nDistricts {
		add(districtOrgUnit(i), districtSums[i*nt:(i+1)*nt])
	}
	for i := range d.nHCs {
		add(hcOrgUnit(i), hcSums[i*nt:(i+1)*nt])
	}
	if d.opts.MapClinics {
		for i := range d.nClinics {
			add(clinicOrgUnit(i), clinicSums[i*nt:(i+1)*nt])
		}
	}
	seed.SortDataValues(out)
	return out
}

// percent is CHT's round(pass*100/total), 0 when total is 0.
func percent(v seed.Value) int {
	if v.Total == 0 {
		return 0
	}
	return int(math.Round(float64(v.Pass) * 100 / float64(v.Total)))
}

// appendInt appends n in decimal.
func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
