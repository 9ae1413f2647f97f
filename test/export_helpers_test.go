package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// Credentials of the DHIS2 sandboxes. The token has the shape of a real
// personal access token (DHIS2 Web API docs, authentication).
const (
	dhisUser     = "cht-mediator"
	dhisPassword = "Dh1s2-e2e-Passw0rd-9f3k"
	dhisToken    = "d2pat_e2eT0kenQw8Zp2Lx7Vb4Nc6Mm1Rt5Yu3Kk9Aa0Ss2Dd1234567890"
)

// sandboxNow is the sandboxes' clock: after the exported month (202610),
// which is then closed, not locked (expiryDays 0) and not in the future.
var sandboxNow = time.Date(2026, 11, 15, 9, 30, 0, 0, time.UTC)

// exportDB is the demo district database shared by the export tests: one
// month of target docs, 2026-10.
const exportDB = "export"

var exportOnce sync.Once

// exportDemo loads the demo district into exportDB once and returns its
// manifest, the exported month and the values DHIS2 must end up with for
// the demo data set (key combos normalised, see norm).
func exportDemo(t *testing.T) (*seed.Manifest, aggregate.Month, map[key]string) {
	t.Helper()
	requireServer(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	exportOnce.Do(func() { newDB(t, exportDB, docs) })
	mo := m.Months[0]
	want := norm(demoExpected(m, seed.DemoDataSet, mo))
	if len(want) != 28 {
		t.Fatalf("the demo data set has %d expected values; want 28 (4 org units × 7 data elements)", len(want))
	}
	return m, month(t, mo), want
}

// norm maps the default category option combo to "": DHIS2 stores the
// default combo for a value sent without one, and CHT's config names it
// explicitly for one target.
func norm(in map[key]string) map[key]string {
	out := make(map[key]string, len(in))
	for k, v := range in {
		out[normKey(k)] = v
	}
	return out
}

func normKey(k key) key {
	if k.coc == sandbox.DefaultCategoryOptionComboID {
		k.coc = ""
	}
	if k.aoc == sandbox.DefaultCategoryOptionComboID {
		k.aoc = ""
	}
	return k
}

// without returns want minus the values of the given org units and data
// elements.
func without(want map[key]string, drop func(k key) bool) map[key]string {
	out := map[key]string{}
	for k, v := range want {
		if !drop(k) {
			out[k] = v
		}
	}
	return out
}

func onlyKeys(want map[key]string, keep func(k key) bool) map[key]string {
	return without(want, func(k key) bool { return !keep(k) })
}

// demoMetadata returns the demo district's DHIS2 metadata, not yet
// resolved, so that a test can change it before sandbox.New.
func demoMetadata(t *testing.T) *sandbox.Metadata {
	t.Helper()
	b, err := os.ReadFile("sandbox/dhis2/testdata/demo-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	var md sandbox.Metadata
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatalf("demo metadata: %v", err)
	}
	return &md
}

func mdDataSet(t *testing.T, md *sandbox.Metadata, id string) *sandbox.DataSet {
	t.Helper()
	for i := range md.DataSets {
		if md.DataSets[i].ID == id {
			return &md.DataSets[i]
		}
	}
	t.Fatalf("metadata has no data set %s", id)
	return nil
}

func mdDataElement(t *testing.T, md *sandbox.Metadata, id string) *sandbox.DataElement {
	t.Helper()
	for i := range md.DataElements {
		if md.DataElements[i].ID == id {
			return &md.DataElements[i]
		}
	}
	t.Fatalf("metadata has no data element %s", id)
	return nil
}

// unassign removes org unit ou from data set ds.
func unassign(t *testing.T, md *sandbox.Metadata, ds, ou string) {
	t.Helper()
	d := mdDataSet(t, md, ds)
	n := len(d.OrganisationUnits)
	d.OrganisationUnits = slices.DeleteFunc(d.OrganisationUnits, func(r sandbox.Ref) bool { return r.ID == ou })
	if len(d.OrganisationUnits) != n-1 {
		t.Fatalf("org unit %s was not assigned to %s", ou, ds)
	}
}

// newSandbox returns a DHIS2 sandbox of version with md, which accepts
// dhisUser/dhisPassword and (2.38+) dhisToken.
func newSandbox(t *testing.T, version string, md *sandbox.Metadata, edit ...func(*sandbox.Options)) *sandbox.Server {
	t.Helper()
	opts := sandbox.Options{Version: version, Metadata: md, Username: dhisUser, Password: dhisPassword, Token: dhisToken,
		Now: func() time.Time { return sandboxNow }}
	for _, e := range edit {
		e(&opts)
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox %s: %v", version, err)
	}
	t.Cleanup(sb.Close)
	return sb
}

// serve serves h on a loopback port for the rest of the test.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// startDHIS2 is newSandbox served on a loopback port.
func startDHIS2(t *testing.T, version string, md *sandbox.Metadata, edit ...func(*sandbox.Options)) (*sandbox.Server, string) {
	t.Helper()
	sb := newSandbox(t, version, md, edit...)
	return sb, serve(t, sb)
}

// switchHandler serves whichever handler was set last: DHIS2 changing
// under the mediator's feet.
type switchHandler struct {
	mu sync.RWMutex
	h  http.Handler
}

func (s *switchHandler) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	h := s.h
	s.mu.RUnlock()
	h.ServeHTTP(w, r)
}

