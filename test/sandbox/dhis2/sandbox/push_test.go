package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

var validPush = set(`"dataSet":"`+dsCHW+`"`,
	dv(dePreg, "202402", ouAmani, "", "5"),
	dv(deDeliv, "202402", ouAmani, cocDefault, "2"),
	dv(deU5, "202402", ouAmani, cocMale, "3"),
	dv(deU5, "202402", ouAmani, cocFemale, "4.5"),
)

var conflictPush = set(`"dataSet":"`+dsCHW+`"`,
	dv(dePreg, "202402", ouAmani, "", "5"),      // 0 valid
	dv(unknownUID, "202402", ouAmani, "", "1"),  // 1 E7610
	dv(dePreg, "202402", ouBaraka, "", "-1"),    // 2 E7619
	dv(unknownUID, "202402", ouBaraka, "", "2"), // 3 E7610, merged with 1
	dv(deDeliv, "202402", ouDalili, "", "3"),    // 4 org unit not assigned: accepted by ≤2.42 (dhis2-core DataValueSetImportValidator)
	dv(deVisits, "202402", ouAmani, "", "abc"),  // 5 E7619
	dv(deU5, "202402", ouAmani, cocMale, "1.5"), // 6 valid
)

// TestPush_families pushes the same payloads to every version family and
// checks the HTTP status, the response body (golden) and what was stored
// (dhis2-core DataValueSetController and WebMessageUtils; dhis2-core 2.43 DataEntryPipeline).
func TestPush_families(t *testing.T) {
	tests := []struct {
		version        string
		validStatus    int
		conflictStatus int
		conflictStored int
	}{
		{"2.36", 200, 200, 3},
		{"2.37", 200, 200, 3},
		{"2.38", 200, 409, 3},
		{"2.39", 200, 409, 3},
		{"2.40", 200, 409, 3},
		{"2.40.3", 200, 409, 3},
		{"2.41", 200, 409, 3},
		{"2.42", 200, 409, 3},
		{"2.43", 200, 409, 0}, // the unknown data element fails the whole data set group (E8020)
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			e := newEnv(t, tt.version)
			r := e.push("", validPush)
			if r.status != tt.validStatus {
				t.Errorf("valid push: status = %d; want %d\n%s", r.status, tt.validStatus, r.body)
			}
			golden(t, "push_valid_"+tt.version, r.body)
			if got := len(e.s.Stored()); got != 4 {
				t.Errorf("valid push stored %d values; want 4: %v", got, storedValues(e.s))
			}

			e.s.Reset()
			r = e.push("", conflictPush)
			if r.status != tt.conflictStatus {
				t.Errorf("conflict push: status = %d; want %d\n%s", r.status, tt.conflictStatus, r.body)
			}
			golden(t, "push_conflicts_"+tt.version, r.body)
			if got := len(e.s.Stored()); got != tt.conflictStored {
				t.Errorf("conflict push stored %d values; want %d: %v", got, tt.conflictStored, storedValues(e.s))
			}
		})
	}
}

// TestPush_shapeByPath checks that the /api/NN/ version of the path picks
// the bare summary or the WebMessage in 2.37–2.41, and not in 2.42/2.43
// (dhis2-core DataValueSetController and WebMessageUtils).
func TestPush_shapeByPath(t *testing.T) {
	tests := []struct {
		version, path string
		status        int
		wrapped       bool
	}{
		{"2.36", "/api/dataValueSets", 200, false},
		{"2.36", "/api/36/dataValueSets", 200, false},
		{"2.37", "/api/dataValueSets", 200, false},
		{"2.37", "/api/37/dataValueSets", 200, false},
		{"2.37", "/api/38/dataValueSets", 409, true},
		{"2.37", "/api/39/dataValueSets", 404, false},
		{"2.38", "/api/37/dataValueSets", 200, false},
		{"2.38", "/api/38/dataValueSets", 409, true},
		{"2.40", "/api/dataValueSets", 409, true},
		{"2.40", "/api/37/dataValueSets", 200, false},
		{"2.40", "/api/33/dataValueSets.json", 200, false},
		{"2.40", "/api/40/dataValueSets", 409, true},
		{"2.40", "/api/41/dataValueSets", 409, true},
		{"2.40", "/api/42/dataValueSets", 404, false},
		{"2.40", "/api/27/dataValueSets", 404, false},
		{"2.41", "/api/37/dataValueSets", 200, false},
		{"2.42", "/api/37/dataValueSets", 409, true},
		{"2.42", "/api/42/dataValueSets", 409, true},
		{"2.43", "/api/37/dataValueSets", 409, true},
		{"2.43", "/api/43/dataValueSets", 409, true},
		{"2.43", "/api/44/dataValueSets", 404, false},
	}
	body := set("", dv(unknownUID, "202402", ouAmani, "", "1"))
	for _, tt := range tests {
		t.Run(tt.version+tt.path, func(t *testing.T) {
			e := newEnv(t, tt.version)
			r := e.do(http.MethodPost, tt.path, body)
			if r.status != tt.status {
				t.Fatalf("status = %d; want %d\n%s", r.status, tt.status, r.body)
			}
			if r.status == 404 {
				return
			}
			m := r.json(t)
			_, wrapped := m["httpStatusCode"]
			if wrapped != tt.wrapped {
				t.Errorf("wrapped = %v; want %v\n%s", wrapped, tt.wrapped, r.body)
			}
			if !wrapped && m["responseType"] != "ImportSummary" {
				t.Errorf("bare response has responseType %v; want ImportSummary", m["responseType"])
			}
		})
	}
}

