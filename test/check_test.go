package test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// Credentials of the DHIS2 sandboxes of the check tests.
const (
	checkDHIS2User     = "admin"
	checkDHIS2Password = "Check-Distr1ct-Pw"
)

// checkMetadata reads the demo district's DHIS2 metadata, unresolved, so
// that a test can change it before sandbox.New resolves it.
func checkMetadata(t *testing.T) *sandbox.Metadata {
	t.Helper()
	b, err := os.ReadFile("sandbox/dhis2/testdata/demo-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	var md sandbox.Metadata
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	return &md
}

// checkSandbox serves a DHIS2 2.40 sandbox holding md and returns its URL.
func checkSandbox(t *testing.T, md *sandbox.Metadata) string {
	t.Helper()
	s, err := sandbox.New(sandbox.Options{Version: "2.40", Metadata: md, Username: checkDHIS2User, Password: checkDHIS2Password})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// checkEnv is the environment of a check of CHT database db against the
// DHIS2 at dhis2URL.
func checkEnv(db, dhis2URL string, extra ...string) []string {
	env := append(chtEnv(db),
		"MEDIATOR_DHIS2_URL="+dhis2URL,
		"MEDIATOR_DHIS2_USERNAME="+checkDHIS2User,
		"MEDIATOR_DHIS2_PASSWORD="+checkDHIS2Password,
	)
	return append(env, extra...)
}

// Targets of the broken CHT database: the demo's plus one mapped to a data
// element DHIS2 does not have.
const checkUnknownDE = "deUnknown01"

var checkDBOnce sync.Once

// checkDBs creates "check_demo" (the demo district) and "check_broken" (the
// same with an extra target mapped to an unknown data element).
func checkDBs(t *testing.T) {
	t.Helper()
	checkDBOnce.Do(func() {
		docs, _, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
		if err != nil {
			t.Fatal(err)
		}
		newDB(t, "check_demo", docs)
		targets := append(seed.DefaultTargets(), seed.Target{ID: "referrals-this-month", Type: "count", Goal: -1,
			DHIS: &seed.DHIS{DataSet: seed.DemoDataSet, DataElement: checkUnknownDE}})
		broken := slices.Clone(docs)
		for i, d := range broken {
			if m, ok := d.(map[string]any); ok && m["_id"] == "settings" {
				broken[i] = seed.SettingsDoc(targets, nil)
			}
		}
		newDB(t, "check_broken", broken)
	})
}

// assertNoSecrets fails when output shows a password.
func assertNoSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, secret := range []string{chtPassword, checkDHIS2Password, "Wr0ng-Check-Pw"} {
			if strings.Contains(out, secret) {
				t.Errorf("output shows a password:\n%s", out)
			}
		}
		for _, bad := range []string{"panic", "goroutine "} {
			if strings.Contains(out, bad) {
				t.Errorf("output contains %q:\n%s", bad, out)
			}
		}
	}
}

func TestCheck_demoPasses(t *testing.T) {
	requireServer(t)
	checkDBs(t)
	dhis2URL := checkSandbox(t, checkMetadata(t))

	code, stdout, stderr := run(t, checkEnv("check_demo", dhis2URL), "check")
	t.Logf("mediator check:\n%s", stdout)
	if code != 0 {
		t.Fatalf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"OK    reachable, credentials accepted, version 2.40.0",
		`Data set dsCHTMonth1 "CHW Monthly Report"`,
		`Data set dsCHTOther1 "CHW Maternal and Child Health"`,
		"OK    4 org units on CHT contacts exist and are assigned to the data set",
		`WARN  target "immunizations-up-to-date" is mapped with a dhis array`,
		"OK: every check passed (1 warning)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout has no %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr = %q; want nothing at level warn", stderr)
	}
	assertNoSecrets(t, stdout, stderr)

	code, stdout, stderr = run(t, checkEnv("check_demo", dhis2URL), "check", "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d; stderr:\n%s", code, stderr)
	}
	var rep export.CheckReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json: stdout is not a check report: %v\n%s", err, stdout)
	}
	if !rep.OK || rep.Errors != 0 || rep.Warnings != 1 || rep.DHIS2.Version != "2.40.0" || !rep.CHT.OK || rep.CHT.Database != "check_demo" {
		t.Errorf("report = %+v", rep)
	}
	var ids []string
	for _, ds := range rep.DataSets {
		ids = append(ids, ds.ID)
		if !ds.OK || !ds.Checked || ds.PeriodType != "Monthly" || ds.OrgUnits != 4 || len(ds.Findings) != 0 {
			t.Errorf("data set %s = %+v", ds.ID, ds)
		}
	}
	if !slices.Equal(ids, []string{seed.DemoDataSet, seed.OtherDataSet}) {
		t.Errorf("data sets = %v", ids)
	}
}