// dhis2Keys are the config keys of a DHIS2 at url, with a token or with
// basic auth, plus extra key/value pairs.
func dhis2Keys(url string, token bool, extra ...string) map[string]string {
	m := map[string]string{"dhis2.url": url}
	if token {
		m["dhis2.token"] = dhisToken
	} else {
		m["dhis2.username"] = dhisUser
		m["dhis2.password"] = dhisPassword
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// exportEnv is the environment of the binary for CHT database db and the
// DHIS2 at url, with a token or with basic auth, plus extra variables
// (later ones win).
func exportEnv(db, url string, token bool, extra ...string) []string {
	env := chtEnv(db)
	// The binary is built with -race, whose runtime sleeps a second before
	// a successful exit; nothing here needs that wait.
	env = append(env, "GORACE=atexit_sleep_ms=0", "MEDIATOR_LOG_LEVEL=error", "MEDIATOR_DHIS2_URL="+url)
	if token {
		env = append(env, "MEDIATOR_DHIS2_TOKEN="+dhisToken)
	} else {
		env = append(env, "MEDIATOR_DHIS2_USERNAME="+dhisUser, "MEDIATOR_DHIS2_PASSWORD="+dhisPassword)
	}
	return append(env, extra...)
}

// runExport runs an export in process and fails the test on an error.
func runExport(t *testing.T, svc *export.Service, req export.Request, dryRun bool) *export.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := svc.Export(ctx, export.ExportRequest{Request: req, DryRun: dryRun})
	if err != nil {
		t.Fatalf("Export(%s %s, dryRun=%t) = %v", req.DataSet, req.Period, dryRun, err)
	}
	if rep == nil {
		t.Fatal("Export returned no report and no error")
	}
	return rep
}

// decodeReport reads the report the binary printed.
func decodeReport(t *testing.T, stdout string) *export.Report {
	t.Helper()
	var rep export.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not an export report: %v\n%s", err, stdout)
	}
	return &rep
}

// storedValues is what the sandbox stored, keyed like the expected values.
// Every value must be live and of period.
func storedValues(t *testing.T, sb *sandbox.Server, period string) map[key]string {
	t.Helper()
	out := map[key]string{}
	for _, v := range sb.Stored() {
		k := normKey(key{v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo})
		if v.Deleted {
			t.Errorf("stored value %s is soft-deleted", k)
		}
		if v.Period != period {
			t.Errorf("stored value %s has period %s; want %s", k, v.Period, period)
		}
		out[k] = v.Value
	}
	return out
}

// wireSet is a pushed data value set as it arrived.
type wireSet struct {
	DataSet      string `json:"dataSet"`
	Period       string `json:"period"`
	OrgUnit      string `json:"orgUnit"`
	CompleteDate string `json:"completeDate"`
	AOC          string `json:"attributeOptionCombo"`
	DataValues   []struct {
		DataElement          string `json:"dataElement"`
		Period               string `json:"period"`
		OrgUnit              string `json:"orgUnit"`
		CategoryOptionCombo  string `json:"categoryOptionCombo"`
		AttributeOptionCombo string `json:"attributeOptionCombo"`
		Value                string `json:"value"`
	} `json:"dataValues"`
}

