package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// These tests run CHT Core's own DHIS2 export (api/src/services/export/dhis.js,
// through test/bench/chtcore/export.js) and `mediator preview` on the same
// database of the test server, and compare what they print. They need the
// cht-core source, which is not part of this repository: CHT_CORE_DIR names
// a checkout or a bare git dir; without it a local mirror at
// defaultCHTCoreDir is used when present; otherwise they skip.

const defaultCHTCoreDir = "/work/.mirror/medic+cht-core/repo"

// immunizationsDE is the data element of the demo's immunizations target,
// whose dhis is an array of configs. CHT's export reads target.dhis as one
// object (target.dhis?.dataElement), so it never exports such a target; the
// mediator exports every config of the array, on purpose: CHT's settings
// accept the array for contacts, and a target mapped this way should not
// vanish from DHIS2 without a word.
const immunizationsDE = "immUtd00001"

// chtCoreDir returns the cht-core source to run, or skips the test.
func chtCoreDir(t *testing.T) string {
	t.Helper()
	requireServer(t)
	dir := os.Getenv("CHT_CORE_DIR")
	if dir == "" {
		dir = defaultCHTCoreDir
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("CHT Core's export not run: no cht-core source (set CHT_CORE_DIR to a checkout or bare git dir; %s: %v)", dir, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("CHT Core's export not run: node is not on PATH")
	}
	return dir
}

// chtResult is CHT's output, the value kept as raw JSON: CHT's sums are
// JavaScript numbers, but bad data turns them into strings or null.
type chtResult struct {
	DataSet      string `json:"dataSet"`
	CompleteDate string `json:"completeDate"`
	Period       string `json:"period"`
	DataValues   []struct {
		DataElement          string          `json:"dataElement"`
		OrgUnit              string          `json:"orgUnit"`
		CategoryOptionCombo  string          `json:"categoryOptionCombo"`
		AttributeOptionCombo string          `json:"attributeOptionCombo"`
		Value                json.RawMessage `json:"value"`
	} `json:"dataValues"`
}

// raw indexes CHT's values by key, as raw JSON, failing on a key seen twice.
func (r chtResult) raw(t *testing.T) map[key]string {
	t.Helper()
	out := map[key]string{}
	for _, dv := range r.DataValues {
		k := key{dv.OrgUnit, dv.DataElement, dv.CategoryOptionCombo, dv.AttributeOptionCombo}
		if _, dup := out[k]; dup {
			t.Errorf("CHT: value %s appears twice", k)
		}
		out[k] = string(dv.Value)
	}
	return out
}

// runCHTCore runs CHT Core's export on database db for dataSet, month and
// (when not "") orgUnit, and returns its exit code, stdout and stderr.
func runCHTCore(t *testing.T, chtCore, db, dataSet string, mo seed.Month, orgUnit string) (int, string, string) {
	t.Helper()
	u, err := url.Parse(couch.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(chtUser, chtPassword)
	args := []string{filepath.Join("bench", "chtcore", "export.js"), "--cht-core", chtCore, "--url", u.String(),
		"--db", db, "--data-set", dataSet, "--month", string(mo)}
	if orgUnit != "" {
		args = append(args, "--org-unit", orgUnit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run CHT Core's export: %v", err)
		}
		code = ee.ExitCode()
	}
	if strings.Contains(stdout.String()+stderr.String(), chtPassword) {
		t.Error("the harness printed the CHT password")
	}
	return code, stdout.String(), stderr.String()
}

// chtCoreExport runs CHT Core's export, which must succeed, and checks the
// header it prints.
func chtCoreExport(t *testing.T, chtCore, db, dataSet string, mo seed.Month, orgUnit string) chtResult {
	t.Helper()
	code, stdout, stderr := runCHTCore(t, chtCore, db, dataSet, mo, orgUnit)
	if code != 0 {
		t.Fatalf("CHT Core's export (%s %s %q): exit %d; stderr: %s", dataSet, mo, orgUnit, code, stderr)
	}
	if stderr != "" {
		t.Errorf("CHT Core's export wrote on stderr: %s", stderr)
	}
	var r chtResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("CHT Core's export printed no data value set: %v\n%s", err, stdout)
	}
	if r.DataSet != dataSet || r.Period != mo.Period() || r.CompleteDate != time.Now().UTC().Format(time.DateOnly) {
		t.Errorf("CHT header = %q %q %q; want %q %q and today", r.DataSet, r.Period, r.CompleteDate, dataSet, mo.Period())
	}
	return r
}

// mediatorPreview runs `mediator preview` on database db, which must
// succeed, and returns its data value set and the problems it reported.
func mediatorPreview(t *testing.T, db, dataSet string, mo seed.Month, orgUnit string) (map[key]string, []string) {
	t.Helper()
	args := []string{"preview", "--data-set", dataSet, "--period", mo.Period()}
	if orgUnit != "" {
		args = append(args, "--org-unit", orgUnit)
	}
	code, stdout, stderr := run(t, chtEnv(db), args...)
	if code != 0 {
		t.Fatalf("mediator %v: exit %d; stderr:\n%s", args, code, stderr)
	}
	var set export.DataValueSet
	if err := json.Unmarshal([]byte(stdout), &set); err != nil {
		t.Fatalf("mediator preview printed no data value set: %v\n%s", err, stdout)
	}
	if set.DataSet != dataSet {
		t.Errorf("mediator dataSet = %q; want %q", set.DataSet, dataSet)
	}
	var problems []string
	for _, l := range strings.Split(stderr, "\n") {
		if p, ok := strings.CutPrefix(l, "problem: "); ok {
			problems = append(problems, p)
		}
	}
	return values(t, set, mo.Period()), problems
}

// withoutImmunizations splits the mediator's values into those CHT also
// exports and those of the immunizations target (see immunizationsDE).
func withoutImmunizations(vals map[key]string) (rest, imm map[key]string) {
	rest, imm = map[key]string{}, map[key]string{}
	for k, v := range vals {
		if k.de == immunizationsDE {
			imm[k] = v
		} else {
			rest[k] = v
		}
	}
	return rest, imm
}

// mappedOrgUnits returns the demo org units mapped for dataSet.
func mappedOrgUnits(m *seed.Manifest, dataSet string) []string {
	var out []string
	for _, ou := range m.OrgUnits {
		if ou.DataSet == "" || ou.DataSet == dataSet {
			out = append(out, ou.ID)
		}
	}
	return out
}

// The demo district, both data sets, two months, the whole hierarchy and
// each mapped org unit: CHT Core's own export and the mediator's preview
// give the same values (data element, org unit, category and attribute
// option combos, value), in any order. The one difference is deliberate:
// the mediator also exports the immunizations target, whose dhis is an
// array that CHT's export skips.
func TestCHTCore_demoDistrictSameValues(t *testing.T) {
	chtCore := chtCoreDir(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 2})
	if err != nil {
		t.Fatal(err)
	}
	newDB(t, "chtcore_demo", docs)
	for _, ds := range []string{m.DataSet, m.OtherDataSet} {
		for i, mo := range m.Months {
			orgUnits := []string{""}
			if i == len(m.Months)-1 {
				orgUnits = append(orgUnits, mappedOrgUnits(m, ds)...)
			}
			for _, ou := range orgUnits {
				t.Run(fmt.Sprintf("%s/%s/orgUnit=%s", ds, mo, ou), func(t *testing.T) {
					cht := chtCoreExport(t, chtCore, "chtcore_demo", ds, mo, ou).raw(t)
					if len(cht) < 6 {
						t.Fatalf("CHT exported only %d values: the fixture is too small to mean anything", len(cht))
					}
					// CHT's numbers are what the seeder says CHT gives, so
					// both sides are checked against the documents.
					want := chtExpected(m.Expected(ds, mo))
					if ou != "" {
						for k := range want {
							if k.ou != ou {
								delete(want, k)
							}
						}
					}
					diff(t, "CHT vs seeder", cht, want)

					med, problems := mediatorPreview(t, "chtcore_demo", ds, mo, ou)
					rest, imm := withoutImmunizations(med)
					diff(t, "mediator vs CHT", rest, cht)
					if len(problems) != 0 {
						t.Errorf("mediator problems = %v; want none on well-formed data", problems)
					}
					// The deliberate difference: one immunizations value
					// per org unit CHT exports.
					ous := map[string]bool{}
					for k := range cht {
						ous[k.ou] = true
					}
					if len(imm) != len(ous) {
						t.Errorf("mediator has %d immunizations values; want one for each of CHT's %d org units", len(imm), len(ous))
					}
					for k := range imm {
						if !ous[k.ou] {
							t.Errorf("immunizations value for org unit %s, which CHT does not export", k.ou)
						}
					}
				})
			}
		}
	}
}

