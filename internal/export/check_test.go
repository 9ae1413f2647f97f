package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// -update rewrites testdata/check-*.json and check-*.txt. It is registered
// only when no other test file of the package has registered it first.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkCHT is an in-memory CHTInspector.
type checkCHT struct {
	settings cht.Settings
	contacts []aggregate.Contact
	fail     map[string]error // by method name
}

func (f *checkCHT) Settings(context.Context) (cht.Settings, error) {
	return f.settings, f.fail["Settings"]
}

func (f *checkCHT) Contacts(_ context.Context, fn func(aggregate.Contact) error) error {
	if err := f.fail["Contacts"]; err != nil {
		return err
	}
	for _, c := range f.contacts {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// checkDHIS2 is an in-memory DHIS2Inspector.
type checkDHIS2 struct {
	info     dhis2.SystemInfo
	metadata map[string]validate.Metadata
	// Everything DHIS2 has, by id → name.
	orgUnits, dataElements, combos map[string]string
	fail                           map[string]error // by method name
	asked                          map[string][]string
}

func (f *checkDHIS2) SystemInfo(context.Context) (dhis2.SystemInfo, error) {
	return f.info, f.fail["SystemInfo"]
}

func (f *checkDHIS2) Metadata(_ context.Context, id string) (validate.Metadata, error) {
	if err := f.fail["Metadata"]; err != nil {
		return validate.Metadata{}, err
	}
	md, ok := f.metadata[id]
	if !ok {
		return validate.Metadata{}, fmt.Errorf("%w: %s: dhis2: metadata %s: status 404", dhis2.ErrDataSetNotFound, id, id)
	}
	return md, nil
}

func (f *checkDHIS2) lookup(method string, known map[string]string, ids []string) (map[string]string, error) {
	if f.asked == nil {
		f.asked = map[string][]string{}
	}
	f.asked[method] = append(f.asked[method], ids...)
	if err := f.fail[method]; err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, id := range ids {
		if name, ok := known[id]; ok {
			out[id] = name
		}
	}
	return out, nil
}

func (f *checkDHIS2) OrgUnits(_ context.Context, ids []string) (map[string]string, error) {
	return f.lookup("OrgUnits", f.orgUnits, ids)
}

func (f *checkDHIS2) DataElements(_ context.Context, ids []string) (map[string]string, error) {
	return f.lookup("DataElements", f.dataElements, ids)
}

func (f *checkDHIS2) CategoryOptionCombos(_ context.Context, ids []string) (map[string]string, error) {
	return f.lookup("CategoryOptionCombos", f.combos, ids)
}

const (
	ckDataSet = "dsGood00001"
	ckDefault = "HllvX50cXC0"
)

// goodCheck is a CHT and a DHIS2 that agree on everything.
func goodCheck() (*checkCHT, *checkDHIS2) {
	src := &checkCHT{
		settings: cht.Settings{
			DataSets: []aggregate.DataSet{{ID: ckDataSet, TranslationKey: "dhis.monthly"}},
			Targets: []aggregate.TargetDef{
				{ID: "births", DHIS: []aggregate.Mapping{{DataElement: "deBirths001"}}},
				{ID: "u5-assessments", DHIS: []aggregate.Mapping{{DataElement: "deU5Assess1", CategoryOptionCombo: "cocU5Total1"}}},
				{ID: "deliveries", DHIS: []aggregate.Mapping{{DataSet: ckDataSet, DataElement: "deDeliv0001",
					CategoryOptionCombo: ckDefault, AttributeOptionCombo: ckDefault}}},
			},
			MonthStartDate: 1,
		},
		contacts: []aggregate.Contact{
			{ID: "hc-kanji", Name: "Kanji Health Centre", OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouKanji0001"}}},
			{ID: "hc-mbuyu", Name: "Mbuyu Health Centre", OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouMbuyu0001", DataSet: ckDataSet}}},
			{ID: "person-1", Name: "Amina Otieno"}, // no org unit: not counted
		},
	}
	dst := &checkDHIS2{
		info: dhis2.SystemInfo{Version: "2.40.3", Major: 2, Minor: 40, Patch: 3, Calendar: "iso8601"},
		metadata: map[string]validate.Metadata{ckDataSet: {
			DataSet: validate.DataSet{ID: ckDataSet, Name: "CHW Monthly", PeriodType: "Monthly", AttributeOptionCombos: map[string]bool{}},
			DataElements: map[string]validate.DataElement{
				"deBirths001": {ID: "deBirths001", Name: "Births", ValueType: "INTEGER_ZERO_OR_POSITIVE", CategoryOptionCombos: map[string]bool{}},
				"deU5Assess1": {ID: "deU5Assess1", Name: "U5 assessments", ValueType: "INTEGER_ZERO_OR_POSITIVE", CategoryOptionCombos: map[string]bool{"cocU5Total1": true}},
				"deDeliv0001": {ID: "deDeliv0001", Name: "Deliveries", ValueType: "NUMBER", CategoryOptionCombos: map[string]bool{}},
			},
			OrgUnits:                   map[string]bool{"ouKanji0001": true, "ouMbuyu0001": true, "ouDistrc001": true},
			DefaultCategoryOptionCombo: ckDefault,
		}},
		orgUnits:     map[string]string{"ouKanji0001": "Kanji", "ouMbuyu0001": "Mbuyu", "ouDistrc001": "District", "ouElsewh001": "Elsewhere"},
		dataElements: map[string]string{"deBirths001": "Births", "deU5Assess1": "U5", "deDeliv0001": "Deliveries", "deOther0001": "Other"},
		combos:       map[string]string{ckDefault: "default", "cocU5Total1": "Under 5", "cocMale0001": "Male"},
	}
	return src, dst
}

// md returns the good data set's metadata for changing.
func (f *checkDHIS2) md() *validate.Metadata {
	md := f.metadata[ckDataSet]
	f.metadata[ckDataSet] = md
	return &md
}

// setMD stores a changed metadata.
func (f *checkDHIS2) setMD(md *validate.Metadata) { f.metadata[ckDataSet] = *md }

func setValueType(dst *checkDHIS2, de, valueType string) {
	md := dst.md()
	d := md.DataElements[de]
	d.ValueType = valueType
	md.DataElements[de] = d
	dst.setMD(md)
}

func addTarget(src *checkCHT, id string, m aggregate.Mapping) {
	src.settings.Targets = append(src.settings.Targets, aggregate.TargetDef{ID: id, DHIS: []aggregate.Mapping{m}})
}

// markArray records that target id has its dhis as a JSON array in CHT.
func markArray(src *checkCHT, id string) {
	for i := range src.settings.Targets {
		if src.settings.Targets[i].ID == id {
			src.settings.Targets[i].DHISArray = true
		}
	}
}

func addContact(src *checkCHT, id, name string, ous ...aggregate.OrgUnitMapping) {
	src.contacts = append(src.contacts, aggregate.Contact{ID: id, Name: name, OrgUnits: ous})
}

// flatFindings lists every finding as "section severity code".
func flatFindings(r *CheckReport) []string {
	var out []string
	add := func(section string, fs []Finding) {
		for _, f := range fs {
			out = append(out, section+" "+f.Severity+" "+f.Code)
		}
	}
	add("cht", r.CHT.Findings)
	add("dhis2", r.DHIS2.Findings)
	for _, ds := range r.DataSets {
		add(ds.ID, ds.Findings)
	}
	return out
}

func allMessages(r *CheckReport) string {
	var b strings.Builder
	for _, fs := range [][]Finding{r.CHT.Findings, r.DHIS2.Findings} {
		for _, f := range fs {
			b.WriteString(f.Message + "\n")
		}
	}
	for _, ds := range r.DataSets {
		for _, f := range ds.Findings {
			b.WriteString(f.Message + "\n")
		}
	}
	return b.String()
}

func TestCheck_findings(t *testing.T) {
	netDown := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	tests := []struct {
		name   string
		change func(*checkCHT, *checkDHIS2)
		want   []string // flatFindings
		wantOK bool
		// wantMsgs are whole finding messages (or, for upstream failures,
		// parts of the section error) that must appear.
		wantMsgs []string
		// check looks at anything else.
		check func(t *testing.T, r *CheckReport)
	}{
		{name: "all good", wantOK: true, check: func(t *testing.T, r *CheckReport) {
			ds := r.DataSets[0]
			if !ds.OK || !ds.Checked || ds.Name != "CHW Monthly" || ds.PeriodType != "Monthly" || ds.Targets != 3 || ds.DataElements != 3 || ds.OrgUnits != 2 {
				t.Errorf("data set = %+v", ds)
			}
			if r.CHT.DataSets != 1 || r.CHT.Targets != 3 || r.CHT.Contacts != 2 || r.DHIS2.Version != "2.40.3" {
				t.Errorf("cht = %+v, dhis2 = %+v", r.CHT, r.DHIS2)
			}
		}},
		{name: "settings warning",
			change: func(s *checkCHT, _ *checkDHIS2) {
				s.settings.Warnings = []string{`target "x": dhis has no dataElement; ignored`}
			},
			want: []string{"cht warning cht_settings_warning"}, wantOK: true,
			wantMsgs: []string{`CHT settings: target "x": dhis has no dataElement; ignored`}},
		{name: "no data sets",
			change: func(s *checkCHT, _ *checkDHIS2) { s.settings.DataSets = nil },
			// The scoped target and contact now name an unknown data set.
			want: []string{"cht error no_data_sets", "cht warning target_data_set_unknown", "cht warning contact_data_set_unknown"}},
		{name: "dhis array",
			change: func(s *checkCHT, _ *checkDHIS2) { markArray(s, "births") },
			want:   []string{"cht warning dhis_array_mapping"}, wantOK: true,
			wantMsgs: []string{`target "births" is mapped with a dhis array: the mediator exports it, but CHT's own DHIS2 export ignores it, so the two exports differ`}},
		{name: "target scoped to an unknown data set",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "pnc", aggregate.Mapping{DataSet: "dsNotThere1", DataElement: "dePnc000001"})
			},
			want: []string{"cht warning target_data_set_unknown"}, wantOK: true,
			wantMsgs: []string{`target "pnc" maps data element dePnc000001 to data set dsNotThere1, which is not in CHT's dhis_data_sets, so it is never exported`}},
		{name: "contact scoped to an unknown data set",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addContact(s, "hc-x", "Bahari Health Centre", aggregate.OrgUnitMapping{OrgUnit: "ouBahari001", DataSet: "dsNotThere1"})
			},
			want: []string{"cht warning contact_data_set_unknown"}, wantOK: true,
			wantMsgs: []string{`org unit ouBahari001 on CHT contact "Bahari Health Centre" is scoped to data set dsNotThere1, which is not in CHT's dhis_data_sets, so it is never exported`}},
		{name: "calendar",
			change: func(_ *checkCHT, d *checkDHIS2) { d.info.Calendar = "ethiopian" },
			want:   []string{"dhis2 warning dhis2_calendar_not_iso8601"}, wantOK: true},
		{name: "data set id not a uid",
			change: func(s *checkCHT, _ *checkDHIS2) {
				s.settings.DataSets = []aggregate.DataSet{{ID: "monthly"}}
				s.settings.Targets = []aggregate.TargetDef{{ID: "births", DHIS: []aggregate.Mapping{{DataElement: "deBirths001"}}}}
			},
			want: []string{"cht warning contact_data_set_unknown", "monthly error data_set_id_invalid"},
			check: func(t *testing.T, r *CheckReport) {
				if ds := r.DataSets[0]; ds.Checked || ds.OK || ds.Skipped == "" {
					t.Errorf("data set = %+v; want skipped", ds)
				}
			}},
		{name: "data set not in DHIS2",
			change:   func(_ *checkCHT, d *checkDHIS2) { delete(d.metadata, ckDataSet) },
			want:     []string{ckDataSet + " error data_set_not_found"},
			wantMsgs: []string{"data set dsGood00001 is in CHT's dhis_data_sets but DHIS2 does not have it (or the DHIS2 user cannot see it)"}},
		{name: "data set metadata refused",
			change: func(_ *checkCHT, d *checkDHIS2) {
				d.fail = map[string]error{"Metadata": &dhis2.StatusError{Op: "metadata " + ckDataSet, StatusCode: 403}}
			},
			want:     []string{ckDataSet + " error data_set_unavailable"},
			wantMsgs: []string{"could not read data set dsGood00001 from DHIS2: dhis2: metadata dsGood00001: status 403"}},
		{name: "weekly",
			change: func(_ *checkCHT, d *checkDHIS2) {
				md := d.md()
				md.DataSet.PeriodType = "Weekly"
				d.setMD(md)
			},
			want:     []string{ckDataSet + " error period_type_not_monthly"},
			wantMsgs: []string{"data set dsGood00001 has period type Weekly; CHT exports monthly data only"}},
		{name: "no targets mapped",
			change: func(s *checkCHT, _ *checkDHIS2) { s.settings.Targets = nil },
			want:   []string{ckDataSet + " error no_targets_mapped"}},
		{name: "no org units mapped",
			change: func(s *checkCHT, _ *checkDHIS2) {
				s.contacts = []aggregate.Contact{{ID: "hc-1", Name: "Elsewhere", OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouElsewh001", DataSet: "dsOther0001"}}}}
				s.settings.DataSets = append(s.settings.DataSets, aggregate.DataSet{ID: "dsOther0001"})
				s.settings.Targets = []aggregate.TargetDef{{ID: "births", DHIS: []aggregate.Mapping{{DataSet: ckDataSet, DataElement: "deBirths001"}}}}
			},
			want: []string{ckDataSet + " error no_org_units_mapped", "dsOther0001 error no_targets_mapped", "dsOther0001 error data_set_not_found"}},
		{name: "data element not a uid",
			change:   func(s *checkCHT, _ *checkDHIS2) { addTarget(s, "visits", aggregate.Mapping{DataElement: "hh-visits"}) },
			want:     []string{ckDataSet + " error uid_invalid"},
			wantMsgs: []string{`data element "hh-visits" of target "visits" is not a DHIS2 uid`}},
		{name: "data element does not exist",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "visits", aggregate.Mapping{DataElement: "deMissing01"})
			},
			want:     []string{ckDataSet + " error data_element_not_found"},
			wantMsgs: []string{"data element deMissing01 (target visits) does not exist in DHIS2; fix the target's dhis.dataElement"},
			check: func(t *testing.T, r *CheckReport) {
				f := r.DataSets[0].Findings[0]
				if f.Target != "visits" || f.DataElement != "deMissing01" {
					t.Errorf("finding = %+v; want target and data element set", f)
				}
			}},
		{name: "data element not in the data set",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "births-this-month", aggregate.Mapping{DataElement: "deOther0001"})
			},
			want:     []string{ckDataSet + " error data_element_not_in_data_set"},
			wantMsgs: []string{"data element deOther0001 (target births-this-month) is not in data set dsGood00001; add it to the data set in DHIS2 or fix the target's mapping"}},
		{name: "data element not in the data set, lookup failed",
			change: func(s *checkCHT, d *checkDHIS2) {
				addTarget(s, "visits", aggregate.Mapping{DataElement: "deMissing01"})
				d.fail = map[string]error{"DataElements": &dhis2.StatusError{Op: "look up 1 data elements", StatusCode: 403}}
			},
			want: []string{ckDataSet + " warning dhis2_lookup_failed", ckDataSet + " error data_element_not_in_data_set"}},
		{name: "text value type",
			change:   func(_ *checkCHT, d *checkDHIS2) { setValueType(d, "deBirths001", "TEXT") },
			want:     []string{ckDataSet + " error data_element_not_numeric"},
			wantMsgs: []string{"data element deBirths001 (target births) has value type TEXT; CHT totals are numbers"}},
		{name: "option set",
			change: func(_ *checkCHT, d *checkDHIS2) {
				md := d.md()
				de := md.DataElements["deBirths001"]
				de.HasOptionSet = true
				md.DataElements["deBirths001"] = de
				d.setMD(md)
			},
			want:     []string{ckDataSet + " error data_element_not_numeric"},
			wantMsgs: []string{"data element deBirths001 (target births) uses an option set; CHT totals are numbers"}},
		{name: "integer positive",
			change: func(_ *checkCHT, d *checkDHIS2) { setValueType(d, "deBirths001", "INTEGER_POSITIVE") },
			want:   []string{ckDataSet + " warning value_type_range"}, wantOK: true},
		{name: "integer negative",
			change: func(_ *checkCHT, d *checkDHIS2) { setValueType(d, "deBirths001", "INTEGER_NEGATIVE") },
			want:   []string{ckDataSet + " error value_type_range"}},
		{name: "percentage",
			change: func(_ *checkCHT, d *checkDHIS2) { setValueType(d, "deDeliv0001", "PERCENTAGE") },
			want:   []string{ckDataSet + " warning value_type_range"}, wantOK: true},
		{name: "mapped twice",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "births-2", aggregate.Mapping{DataElement: "deBirths001"})
			},
			want: []string{ckDataSet + " warning data_element_mapped_twice"}, wantOK: true,
			wantMsgs: []string{`targets "births" and "births-2" are both mapped to data element deBirths001 with the same combos, so their totals are added into one value`}},
		{name: "category option combo of another combo",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "u5-male", aggregate.Mapping{DataElement: "deU5Assess1", CategoryOptionCombo: "cocMale0001"})
			},
			want:     []string{ckDataSet + " error category_option_combo_invalid"},
			wantMsgs: []string{"category option combo cocMale0001 (target u5-male) is not a combo of data element deU5Assess1 in data set dsGood00001"}},
		{name: "category option combo does not exist",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "u5-x", aggregate.Mapping{DataElement: "deU5Assess1", CategoryOptionCombo: "cocNothing1"})
			},
			want:     []string{ckDataSet + " error category_option_combo_not_found"},
			wantMsgs: []string{"category option combo cocNothing1 (target u5-x) does not exist in DHIS2"}},
		{name: "non-default combo on a default-combo data element",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "births-u5", aggregate.Mapping{DataElement: "deBirths001", CategoryOptionCombo: "cocU5Total1"})
			},
			want: []string{ckDataSet + " error category_option_combo_invalid"}},
		{name: "category option combo not a uid",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "u5-x", aggregate.Mapping{DataElement: "deU5Assess1", CategoryOptionCombo: "default"})
			},
			want:     []string{ckDataSet + " error uid_invalid"},
			wantMsgs: []string{`category option combo "default" of target "u5-x" is not a DHIS2 uid`}},
		{name: "attribute option combo not of the data set",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "births-m", aggregate.Mapping{DataElement: "deBirths001", AttributeOptionCombo: "cocMale0001"})
			},
			want:     []string{ckDataSet + " error attribute_option_combo_invalid"},
			wantMsgs: []string{"attribute option combo cocMale0001 (target births-m) is not an attribute option combo of data set dsGood00001"}},
		{name: "attribute option combo does not exist",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addTarget(s, "births-m", aggregate.Mapping{DataElement: "deBirths001", AttributeOptionCombo: "aocNothing1"})
			},
			want: []string{ckDataSet + " error attribute_option_combo_not_found"}},
		{name: "org unit not assigned",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addContact(s, "hc-bahari", "Bahari Health Centre", aggregate.OrgUnitMapping{OrgUnit: "ouElsewh001"})
			},
			want:     []string{ckDataSet + " error org_unit_not_assigned"},
			wantMsgs: []string{`org unit ouElsewh001 on CHT contact "Bahari Health Centre" is not assigned to data set dsGood00001`},
			check: func(t *testing.T, r *CheckReport) {
				f := r.DataSets[0].Findings[0]
				if f.OrgUnit != "ouElsewh001" || f.Contact != "hc-bahari" {
					t.Errorf("finding = %+v; want org unit and contact set", f)
				}
			}},
		{name: "org unit does not exist, on several contacts",
			change: func(s *checkCHT, _ *checkDHIS2) {
				for i := range 5 {
					addContact(s, fmt.Sprintf("c-%d", i), "", aggregate.OrgUnitMapping{OrgUnit: "ouNowhere01"})
				}
			},
			want:     []string{ckDataSet + " error org_unit_not_found"},
			wantMsgs: []string{"org unit ouNowhere01 on CHT contact c-0, c-1, c-2 and 2 more does not exist in DHIS2"}},
		{name: "org unit not a uid",
			change: func(s *checkCHT, _ *checkDHIS2) {
				addContact(s, "hc-x", "X", aggregate.OrgUnitMapping{OrgUnit: "Bahari"})
			},
			want: []string{ckDataSet + " error uid_invalid"}},
		{name: "cht unreachable",
			change: func(s *checkCHT, _ *checkDHIS2) {
				s.fail = map[string]error{"Settings": &cht.UnreachableError{Op: "fetch settings", URL: "http://127.0.0.1:1/api/v1/settings", Err: netDown}}
			},
			wantMsgs: []string{"CHT is not reachable: cht: fetch settings: http://127.0.0.1:1/api/v1/settings: unreachable"},
			check: func(t *testing.T, r *CheckReport) {
				if r.CHT.OK || r.CHT.Reachable || !r.DHIS2.OK || len(r.DataSets) != 0 || r.Errors != 1 {
					t.Errorf("report = %+v", r)
				}
			}},
		{name: "cht credentials refused",
			change: func(s *checkCHT, _ *checkDHIS2) {
				s.fail = map[string]error{"Settings": &cht.StatusError{Op: "fetch settings", StatusCode: 401, Body: "unauthorized: Name or password is incorrect."}}
			},
			wantMsgs: []string{"CHT refused the credentials: cht: fetch settings: status 401"},
			check: func(t *testing.T, r *CheckReport) {
				if r.CHT.OK || !r.CHT.Reachable {
					t.Errorf("cht = %+v", r.CHT)
				}
			}},
		{name: "cht contacts fail",
			change: func(s *checkCHT, _ *checkDHIS2) {
				s.fail = map[string]error{"Contacts": &cht.StatusError{Op: "fetch contacts", StatusCode: 500}}
			},
			wantMsgs: []string{"cht: fetch contacts: status 500"}},
		{name: "dhis2 unreachable",
			change: func(s *checkCHT, d *checkDHIS2) {
				d.fail = map[string]error{"SystemInfo": fmt.Errorf("dhis2: system info: unreachable: %w", netDown)}
				addTarget(s, "visits", aggregate.Mapping{DataElement: "hh-visits"}) // CHT-only checks still run
			},
			want:     []string{ckDataSet + " error uid_invalid"},
			wantMsgs: []string{"DHIS2 is not reachable: dhis2: system info: unreachable: dial tcp: connect: connection refused"},
			check: func(t *testing.T, r *CheckReport) {
				ds := r.DataSets[0]
				if r.DHIS2.OK || r.DHIS2.Reachable || ds.Checked || ds.Skipped != "DHIS2 is not available" || r.Errors != 2 {
					t.Errorf("report = %+v", r)
				}
			}},
		{name: "dhis2 credentials refused",
			change: func(_ *checkCHT, d *checkDHIS2) {
				d.fail = map[string]error{"SystemInfo": &dhis2.StatusError{Op: "system info", StatusCode: 401}}
			},
			wantMsgs: []string{"DHIS2 refused the credentials: dhis2: system info: status 401"},
			check: func(t *testing.T, r *CheckReport) {
				if r.DHIS2.OK || !r.DHIS2.Reachable {
					t.Errorf("dhis2 = %+v", r.DHIS2)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := goodCheck()
			if tt.change != nil {
				tt.change(src, dst)
			}
			r := Check(context.Background(), src, dst, CheckOptions{CHTURL: "http://cht", DHIS2URL: "http://dhis2"})
			if got := flatFindings(r); !slices.Equal(got, tt.want) {
				t.Errorf("findings = %q\nwant %q\nmessages:\n%s", got, tt.want, allMessages(r))
			}
			if r.OK != tt.wantOK {
				t.Errorf("OK = %v; want %v (errors %d, cht %q, dhis2 %q)", r.OK, tt.wantOK, r.Errors, r.CHT.Error, r.DHIS2.Error)
			}
			text := allMessages(r) + r.CHT.Error + "\n" + r.DHIS2.Error
			for _, m := range tt.wantMsgs {
				if !strings.Contains(text, m) {
					t.Errorf("no finding says %q; got:\n%s", m, text)
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
			// Every report renders, with a verdict that matches.
			var out bytes.Buffer
			if err := r.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			verdict := "OK: every check passed"
			if !tt.wantOK {
				verdict = "FAILED: "
			}
			if !strings.Contains(out.String(), "\n"+verdict) {
				t.Errorf("text report has no %q verdict:\n%s", verdict, out.String())
			}
		})
	}
}

// Only ids the data set does not hold are looked up, once per kind.
func TestCheck_lookups(t *testing.T) {
	src, dst := goodCheck()
	addTarget(src, "visits", aggregate.Mapping{DataElement: "deMissing01"})
	addContact(src, "hc-x", "X", aggregate.OrgUnitMapping{OrgUnit: "ouElsewh001"})
	Check(context.Background(), src, dst, CheckOptions{})
	want := map[string][]string{"DataElements": {"deMissing01"}, "OrgUnits": {"ouElsewh001"}}
	for method, ids := range want {
		if !slices.Equal(dst.asked[method], ids) {
			t.Errorf("%s asked for %v; want %v", method, dst.asked[method], ids)
		}
	}
	if got := dst.asked["CategoryOptionCombos"]; got != nil {
		t.Errorf("CategoryOptionCombos asked for %v; want no call", got)
	}
}

func TestCheck_urlsHaveNoCredentials(t *testing.T) {
	src, dst := goodCheck()
	r := Check(context.Background(), src, dst, CheckOptions{
		CHTURL:   "https://medic:S3cret@cht.example.org/?token=abc#x",
		DHIS2URL: "https://admin:district@dhis2.example.org/dhis",
	})
	if r.CHT.URL != "https://cht.example.org/" || r.DHIS2.URL != "https://dhis2.example.org/dhis" {
		t.Errorf("urls = %q, %q", r.CHT.URL, r.DHIS2.URL)
	}
	b, _ := json.Marshal(r)
	var out bytes.Buffer
	_ = r.WriteText(&out)
	for _, secret := range []string{"S3cret", "district", "token=abc"} {
		if bytes.Contains(b, []byte(secret)) || strings.Contains(out.String(), secret) {
			t.Errorf("report shows %q", secret)
		}
	}
}

// The JSON and text reports of a few runs, against golden files.
func TestCheck_golden(t *testing.T) {
	tests := []struct {
		name   string
		change func(*checkCHT, *checkDHIS2)
	}{
		{"ok", func(s *checkCHT, _ *checkDHIS2) { markArray(s, "births") }},
		{"failed", func(s *checkCHT, d *checkDHIS2) {
			md := d.md()
			md.DataSet.PeriodType = "Weekly"
			de := md.DataElements["deBirths001"]
			de.ValueType = "TEXT"
			md.DataElements["deBirths001"] = de
			delete(md.OrgUnits, "ouMbuyu0001")
			d.setMD(md)
			addTarget(s, "visits", aggregate.Mapping{DataElement: "deOther0001"})
			s.settings.DataSets = append(s.settings.DataSets, aggregate.DataSet{ID: "dsGone00001"})
		}},
		{"dhis2-down", func(_ *checkCHT, d *checkDHIS2) {
			d.fail = map[string]error{"SystemInfo": fmt.Errorf("dhis2: system info: http://dhis2.example.org/api/system/info: unreachable: %w",
				&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")})}
		}},
		{"cht-down", func(s *checkCHT, _ *checkDHIS2) {
			s.fail = map[string]error{"Settings": chtUnreachable("cht: fetch settings: http://cht.example.org/api/v1/settings: unreachable: dial tcp: connect: connection refused")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := goodCheck()
			tt.change(src, dst)
			r := Check(context.Background(), src, dst, CheckOptions{
				ConfigFile: "mediator.yaml", CHTURL: "http://cht.example.org", CHTDatabase: "medic", DHIS2URL: "http://dhis2.example.org",
			})
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			golden(t, "check-"+tt.name+".json", append(js, '\n'))
			golden(t, "check-"+tt.name+".txt", text.Bytes())
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCheck_golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking the change):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// chtUnreachable is an error like *cht.UnreachableError, whose message
// cannot be set from outside its package.
type chtUnreachable string

func (e chtUnreachable) Error() string        { return string(e) }
func (e chtUnreachable) Is(target error) bool { return target == cht.ErrUnreachable }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestCheckReport_WriteTextError(t *testing.T) {
	src, dst := goodCheck()
	r := Check(context.Background(), src, dst, CheckOptions{})
	if err := r.WriteText(failingWriter{}); err == nil || err.Error() != "disk full" {
		t.Errorf("WriteText = %v; want the writer's error", err)
	}
}