// pushes returns the POST /api/dataValueSets requests the sandbox received
// and their bodies, checking that each is the bulk form the mediator sends:
// data set dataSet, no set-level period, org unit, combo or completeDate,
// every value fully qualified.
func pushes(t *testing.T, sb *sandbox.Server, dataSet string) ([]sandbox.RecordedRequest, []wireSet) {
	t.Helper()
	var reqs []sandbox.RecordedRequest
	var sets []wireSet
	for _, r := range sb.Requests() {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/dataValueSets") {
			continue
		}
		var s wireSet
		if err := json.Unmarshal(r.Body, &s); err != nil {
			t.Fatalf("push %d: body is not a data value set: %v", len(reqs)+1, err)
		}
		if s.DataSet != dataSet || s.Period != "" || s.OrgUnit != "" || s.AOC != "" || s.CompleteDate != "" {
			t.Errorf("push %d: set-level fields dataSet=%q period=%q orgUnit=%q aoc=%q completeDate=%q; want dataSet %s only",
				len(reqs)+1, s.DataSet, s.Period, s.OrgUnit, s.AOC, s.CompleteDate, dataSet)
		}
		if got := r.Query.Get("importStrategy"); got != "CREATE_AND_UPDATE" {
			t.Errorf("push %d: importStrategy = %q; want CREATE_AND_UPDATE", len(reqs)+1, got)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("push %d: Content-Type = %q", len(reqs)+1, ct)
		}
		for _, dv := range s.DataValues {
			if dv.Period == "" || dv.OrgUnit == "" || dv.DataElement == "" || dv.Value == "" {
				t.Errorf("push %d: value %+v is not fully qualified", len(reqs)+1, dv)
			}
		}
		reqs = append(reqs, r)
		sets = append(sets, s)
	}
	return reqs, sets
}

// pushedKeys counts how often each value was sent in the pushes that were
// not dry runs, and returns the values as sent.
func pushedKeys(t *testing.T, sb *sandbox.Server, dataSet string) (map[key]int, map[key]string) {
	t.Helper()
	reqs, sets := pushes(t, sb, dataSet)
	count, vals := map[key]int{}, map[key]string{}
	for i, s := range sets {
		if reqs[i].Query.Get("dryRun") == "true" {
			continue
		}
		for _, dv := range s.DataValues {
			k := normKey(key{dv.OrgUnit, dv.DataElement, dv.CategoryOptionCombo, dv.AttributeOptionCombo})
			count[k]++
			vals[k] = dv.Value
		}
	}
	return count, vals
}

// requireEachOnce fails unless exactly the values of want were pushed, each
// once, with its value.
func requireEachOnce(t *testing.T, sb *sandbox.Server, dataSet string, want map[key]string) {
	t.Helper()
	count, vals := pushedKeys(t, sb, dataSet)
	for k, n := range count {
		if n != 1 {
			t.Errorf("value %s was pushed %d times; want once", k, n)
		}
	}
	diff(t, "pushed", vals, want)
}

// apiAuth returns the Authorization schemes the sandbox saw.
func apiAuth(sb *sandbox.Server) map[string]int {
	out := map[string]int{}
	for _, r := range sb.Requests() {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		out[scheme]++
	}
	return out
}

// problemsByCode groups a report's problems by code.
func problemsByCode(rep *export.Report) map[string][]export.Problem {
	out := map[string][]export.Problem{}
	for _, p := range rep.Problems {
		out[p.Code] = append(out[p.Code], p)
	}
	return out
}

// problemKeys are the keys of problems (one per value), failing on a key
// seen twice.
func problemKeys(t *testing.T, ps []export.Problem) map[key]string {
	t.Helper()
	out := map[key]string{}
	for _, p := range ps {
		k := normKey(key{p.OrgUnit, p.DataElement, p.CategoryOptionCombo, p.AttributeOptionCombo})
		if _, dup := out[k]; dup {
			t.Errorf("problem %s %s reported twice", p.Code, k)
		}
		if p.Message == "" {
			t.Errorf("problem %s %s has no message", p.Code, k)
		}
		out[k] = p.Value
	}
	return out
}

// conflictValues are the values DHIS2's conflicts name, each with its
// value, failing when a value is named by two conflicts.
func conflictValues(t *testing.T, imp *export.ImportSummary, period string) map[key]string {
	t.Helper()
	out := map[key]string{}
	for _, c := range imp.Conflicts {
		for _, v := range c.Values {
			k := normKey(key{v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo})
			if _, dup := out[k]; dup {
				t.Errorf("value %s is named by two conflicts", k)
			}
			if v.Period != period {
				t.Errorf("conflict value %s has period %q; want %s", k, v.Period, period)
			}
			out[k] = v.Value
		}
	}
	return out
}

