package cht

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantDefaultSettings is what testdata/app_settings.json decodes to.
func wantDefaultSettings() Settings {
	return Settings{
		DataSets: []aggregate.DataSet{
			{ID: "VMuFODsyWaO", TranslationKey: "dhis.dataset.monthly"},
			{ID: "dsFacility1", TranslationKey: "dhis.dataset.facility"},
		},
		Targets: []aggregate.TargetDef{
			{ID: "births-this-month", DHIS: []aggregate.Mapping{{DataElement: "kB0ZBFisE0e"}}},
			{ID: "facility-deliveries", DHIS: []aggregate.Mapping{{
				DataSet: "VMuFODsyWaO", DataElement: "e22tIwy1nKR",
				CategoryOptionCombo: "HllvX50cXC0", AttributeOptionCombo: "HllvX50cXC0",
			}}},
			{ID: "active-pregnancies-1+-visits", DHIS: []aggregate.Mapping{
				{DataSet: "VMuFODsyWaO", DataElement: "deAnc1Visit", Attributes: map[string]json.RawMessage{"comment": json.RawMessage(`"from CHT"`)}},
				{DataSet: "dsFacility1", DataElement: "deAnc1VisFa", CategoryOptionCombo: "cocUnder5aa"},
			}, DHISArray: true},
		},
		MonthStartDate: 26,
		Roles: map[string]Role{"chw": {Offline: true}, "chw_supervisor": {Offline: true},
			"hrio": {Offline: false}, "program_officer": {Offline: false}},
		Permissions: map[string][]string{"can_configure": {"hrio"}, "can_export_all": {"program_officer", "hrio"},
			"can_export_dhis": {"hrio"}, "can_view_analytics": {"chw", "chw_supervisor"}},
	}
}