// TestPush_repeat checks idempotency and the version-dependent count of
// an unchanged value (dhis2-core DefaultDataValueSetService, DHIS2-15254).
func TestPush_repeat(t *testing.T) {
	tests := []struct {
		version string
		second  [4]int // imported, updated, ignored, deleted
	}{
		{"2.36", [4]int{0, 4, 0, 0}},
		{"2.38", [4]int{0, 4, 0, 0}},
		{"2.39", [4]int{0, 4, 0, 0}},
		{"2.39.4", [4]int{0, 4, 0, 0}},
		{"2.39.5", [4]int{0, 0, 4, 0}},
		{"2.40.2", [4]int{0, 4, 0, 0}},
		{"2.40.3", [4]int{0, 0, 4, 0}},
		{"2.41", [4]int{0, 0, 4, 0}},
		{"2.42", [4]int{0, 0, 4, 0}},
		{"2.43", [4]int{0, 4, 0, 0}}, // 2.43 counts every stored value as updated
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			e := newEnv(t, tt.version)
			first := e.push("", validPush)
			want := [4]int{4, 0, 0, 0}
			if tt.version == "2.43" {
				want = [4]int{0, 4, 0, 0}
			}
			if got := counts(t, first); got != want {
				t.Errorf("first push counts = %v; want %v", got, want)
			}
			before := e.s.Stored()
			second := e.push("", validPush)
			if got := counts(t, second); got != tt.second {
				t.Errorf("second push counts = %v; want %v", got, tt.second)
			}
			if second.status != http.StatusOK {
				t.Errorf("second push status = %d; want 200", second.status)
			}
			if after := e.s.Stored(); !slices.Equal(after, before) {
				t.Errorf("re-push changed the stored values:\nbefore %v\nafter  %v", before, after)
			}
			changed := strings.Replace(validPush, `"value":"5"`, `"value":"6"`, 1)
			third := e.push("", changed)
			wantThird := [4]int{0, 1, 3, 0}
			if tt.second[1] == 4 {
				wantThird = [4]int{0, 4, 0, 0}
			}
			if got := counts(t, third); got != wantThird {
				t.Errorf("changed push counts = %v; want %v", got, wantThird)
			}
		})
	}
}

// TestPush_dryRun: the summary is the real one, nothing is stored.
func TestPush_dryRun(t *testing.T) {
	for _, v := range strings.Fields(versionList) {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v)
			dry := e.push("?dryRun=true", conflictPush)
			if got := e.s.Stored(); len(got) != 0 {
				t.Fatalf("dry run stored %v", storedValues(e.s))
			}
			real := e.push("", conflictPush)
			if dry.status != real.status || counts(t, dry) != counts(t, real) {
				t.Errorf("dry run: %d %v; real: %d %v", dry.status, counts(t, dry), real.status, counts(t, real))
			}
			// dryRun in the body overrides the URL.
			e.s.Reset()
			e.push("?dryRun=false", strings.Replace(validPush, "{", `{"dryRun":true,`, 1))
			if got := e.s.Stored(); len(got) != 0 {
				t.Errorf("payload dryRun stored %v", storedValues(e.s))
			}
		})
	}
}

// TestPush_setLevelOverride: in 2.36–2.42 the set-level period, org unit
// and attribute option combo replace the values' own (DHIS2 Web API docs, data values); the 2.43
// pipeline uses them only as defaults.
func TestPush_setLevelOverride(t *testing.T) {
	body := set(`"dataSet":"`+dsCHW+`","period":"202402","orgUnit":"`+ouAmani+`"`,
		dv(dePreg, "202401", ouBaraka, "", "7"),
		dv(deDeliv, "", "", "", "8"),
	)
	tests := []struct {
		version string
		want    []string
	}{
		{"2.36", []string{dePreg + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=7", deDeliv + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=8"}},
		{"2.40", []string{dePreg + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=7", deDeliv + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=8"}},
		{"2.42", []string{dePreg + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=7", deDeliv + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=8"}},
		{"2.43", []string{dePreg + "/202401/" + ouBaraka + "/HllvX50cXC0/HllvX50cXC0=7", deDeliv + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=8"}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			e := newEnv(t, tt.version)
			r := e.push("", body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d\n%s", r.status, r.body)
			}
			got := storedValues(e.s)
			slices.Sort(got)
			slices.Sort(tt.want)
			if !slices.Equal(got, tt.want) {
				t.Errorf("stored %v; want %v", got, tt.want)
			}
		})
	}
}