// fakeCHT is an in-memory CHT with n places, each mapped to its own org
// unit and holding one CHW, whose target doc of the month has a value for
// each of targets targets: enough for pushes of any size without a
// CouchDB.
type fakeCHT struct {
	dataSet    string
	n, targets int
}

var _ export.CHTSource = fakeCHT{}

func bulkOrgUnit(i int) string     { return fmt.Sprintf("ouBulk%05d", i) }
func bulkDataElement(j int) string { return fmt.Sprintf("deBulk%05d", j) }

// bulkTotal is the total of target j of CHW i.
func bulkTotal(i, j int) int { return (i*7 + j*13) % 50 }

func (f fakeCHT) Settings(context.Context) (cht.Settings, error) {
	s := cht.Settings{DataSets: []aggregate.DataSet{{ID: f.dataSet}}, MonthStartDate: 1}
	for j := range f.targets {
		s.Targets = append(s.Targets, aggregate.TargetDef{ID: fmt.Sprintf("target-%d", j),
			DHIS: []aggregate.Mapping{{DataElement: bulkDataElement(j)}}})
	}
	return s, nil
}

func (f fakeCHT) TargetDocs(ctx context.Context, docMonth string, fn func(aggregate.TargetDoc) error) (int, error) {
	for i := range f.n {
		d := aggregate.TargetDoc{ID: fmt.Sprintf("target~%s~chw-%d~user-%d", docMonth, i, i), Owner: fmt.Sprintf("chw-%d", i), UpdatedDate: 1}
		for j := range f.targets {
			d.Targets = append(d.Targets, aggregate.Target{ID: fmt.Sprintf("target-%d", j), Total: float64(bulkTotal(i, j))})
		}
		if err := fn(d); err != nil {
			return i, err
		}
	}
	return f.n, ctx.Err()
}

func (f fakeCHT) Contacts(ctx context.Context, fn func(aggregate.Contact) error) error {
	for i := range f.n {
		if err := fn(aggregate.Contact{ID: fmt.Sprintf("place-%d", i), Name: fmt.Sprintf("Place %d", i),
			OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: bulkOrgUnit(i)}}}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (f fakeCHT) Owners(_ context.Context, ids []string) ([]aggregate.Owner, error) {
	out := make([]aggregate.Owner, 0, len(ids))
	for _, id := range ids {
		out = append(out, aggregate.Owner{ID: id, Lineage: []string{"place-" + strings.TrimPrefix(id, "chw-")}})
	}
	return out, nil
}

func (f fakeCHT) Translations(context.Context, string) (map[string]string, error) {
	return map[string]string{}, nil
}

// bulkMetadata is DHIS2 metadata for fakeCHT: a Monthly data set with
// targets data elements (zero is significant, so every value is stored)
// and n org units under one root, all assigned.
func bulkMetadata(dataSet string, n, targets int) *sandbox.Metadata {
	md := &sandbox.Metadata{}
	md.OrganisationUnits = append(md.OrganisationUnits, sandbox.OrganisationUnit{ID: "ouBulkRoot1", Name: "Bulk country", OpeningDate: "1990-01-01"})
	ds := sandbox.DataSet{ID: dataSet, Name: "Bulk monthly", PeriodType: "Monthly"}
	for j := range targets {
		md.DataElements = append(md.DataElements, sandbox.DataElement{ID: bulkDataElement(j), Name: fmt.Sprintf("Bulk element %d", j),
			ValueType: "INTEGER_ZERO_OR_POSITIVE", ZeroIsSignificant: true})
		ds.DataSetElements = append(ds.DataSetElements, sandbox.DataSetElement{DataElement: sandbox.Ref{ID: bulkDataElement(j)}})
	}
	for i := range n {
		md.OrganisationUnits = append(md.OrganisationUnits, sandbox.OrganisationUnit{ID: bulkOrgUnit(i), Name: fmt.Sprintf("Bulk unit %d", i),
			Parent: &sandbox.Ref{ID: "ouBulkRoot1"}, OpeningDate: "2000-01-01"})
		ds.OrganisationUnits = append(ds.OrganisationUnits, sandbox.Ref{ID: bulkOrgUnit(i)})
	}
	md.DataSets = []sandbox.DataSet{ds}
	return md
}