// Data CHT's export counts in its own way, next to data both treat alike.
// Alike: a target doc of another type (CHT does not check type), an owner
// not in the database, a deleted target doc, a report carrying dhis, a
// place whose dhis array holds null, a place whose dhis has no orgUnit.
// Different, on purpose, each asserted below: two target docs for one owner
// (CHT sums both devices; the mediator counts the most recently updated
// one, ties going to the greater doc id, and reports the other), a total that is a string
// (CHT concatenates it into the sum) and a missing total (CHT's sum becomes
// NaN, printed null); the mediator leaves a bad entry out and reports it.
func TestCHTCore_quirks(t *testing.T) {
	chtCore := chtCoreDir(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	mo := m.Months[0]
	home := m.CHWs[0]
	person := func(id string) map[string]any {
		return map[string]any{"_id": id, "type": "person", "name": "Extra " + id, "parent": seed.Lineage(home.Lineage...)}
	}
	births := func(total int) []seed.TargetValue {
		return []seed.TargetValue{{ID: seed.TargetBirths, Value: seed.Value{Pass: total, Total: total}}}
	}
	for _, id := range []string{"extra-dup", "extra-str", "extra-nototal", "extra-type", "extra-del"} {
		docs = append(docs, person(id))
	}
	docs = append(docs, seed.DuplicateOwner(mo, "extra-dup", "ud1", "ud2", births(100), births(7))...)
	docs = append(docs,
		seed.TotalAsString(mo, "extra-str", "us", seed.TargetHouseholdVisits, "5"),
		seed.TotalMissing(mo, "extra-nototal", "un", seed.TargetFacilityDeliv),
		seed.WrongType(mo, "extra-type", "ut", births(3)),
		seed.UnknownOwner(mo, "ughost", births(1000)),
		seed.Deleted(mo, "extra-del", "ux"),
		seed.DataRecordWithDHIS("report-with-dhis", "ouReport001"),
		seed.PlaceWithNullDHISEntry("hc-null-entry", m.District.ID, "ouNullEntr1"),
		seed.PlaceWithoutOrgUnit("hc-no-ou", m.District.ID, m.DataSet),
	)
	newDB(t, "chtcore_quirks", docs)

	cht := chtCoreExport(t, chtCore, "chtcore_quirks", m.DataSet, mo, "").raw(t)
	med, problems := mediatorPreview(t, "chtcore_quirks", m.DataSet, mo, "")
	rest, _ := withoutImmunizations(med)

	// The org units the extra CHWs roll up to.
	var homeOUs []string
	for _, ou := range m.OrgUnits {
		if slices.Contains(home.Lineage, ou.PlaceID) && (ou.DataSet == "" || ou.DataSet == m.DataSet) {
			homeOUs = append(homeOUs, ou.ID)
		}
	}
	if len(homeOUs) < 2 {
		t.Fatalf("the first CHW rolls up to %v; want a health centre and the district", homeOUs)
	}
	number := func(what, s string) int {
		t.Helper()
		var n int
		if err := json.Unmarshal([]byte(s), &n); err != nil {
			t.Errorf("%s = %s; want a whole number", what, s)
		}
		return n
	}
	checked := map[key]bool{}
	for _, ou := range homeOUs {
		// Two docs for one owner: CHT adds 100 + 7, the mediator 7.
		k := key{ou, seed.DEBirths, "", ""}
		if c, g := number("CHT "+k.String(), cht[k]), number("mediator "+k.String(), rest[k]); c-g != 100 {
			t.Errorf("births at %s: CHT %d, mediator %d; want CHT to count the older duplicate's 100 too", ou, c, g)
		}
		// total "5": CHT's sum turns into a string.
		k2 := key{ou, "hHVisit0001", "", ""}
		if !strings.HasPrefix(cht[k2], `"`) || !strings.Contains(cht[k2], "5") {
			t.Errorf("household visits at %s: CHT %s; want the string CHT concatenates", ou, cht[k2])
		}
		number("mediator "+k2.String(), rest[k2])
		// No total: CHT's sum is NaN, printed null.
		k3 := key{ou, seed.DEFacilityDeliveries, seed.COCDefault, seed.COCDefault}
		if cht[k3] != "null" {
			t.Errorf("facility deliveries at %s: CHT %s; want null (NaN)", ou, cht[k3])
		}
		number("mediator "+k3.String(), rest[k3])
		checked[k], checked[k2], checked[k3] = true, true, true
	}
	// Everything else is the same.
	same := func(vals map[key]string) map[key]string {
		out := map[key]string{}
		for k, v := range vals {
			if !checked[k] {
				out[k] = v
			}
		}
		return out
	}
	diff(t, "mediator vs CHT, outside the quirks", same(rest), same(cht))

	// The mediator names what it left out.
	for _, want := range []string{
		seed.TargetDocID(mo, "extra-dup", "ud1"),
		seed.TargetDocID(mo, "extra-str", "us"),
		seed.TargetDocID(mo, "extra-nototal", "un"),
		seed.TargetDocID(mo, "00000000-0000-4000-8000-00000000dead", "ughost"),
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem reported for %s; problems: %v", want, problems)
		}
	}
}

