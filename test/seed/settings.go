// Package seed builds CHT-shaped documents for the end-to-end tests, the
// benchmarks and the demo: the medic "settings" doc, the medic-admin design
// doc with CHT's contacts_by_dhis_orgunit view, a realistic demo district
// with a year of target docs, a scalable generator, and malformed target docs
// for error paths.
//
// Everything is deterministic: the same options give the same documents,
// byte for byte. Documents are map[string]any (the JSON CouchDB stores), so
// tests can change or delete any field before loading them.
//
// Shapes follow the CHT docs on targets and contacts (cht-core 5.2.0).
package seed

import "regexp"

// Data set ids of the demo configuration (valid DHIS2 uids).
const (
	// DemoDataSet is the monthly CHW data set the demo exports.
	DemoDataSet = "dsCHTMonth1"
	// OtherDataSet is a second data set, so that data-set scoping
	// (target dhis.dataSet, contact dhis[].dataSet) is exercised.
	OtherDataSet = "dsCHTOther1"
)

// CHT's default config data elements (config/default/targets.js), reused so
// that the demo looks like a stock CHT instance.
const (
	DEBirths             = "kB0ZBFisE0e"
	DEFacilityDeliveries = "e22tIwy1nKR"
	COCDefault           = "HllvX50cXC0" // CHT's example categoryOptionCombo/attributeOptionCombo
)

var uidRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]{10}$`)

// ValidUID reports whether s is a valid DHIS2 uid.
func ValidUID(s string) bool { return uidRE.MatchString(s) }

// DataSet is an entry of app_settings dhis_data_sets.
type DataSet struct {
	ID             string `json:"id"`
	TranslationKey string `json:"translation_key"`
}

// DHIS is a target's or a contact's dhis configuration object. Empty fields
// are left out of the JSON.
type DHIS struct {
	DataSet              string
	DataElement          string
	CategoryOptionCombo  string
	AttributeOptionCombo string
	OrgUnit              string
}

// JSON returns the object as stored in CouchDB.
func (d DHIS) JSON() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]string{
		"dataSet":              d.DataSet,
		"dataElement":          d.DataElement,
		"categoryOptionCombo":  d.CategoryOptionCombo,
		"attributeOptionCombo": d.AttributeOptionCombo,
		"orgUnit":              d.OrgUnit,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// Target is an item of app_settings tasks.targets.items, as cht-conf compiles
// it from targets.js.
type Target struct {
	ID             string
	Type           string // "count" or "percent"
	Goal           int
	TranslationKey string
	Icon           string
	// DHIS is the target's dhis object; nil means the target is not
	// exported.
	DHIS *DHIS
	// DHISList, when set, is written instead of DHIS as a dhis array, which
	// cht-conf accepts but CHT's export ignores (dhis.js reads only an object).
	DHISList []DHIS
}

// Item returns the target as a settings item.
func (t Target) Item() map[string]any {
	m := map[string]any{
		"id":                       t.ID,
		"type":                     t.Type,
		"goal":                     t.Goal,
		"translation_key":          t.TranslationKey,
		"subtitle_translation_key": "targets.this_month.subtitle",
		"icon":                     t.Icon,
		"context":                  "user.role === 'chw'",
		"visible":                  true,
		"aggregate":                false,
	}
	switch {
	case t.DHISList != nil:
		l := make([]any, len(t.DHISList))
		for i, d := range t.DHISList {
			l[i] = d.JSON()
		}
		m["dhis"] = l
	case t.DHIS != nil:
		m["dhis"] = t.DHIS.JSON()
	}
	return m
}

// ExportedFor reports the dhis config CHT's export uses for this target and
// data set: a dhis object (not an array) with a dataElement and no dataSet or
// this one.
func (t Target) ExportedFor(dataSet string) (DHIS, bool) {
	if t.DHISList != nil || t.DHIS == nil || t.DHIS.DataElement == "" {
		return DHIS{}, false
	}
	if t.DHIS.DataSet != "" && t.DHIS.DataSet != dataSet {
		return DHIS{}, false
	}
	return *t.DHIS, true
}

// Target ids of DefaultTargets.
const (
	TargetBirths           = "births-this-month"
	TargetFacilityDeliv    = "facility-deliveries"
	TargetHouseholdVisits  = "households-visited-this-month"
	TargetPregnancyRegs    = "pregnancy-registrations-this-month"
	TargetU5Assessments    = "assessments-under-5-this-month"
	TargetANC4             = "anc-4-visits"
	TargetPNC48h           = "pnc-visit-within-48h"
	TargetDeaths           = "deaths-this-month"
	TargetImmunizationsUTD = "immunizations-up-to-date"
)

// DefaultTargets returns the demo's target definitions, in settings order:
//
//   - births-this-month (count) → kB0ZBFisE0e, as in CHT's default config;
//   - facility-deliveries (percent) → e22tIwy1nKR with COC and AOC
//     HllvX50cXC0, as in CHT's default config;
//   - households-visited-this-month (count) → hHVisit0001;
//   - pregnancy-registrations-this-month (count), scoped to DemoDataSet →
//     pRegistr001;
//   - assessments-under-5-this-month (count) → u5Assess001 with a COC;
//   - anc-4-visits (percent) → anc4Visit01;
//   - pnc-visit-within-48h (percent), scoped to OtherDataSet → pnc48hVis01
//     (absent from DemoDataSet exports);
//   - deaths-this-month (count), no dhis (never exported);
//   - immunizations-up-to-date (percent) with a dhis array → ignored by CHT's
//     export (dhis.js reads only an object).
func DefaultTargets() []Target {
	return []Target{
		{ID: TargetBirths, Type: "count", Goal: -1, TranslationKey: "targets.births.title", Icon: "icon-infant",
			DHIS: &DHIS{DataElement: DEBirths}},
		{ID: TargetFacilityDeliv, Type: "percent", Goal: -1, TranslationKey: "targets.anc.facility_deliveries.title", Icon: "icon-mother-child",
			DHIS: &DHIS{DataElement: DEFacilityDeliveries, CategoryOptionCombo: COCDefault, AttributeOptionCombo: COCDefault}},
		{ID: TargetHouseholdVisits, Type: "count", Goal: 30, TranslationKey: "targets.households.visited.title", Icon: "icon-household",
			DHIS: &DHIS{DataElement: "hHVisit0001"}},
		{ID: TargetPregnancyRegs, Type: "count", Goal: -1, TranslationKey: "targets.anc.pregnancy_registrations.title", Icon: "icon-pregnancy",
			DHIS: &DHIS{DataSet: DemoDataSet, DataElement: "pRegistr001"}},
		{ID: TargetU5Assessments, Type: "count", Goal: 10, TranslationKey: "targets.assessments.u5.title", Icon: "icon-healthcare-assessment",
			DHIS: &DHIS{DataElement: "u5Assess001", CategoryOptionCombo: "cocU5Total1"}},
		{ID: TargetANC4, Type: "percent", Goal: 80, TranslationKey: "targets.anc.4_visits.title", Icon: "icon-clinic",
			DHIS: &DHIS{DataElement: "anc4Visit01"}},
		{ID: TargetPNC48h, Type: "percent", Goal: 90, TranslationKey: "targets.pnc.visit_48h.title", Icon: "icon-follow-up",
			DHIS: &DHIS{DataSet: OtherDataSet, DataElement: "pnc48hVis01"}},
		{ID: TargetDeaths, Type: "count", Goal: -1, TranslationKey: "targets.deaths.title", Icon: "icon-death-general"},
		{ID: TargetImmunizationsUTD, Type: "percent", Goal: 90, TranslationKey: "targets.immunizations.utd.title", Icon: "icon-immunization",
			DHISList: []DHIS{{DataElement: "immUtd00001"}}},
	}
}

// DefaultDataSets returns the demo's dhis_data_sets.
func DefaultDataSets() []DataSet {
	return []DataSet{
		{ID: DemoDataSet, TranslationKey: "dhis.dataset.chw_monthly"},
		{ID: OtherDataSet, TranslationKey: "dhis.dataset.other"},
	}
}

// SettingsDoc returns the medic "settings" doc: {"_id": "settings",
// "settings": {app_settings}} with dhis_data_sets, tasks.targets.items,
// uhc, roles, permissions and contact_types like a stock CHT instance. nil
// arguments mean DefaultTargets() and DefaultDataSets().
func SettingsDoc(targets []Target, dataSets []DataSet) map[string]any {
	if targets == nil {
		targets = DefaultTargets()
	}
	if dataSets == nil {
		dataSets = DefaultDataSets()
	}
	items := make([]any, len(targets))
	for i, t := range targets {
		items[i] = t.Item()
	}
	ds := make([]any, len(dataSets))
	for i, d := range dataSets {
		ds[i] = map[string]any{"id": d.ID, "translation_key": d.TranslationKey}
	}
	contactTypes := []any{
		map[string]any{"id": "district_hospital", "name_key": "contact.type.district_hospital", "group_key": "contact.type.district_hospital.plural",
			"create_key": "contact.type.district_hospital.new", "edit_key": "contact.type.place.edit", "icon": "medic-district-hospital",
			"create_form": "form:contact:district_hospital:create", "edit_form": "form:contact:district_hospital:edit"},
		map[string]any{"id": "health_center", "name_key": "contact.type.health_center", "group_key": "contact.type.health_center.plural",
			"create_key": "contact.type.health_center.new", "edit_key": "contact.type.place.edit", "parents": []any{"district_hospital"},
			"icon": "medic-health-center", "create_form": "form:contact:health_center:create", "edit_form": "form:contact:health_center:edit"},
		map[string]any{"id": "clinic", "name_key": "contact.type.clinic", "group_key": "contact.type.clinic.plural",
			"create_key": "contact.type.clinic.new", "edit_key": "contact.type.place.edit", "parents": []any{"health_center"},
			"icon": "medic-clinic", "create_form": "form:contact:clinic:create", "edit_form": "form:contact:clinic:edit", "count_visits": true},
		map[string]any{"id": "person", "name_key": "contact.type.person", "group_key": "contact.type.person.plural",
			"create_key": "contact.type.person.new", "edit_key": "contact.type.person.edit", "primary_contact_key": "clinic.field.contact",
			"parents": []any{"district_hospital", "health_center", "clinic"}, "icon": "medic-person", "create_form": "form:contact:person:create",
			"edit_form": "form:contact:person:edit", "person": true},
	}
	return map[string]any{
		"_id": "settings",
		"settings": map[string]any{
			"locale":          "en",
			"locale_outgoing": "en",
			"dhis_data_sets":  ds,
			"tasks": map[string]any{
				"targets": map[string]any{"enabled": true, "items": items},
			},
			"uhc": map[string]any{
				"month_start_date": 1,
				"visit_count":      map[string]any{"month_start_date": 1, "visit_count_goal": 1},
			},
			"roles": map[string]any{
				"chw":             map[string]any{"name": "usertype.chw", "offline": true},
				"chw_supervisor":  map[string]any{"name": "usertype.chw-supervisor", "offline": true},
				"program_officer": map[string]any{"name": "usertype.program-officer"},
				"data_entry":      map[string]any{"name": "usertype.data-entry"},
			},
			"permissions": map[string]any{
				"can_export_dhis":    []any{"program_officer"},
				"can_export_all":     []any{"program_officer"},
				"can_configure":      []any{"program_officer"},
				"can_view_analytics": []any{"chw", "chw_supervisor", "program_officer"},
				"can_view_tasks":     []any{"chw", "chw_supervisor"},
				"can_view_contacts":  []any{"chw", "chw_supervisor", "program_officer", "data_entry"},
			},
			"contact_types": contactTypes,
		},
	}
}