func TestDecodeSettings(t *testing.T) {
	got, err := decodeSettings(readTestdata(t, "app_settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := wantDefaultSettings()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeSettings(app_settings.json) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeSettings_oddShapes(t *testing.T) {
	got, err := decodeSettings(readTestdata(t, "app_settings_odd.json"))
	if err != nil {
		t.Fatal(err)
	}
	wantDataSets := []aggregate.DataSet{{ID: "VMuFODsyWaO"}, {ID: "ds2"}}
	if !reflect.DeepEqual(got.DataSets, wantDataSets) {
		t.Errorf("DataSets = %+v; want %+v", got.DataSets, wantDataSets)
	}
	wantTargets := []aggregate.TargetDef{
		{ID: "numeric-coc", DHIS: []aggregate.Mapping{{DataElement: "deNumCoc001"}}},
		{ID: "mixed-array", DHIS: []aggregate.Mapping{{DataElement: "deMixed0001"}}, DHISArray: true},
	}
	if !reflect.DeepEqual(got.Targets, wantTargets) {
		t.Errorf("Targets = %+v; want %+v", got.Targets, wantTargets)
	}
	if got.MonthStartDate != 1 {
		t.Errorf("MonthStartDate = %d; want 1", got.MonthStartDate)
	}
	wantWarnings := []string{
		"dhis_data_sets element 1 is not an object; ignored",
		"dhis_data_sets element 2 has no id; ignored",
		`data set "ds2": translation_key is 7, not a string; ignored`,
		"tasks.targets.items element 2 has a dhis mapping but no id; ignored",
		"tasks.targets.items element 3 is not an object; ignored",
		`target "string-dhis": dhis is "kB0ZBFisE0e", not an object or an array; ignored`,
		`target "no-element": dhis has no dataElement; ignored`,
		`target "numeric-coc": dhis: categoryOptionCombo is 5, not a string; treated as absent`,
		`target "mixed-array": dhis element 1 is not an object; ignored`,
		`target "mixed-array": dhis element 2 is not an object; ignored`,
		`target "mixed-array": dhis element 3: dataElement is 12, not a string; treated as absent`,
		`target "mixed-array": dhis element 3 has no dataElement; ignored`,
		`uhc.month_start_date is "26", not a day of the month from 1 to 31; the month starts on day 1`,
	}
	if !slices.Equal(got.Warnings, wantWarnings) {
		t.Errorf("Warnings =\n%s\nwant\n%s", strings.Join(got.Warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
}

func TestDecodeSettings_table(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantErr   string
		wantStart int
		wantWarn  string
		wantN     int // targets
	}{
		{name: "not an object", body: `[]`, wantErr: "decode settings: not a JSON object"},
		{name: "invalid json", body: `{"tasks":`, wantErr: "decode settings:"},
		{name: "empty", body: `{}`, wantStart: 1},
		{name: "month start", body: `{"uhc":{"month_start_date":5,"visit_count":{"month_start_date":26}}}`, wantStart: 5},
		{name: "month start zero falls to visit_count", body: `{"uhc":{"month_start_date":0,"visit_count":{"month_start_date":26}}}`, wantStart: 26},
		{name: "month start 32", body: `{"uhc":{"month_start_date":32}}`, wantStart: 1, wantWarn: "uhc.month_start_date is 32, not a day of the month from 1 to 31; the month starts on day 1"},
		{name: "month start fraction", body: `{"uhc":{"visit_count":{"month_start_date":2.5}}}`, wantStart: 1, wantWarn: "uhc.visit_count.month_start_date is 2.5"},
		{name: "uhc not object", body: `{"uhc":3}`, wantStart: 1, wantWarn: "uhc is not an object; the month starts on day 1"},
		{name: "data sets not array", body: `{"dhis_data_sets":{"id":"x"}}`, wantStart: 1, wantWarn: `dhis_data_sets is {"id":"x"}, not an array; no data sets`},
		{name: "tasks not object", body: `{"tasks":[]}`, wantStart: 1, wantWarn: "tasks is not an object; no targets"},
		{name: "targets not object", body: `{"tasks":{"targets":true}}`, wantStart: 1, wantWarn: "tasks.targets is not an object; no targets"},
		{name: "items not array", body: `{"tasks":{"targets":{"items":{}}}}`, wantStart: 1, wantWarn: "tasks.targets.items is not an array; no targets"},
		{name: "no targets", body: `{"tasks":{"targets":{}}}`, wantStart: 1},
		{name: "no tasks.targets", body: `{"tasks":{"rules":""}}`, wantStart: 1},
		{name: "dhis with value and orgUnit dropped", body: `{"tasks":{"targets":{"items":[{"id":"a","dhis":{"dataElement":"de","orgUnit":"ou","value":3}}]}}}`, wantStart: 1, wantN: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSettings([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeSettings(%s) error = %v; want %q", tt.body, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeSettings(%s) = %v", tt.body, err)
			}
			if got.MonthStartDate != tt.wantStart {
				t.Errorf("MonthStartDate = %d; want %d", got.MonthStartDate, tt.wantStart)
			}
			if tt.wantWarn == "" && len(got.Warnings) > 0 {
				t.Errorf("Warnings = %q; want none", got.Warnings)
			}
			if tt.wantWarn != "" && (len(got.Warnings) != 1 || !strings.HasPrefix(got.Warnings[0], tt.wantWarn)) {
				t.Errorf("Warnings = %q; want one starting %q", got.Warnings, tt.wantWarn)
			}
			if len(got.Targets) != tt.wantN {
				t.Errorf("got %d targets; want %d", len(got.Targets), tt.wantN)
			}
			for _, td := range got.Targets {
				for _, m := range td.DHIS {
					if m.Attributes != nil {
						t.Errorf("target %s: Attributes = %v; want none (orgUnit and value are dropped)", td.ID, m.Attributes)
					}
				}
			}
		})
	}
}

func TestDecodeSettingsDoc(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{name: "ok", body: `{"_id":"settings","settings":{"dhis_data_sets":[{"id":"a"}]}}`},
		{name: "no settings", body: `{"_id":"settings"}`, wantErr: "decode settings doc: it has no settings property"},
		{name: "null settings", body: `{"_id":"settings","settings":null}`, wantErr: "no settings property"},
		{name: "settings not object", body: `{"settings":"x"}`, wantErr: "decode settings: not a JSON object"},
		{name: "not object", body: `"x"`, wantErr: "decode settings doc: not a JSON object"},
		{name: "html page", body: "\n<!DOCTYPE html><html><body>Welcome</body></html>", wantErr: "decode settings doc: the answer is an HTML page, not CHT's JSON: check cht.url"},
		{name: "broken", body: `{"settings":{}`, wantErr: "decode settings doc:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSettingsDoc([]byte(tt.body))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("decodeSettingsDoc = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("decodeSettingsDoc error = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestClient_Settings(t *testing.T) {
	appSettings := readTestdata(t, "app_settings.json")
	settingsDoc := []byte(`{"_id":"settings","_rev":"9-abc","settings":` + string(appSettings) + `}`)

	t.Run("cht api", func(t *testing.T) {
		f := newFakeCouch(t)
		f.apiSettings = appSettings
		c, _ := f.start(testConfig())
		for range 2 {
			got, err := c.Settings(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantDefaultSettings()) {
				t.Errorf("Settings() = %+v", got)
			}
		}
		assertPaths(t, f, "/api/v1/settings", "/api/v1/settings")
	})

	t.Run("settings doc fallback is remembered", func(t *testing.T) {
		f := newFakeCouch(t)
		f.docs["settings"] = settingsDoc
		c, _ := f.start(testConfig())
		for range 2 {
			got, err := c.Settings(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantDefaultSettings()) {
				t.Errorf("Settings() = %+v", got)
			}
		}
		assertPaths(t, f, "/api/v1/settings", "/medic/settings", "/medic/settings")
	})

	t.Run("no settings anywhere", func(t *testing.T) {
		f := newFakeCouch(t)
		c, srv := f.start(testConfig())
		_, err := c.Settings(context.Background())
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 404 || !errors.Is(err, ErrNotFound) {
			t.Fatalf("error = %v; want a 404 StatusError", err)
		}
		if want := "cht: fetch settings: status 404: not_found: missing (no CHT settings at " + srv.URL + "/medic/settings: check cht.url and cht.database)"; err.Error() != want {
			t.Errorf("error = %q; want %q", err, want)
		}
	})

	t.Run("unauthorized does not fall back", func(t *testing.T) {
		f := newFakeCouch(t)
		f.user, f.password = "reader", "right"
		f.apiSettings = appSettings
		cfg := testConfig()
		cfg.Username, cfg.Password = "reader", "wrong"
		c, _ := f.start(cfg)
		_, err := c.Settings(context.Background())
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("error = %v; want ErrUnauthorized", err)
		}
		assertPaths(t, f, "/api/v1/settings")
	})

	t.Run("bad settings doc", func(t *testing.T) {
		f := newFakeCouch(t)
		f.docs["settings"] = []byte(`{"_id":"settings"}`)
		c, _ := f.start(testConfig())
		_, err := c.Settings(context.Background())
		if err == nil || err.Error() != "cht: fetch settings: decode settings doc: it has no settings property" {
			t.Fatalf("error = %v", err)
		}
	})
}

func assertPaths(t *testing.T, f *fakeCouch, want ...string) {
	t.Helper()
	var got []string
	for _, r := range f.requests() {
		got = append(got, r.Path)
	}
	if !slices.Equal(got, want) {
		t.Errorf("server saw %q; want %q", got, want)
	}
}

// A target's dhis.dataSet that is not a string follows CHT's
// "!dhis.dataSet || dhis.dataSet === id": falsy applies everywhere, anything
// else matches no data set.
func TestDecodeSettings_nonStringDataSet(t *testing.T) {
	tests := []struct {
		dataSet  string
		wantKept bool
	}{
		{`false`, true},
		{`0`, true},
		{`""`, true},
		{`null`, true},
		{`1`, false},
		{`true`, false},
		{`["dsA"]`, false},
		{`{"id":"dsA"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.dataSet, func(t *testing.T) {
			body := `{"tasks":{"targets":{"items":[{"id":"t1","dhis":{"dataElement":"deA","dataSet":` + tt.dataSet + `}}]}}}`
			s, err := decodeSettings([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			kept := len(s.Targets) == 1 && len(s.Targets[0].DHIS) == 1
			if kept != tt.wantKept {
				t.Fatalf("mapping kept = %v; want %v (targets %+v, warnings %q)", kept, tt.wantKept, s.Targets, s.Warnings)
			}
			if kept && s.Targets[0].DHIS[0].DataSet != "" {
				t.Errorf("DataSet = %q; want \"\" (every data set)", s.Targets[0].DHIS[0].DataSet)
			}
			if tt.dataSet != `null` && tt.dataSet != `""` && len(s.Warnings) == 0 {
				t.Error("no warning for a non-string dataSet")
			}
		})
	}
}