// A target doc CHT's export cannot read (no targets, targets an object, a
// null value) fails CHT's whole export (HTTP 500 in CHT): nothing for any
// org unit. The mediator skips that doc, reports it, and exports the rest:
// the same values CHT gives once the doc is gone.
func TestCHTCore_badDocFailsCHTNotMediator(t *testing.T) {
	chtCore := chtCoreDir(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	mo := m.Months[0]
	home := m.CHWs[0]
	newDB(t, "chtcore_clean", docs)
	clean := chtCoreExport(t, chtCore, "chtcore_clean", m.DataSet, mo, "").raw(t)

	births := []seed.TargetValue{{ID: seed.TargetBirths, Value: seed.Value{Pass: 4, Total: 4}}}
	for i, tc := range []struct {
		name, chtSays string
		doc           map[string]any
	}{
		{"no targets", "is not iterable", seed.NoTargets(mo, "extra-bad", "ubad")},
		{"targets an object", "is not iterable", seed.TargetsNotArray(mo, "extra-bad", "ubad", births)},
		{"value null", "Cannot read properties of null", seed.ValueNull(mo, "extra-bad", "ubad", seed.TargetBirths)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := fmt.Sprintf("chtcore_bad%d", i)
			extra := map[string]any{"_id": "extra-bad", "type": "person", "name": "Extra", "parent": seed.Lineage(home.Lineage...)}
			newDB(t, db, append(slices.Clone(docs), extra, tc.doc))

			code, stdout, stderr := runCHTCore(t, chtCore, db, m.DataSet, mo, "")
			if code == 0 || stdout != "" || !strings.Contains(stderr, tc.chtSays) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("CHT Core's export: exit %d, stdout %q, stderr %q; want a failure saying %q on one line", code, stdout, stderr, tc.chtSays)
			}
			med, problems := mediatorPreview(t, db, m.DataSet, mo, "")
			rest, _ := withoutImmunizations(med)
			diff(t, "mediator with the bad doc vs CHT without it", rest, clean)
			id := seed.TargetDocID(mo, "extra-bad", "ubad")
			if len(problems) != 1 || !strings.Contains(problems[0], id) {
				t.Errorf("problems = %v; want one, naming %s", problems, id)
			}
		})
	}
}