func TestCheck_brokenMappings(t *testing.T) {
	requireServer(t)
	checkDBs(t)
	md := checkMetadata(t)
	for i := range md.DataSets {
		ds := &md.DataSets[i]
		switch ds.ID {
		case seed.DemoDataSet: // Bahari's org unit is no longer assigned
			ds.OrganisationUnits = slices.DeleteFunc(ds.OrganisationUnits, func(r sandbox.Ref) bool { return r.ID == seed.OUBahari })
		case seed.OtherDataSet:
			ds.PeriodType = "Weekly"
		}
	}
	for i := range md.DataElements {
		if md.DataElements[i].ID == "hHVisit0001" {
			md.DataElements[i].ValueType = "TEXT"
		}
	}
	dhis2URL := checkSandbox(t, md)

	code, stdout, stderr := run(t, checkEnv("check_broken", dhis2URL), "check")
	t.Logf("mediator check:\n%s", stdout)
	if code != 1 {
		t.Fatalf("exit %d; want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		`FAIL  org unit ouHcBahar03 on CHT contact "Bahari Health Centre" is not assigned to data set dsCHTMonth1`,
		"FAIL  data set dsCHTOther1 has period type Weekly; CHT exports monthly data only",
		"FAIL  data element hHVisit0001 (target households-visited-this-month) has value type TEXT; CHT totals are numbers",
		"FAIL  data element deUnknown01 (target referrals-this-month) does not exist in DHIS2",
		"\nFAILED: 5 errors, 1 warning\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout has no %q:\n%s", want, stdout)
		}
	}
	if strings.TrimSpace(stderr) != "mediator: check failed: 5 error(s); see the report" {
		t.Errorf("stderr = %q; want one sentence", stderr)
	}

	code, stdout, _ = run(t, checkEnv("check_broken", dhis2URL), "check", "--json")
	var rep export.CheckReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 1 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, stdout)
	}
	var codes []string
	for _, ds := range rep.DataSets {
		for _, f := range ds.Findings {
			codes = append(codes, ds.ID+" "+f.Code)
		}
	}
	want := []string{
		"dsCHTMonth1 data_element_not_found",
		"dsCHTMonth1 data_element_not_numeric",
		"dsCHTMonth1 org_unit_not_assigned",
		"dsCHTOther1 period_type_not_monthly",
		"dsCHTOther1 data_element_not_numeric",
	}
	slices.Sort(codes)
	slices.Sort(want)
	if rep.OK || !slices.Equal(codes, want) {
		t.Errorf("ok %v, findings %q; want %q", rep.OK, codes, want)
	}
}

// Upstream failures: exit 1 with a report that says what failed; bad
// configuration: exit 2 with one sentence.
func TestCheck_failures(t *testing.T) {
	requireServer(t)
	checkDBs(t)
	dhis2URL := checkSandbox(t, checkMetadata(t))
	down := "http://" + closedPort(t)
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		wantOut  []string // in stdout
		wantErr  string   // in stderr
	}{
		{"wrong dhis2 password", checkEnv("check_demo", dhis2URL, "MEDIATOR_DHIS2_PASSWORD=Wr0ng-Check-Pw"), nil, 1,
			[]string{"FAIL  DHIS2 refused the credentials: dhis2: system info: status 401", "SKIP  not checked against DHIS2: DHIS2 is not available"},
			"check failed"},
		{"dhis2 down", checkEnv("check_demo", down), nil, 1,
			[]string{"FAIL  DHIS2 is not reachable: ", "OK    settings and contacts read: 2 data sets"}, "check failed"},
		{"cht down", checkEnv("check_demo", dhis2URL, "MEDIATOR_CHT_URL="+down), nil, 1,
			[]string{"FAIL  CHT is not reachable: ", "OK    reachable, credentials accepted, version 2.40.0", "SKIP  not checked: CHT's settings"},
			"check failed"},
		{"wrong cht password", checkEnv("check_demo", dhis2URL, "MEDIATOR_CHT_PASSWORD=Wr0ng-Check-Pw"), nil, 1,
			[]string{"FAIL  CHT refused the credentials: "}, "check failed"},
		{"no dhis2 url", chtEnv("check_demo"), nil, 2, nil, "mediator: configuration: dhis2.url: required"},
		{"unexpected argument", checkEnv("check_demo", dhis2URL), []string{"dsCHTMonth1"}, 2, nil, `mediator: check: unexpected argument "dsCHTMonth1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.env, append([]string{"check"}, tt.args...)...)
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout has no %q:\n%s", want, stdout)
				}
			}
			if tt.wantCode == 1 && !strings.Contains(stdout, "\nFAILED: ") {
				t.Errorf("stdout has no FAILED verdict:\n%s", stdout)
			}
			if tt.wantCode == 2 && stdout != "" {
				t.Errorf("stdout = %q; want nothing for bad configuration", stdout)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr = %q; want it to contain %q", stderr, tt.wantErr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 {
				t.Errorf("stderr has %d lines; want one sentence:\n%s", lines, stderr)
			}
			assertNoSecrets(t, stdout, stderr)
		})
	}
}
