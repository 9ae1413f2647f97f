package sandbox

import (
	"strings"
	"testing"
)

func TestLoadMetadata(t *testing.T) {
	md := loadTestMetadata(t)
	x := &md.idx
	if x.defaultCC != DefaultCategoryComboID || x.defaultCOC != DefaultCategoryOptionComboID {
		t.Errorf("default combo %s/%s; want %s/%s", x.defaultCC, x.defaultCOC, DefaultCategoryComboID, DefaultCategoryOptionComboID)
	}
	if got := x.ou[ouAmani].Path; got != "/"+ouRoot+"/"+ouDistrict+"/"+ouAmani {
		t.Errorf("path %s", got)
	}
	if got := x.ou[ouAmani].Level; got != 3 {
		t.Errorf("level %d; want 3", got)
	}
	if got := x.dseCombo[dsCHW+"/"+deU5]; got != "Cc7gN2kWfPy" {
		t.Errorf("combo of U5 in the data set: %s", got)
	}
	if x.ouInDS[dsCHW][ouDalili] || !x.ouInDS[dsCHW][ouChanya] {
		t.Errorf("org unit assignment wrong: %v", x.ouInDS[dsCHW])
	}
	if len(x.dataSetsOfDE[deMalaria]) != 0 {
		t.Errorf("malaria is in no data set")
	}
}

func TestLoadMetadata_errors(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{`, "decode metadata"},
		{`{"dataElements":[{"id":"bad","name":"x","valueType":"NUMBER"}]}`, `dataElement "bad": id is not a DHIS2 uid`},
		{`{"dataElements":[{"id":"Ab1aB2cD3eF","name":"x","valueType":"FLOAT"}]}`, `unknown valueType "FLOAT"`},
		{`{"dataSets":[{"id":"Ab1aB2cD3eF","name":"x","periodType":"Monthly","dataSetElements":[{"dataElement":{"id":"Zz1aB2cD3eF"}}]}]}`, `unknown dataElement "Zz1aB2cD3eF"`},
		{`{"dataSets":[{"id":"Ab1aB2cD3eF","name":"x","periodType":"Fortnightly"}]}`, `unknown periodType "Fortnightly"`},
		{`{"organisationUnits":[{"id":"Ab1aB2cD3eF","name":"x","parent":{"id":"Zz1aB2cD3eF"}}]}`, `unknown parent`},
		{`{"organisationUnits":[{"id":"Ab1aB2cD3eF","name":"x","path":"/wrong"}]}`, `does not match its parents`},
		{`{"dataElements":[{"id":"Ab1aB2cD3eF","name":"x","valueType":"NUMBER"},{"id":"Ab1aB2cD3eF","name":"y","valueType":"NUMBER"}]}`, `already used`},
	}
	for _, tt := range tests {
		_, err := LoadMetadata(strings.NewReader(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadMetadata(%s) = %v; want an error containing %q", tt.json, err, tt.want)
		}
	}
}

func TestNew_errors(t *testing.T) {
	md := loadTestMetadata(t)
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Version: "2.35", Metadata: md, Username: "u"}, "only 2.36 to 2.43"},
		{Options{Version: "2.x", Metadata: md, Username: "u"}, "is not a number"},
		{Options{Version: "2.40", Username: "u"}, "metadata is required"},
		{Options{Version: "2.40", Metadata: md}, "username is required"},
		{Options{Version: "2.40", Metadata: md, Username: "u", User: &User{OrgUnits: []string{unknownUID}}}, "unknown org unit"},
	}
	for _, tt := range tests {
		if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v; want an error containing %q", tt.opts.Version, err, tt.want)
		}
	}
	for in, want := range map[string]string{"2.40": "2.40.0", "2.40.3": "2.40.3", "41.8.1": "2.41.8.1", "2.42.1-SNAPSHOT": "2.42.1-SNAPSHOT"} {
		s, err := New(Options{Version: in, Metadata: md, Username: "u"})
		if err != nil || s.Version() != want {
			t.Errorf("New(%q).Version() = %v, %v; want %s", in, s, err, want)
		}
	}
}