// The harness refuses bad input with one line on stderr and never prints
// the password it was given; --timing adds one line after a success.
func TestCHTCore_harnessCommandLine(t *testing.T) {
	chtCore := chtCoreDir(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	newDB(t, "chtcore_errs", docs)
	mo := m.Months[0]
	for _, tc := range []struct {
		name, db, dataSet string
		code              int
		stderr            string
	}{
		{"unknown data set", "chtcore_errs", "dsUnknown01", 1, `400 dataSet "dsUnknown01" is not defined`},
		{"unknown database", "chtcore_nodb", m.DataSet, 1, "HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCHTCore(t, chtCore, tc.db, tc.dataSet, mo, "")
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.stderr) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and one line with %q", code, stdout, stderr, tc.code, tc.stderr)
			}
		})
	}
	// A wrong password: 401, and neither password printed.
	u, _ := url.Parse(couch.URL())
	u.User = url.UserPassword(chtUser, "Wr0ng-Passw0rd")
	cmd := exec.Command("node", filepath.Join("bench", "chtcore", "export.js"), "--cht-core", chtCore, "--url", u.String(),
		"--db", "chtcore_errs", "--data-set", m.DataSet, "--month", string(mo))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "401") || strings.Contains(string(out), "Wr0ng-Passw0rd") {
		t.Errorf("wrong password: %v, %q; want exit 1, a 401 and no password", err, out)
	}
	// --timing: the export's own time on stderr, the output unchanged.
	u.User = url.UserPassword(chtUser, chtPassword)
	cmd = exec.Command("node", filepath.Join("bench", "chtcore", "export.js"), "--cht-core", chtCore, "--url", u.String(),
		"--db", "chtcore_errs", "--data-set", m.DataSet, "--month", string(mo), "--timing")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("--timing: %v; stderr: %s", err, stderr.String())
	}
	var r chtResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("--timing: stdout is not the data value set: %v", err)
	}
	timing := regexp.MustCompile(`^chtcore timing: node_start_ms=\d+ setup_ms=\d+ export_ms=\d+ write_ms=\d+ values=(\d+)\n$`)
	if sm := timing.FindStringSubmatch(stderr.String()); sm == nil || sm[1] != strconv.Itoa(len(r.DataValues)) || len(r.DataValues) == 0 {
		t.Errorf("--timing stderr = %q; want one timing line counting the %d values", stderr.String(), len(r.DataValues))
	}
	// A checkout works as the bare git dir does: with the two files in a
	// work tree, the same values.
	if _, err := os.Stat(filepath.Join(chtCore, "api")); err != nil {
		checkout := t.TempDir()
		for _, f := range []string{"api/src/services/export/dhis.js", "api/src/config.js"} {
			b, err := exec.Command("git", "--git-dir", chtCore, "show", "HEAD:"+f).Output()
			if err != nil {
				t.Fatalf("git show %s: %v", f, err)
			}
			dest := filepath.Join(checkout, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dest, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fromTree := chtCoreExport(t, checkout, "chtcore_errs", m.DataSet, mo, "")
		diff(t, "checkout vs git dir", fromTree.raw(t), r.raw(t))
	}
	// A bad command line exits 2.
	cmd = exec.Command("node", filepath.Join("bench", "chtcore", "export.js"), "--cht-core", chtCore, "--url", couch.URL(),
		"--db", "x", "--data-set", m.DataSet, "--month", "2026-13")
	out, err = cmd.CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "use YYYY-MM") {
		t.Errorf("--month 2026-13: %v, %q; want exit 2 and the format", err, out)
	}
}
