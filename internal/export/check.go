package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// CHTInspector is what the preflight check reads from CHT. *cht.Client
// implements it.
type CHTInspector interface {
	Settings(ctx context.Context) (cht.Settings, error)
	Contacts(ctx context.Context, fn func(aggregate.Contact) error) error
}

// DHIS2Inspector is what the preflight check asks DHIS2. *dhis2.Client
// implements it.
type DHIS2Inspector interface {
	SystemInfo(ctx context.Context) (dhis2.SystemInfo, error)
	Metadata(ctx context.Context, dataSetID string) (validate.Metadata, error)
	// OrgUnits, DataElements and CategoryOptionCombos return those of ids
	// that exist in DHIS2, as id → name.
	OrgUnits(ctx context.Context, ids []string) (map[string]string, error)
	DataElements(ctx context.Context, ids []string) (map[string]string, error)
	CategoryOptionCombos(ctx context.Context, ids []string) (map[string]string, error)
}

// CheckOptions describe what is checked, for the report.
type CheckOptions struct {
	// ConfigFile is the configuration file that was loaded; "" for none.
	ConfigFile string
	// CHTURL and DHIS2URL are the configured base URLs. The report shows
	// them without credentials, query or fragment.
	CHTURL, DHIS2URL string
	// CHTDatabase is the CHT database read.
	CHTDatabase string
}

// Severities of a finding. Errors fail the check, warnings do not.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding codes, stable for programs.
const (
	// CHT settings.
	CodeSettingsWarning       = "cht_settings_warning"       // a part of app_settings was ignored for its shape
	CodeNoDataSets            = "no_data_sets"               // dhis_data_sets is empty or absent
	CodeDHISArray             = "dhis_array_mapping"         // a target mapped with a dhis array: CHT's own export ignores it
	CodeTargetDataSetUnknown  = "target_data_set_unknown"    // a target scoped to a data set not in dhis_data_sets
	CodeContactDataSetUnknown = "contact_data_set_unknown"   // a contact's org unit scoped to a data set not in dhis_data_sets
	CodeCalendar              = "dhis2_calendar_not_iso8601" // DHIS2 uses another calendar than ISO 8601

	// A data set.
	CodeDataSetIDInvalid      = "data_set_id_invalid"     // not a DHIS2 uid
	CodeDataSetNotFound       = "data_set_not_found"      // DHIS2 does not know it
	CodeDataSetUnavailable    = "data_set_unavailable"    // its metadata could not be read
	CodePeriodTypeNotMonthly  = "period_type_not_monthly" // CHT exports months only
	CodeNoTargetsMapped       = "no_targets_mapped"       // no target maps a data element to it
	CodeNoOrgUnitsMapped      = "no_org_units_mapped"     // no CHT contact maps an org unit to it
	CodeLookupFailed          = "dhis2_lookup_failed"     // an existence lookup failed; findings may be less precise
	CodeUIDInvalid            = "uid_invalid"             // a mapped id is not a DHIS2 uid
	CodeDataElementNotFound   = "data_element_not_found"
	CodeDataElementNotInSet   = "data_element_not_in_data_set"
	CodeDataElementNotNumeric = "data_element_not_numeric" // value type not numeric, or an option set
	CodeValueTypeRange        = "value_type_range"         // a numeric type that refuses some totals (0, > 100, …)
	CodeMappedTwice           = "data_element_mapped_twice"
	CodeCOCNotFound           = "category_option_combo_not_found"
	CodeCOCInvalid            = "category_option_combo_invalid"
	CodeAOCNotFound           = "attribute_option_combo_not_found"
	CodeAOCInvalid            = "attribute_option_combo_invalid"
	CodeOrgUnitNotFound       = "org_unit_not_found"
	CodeOrgUnitNotAssigned    = "org_unit_not_assigned"
)

// CheckReport is the result of the preflight check (mediator check).
type CheckReport struct {
	// OK is true when no check failed; warnings are allowed.
	OK       bool           `json:"ok"`
	Errors   int            `json:"errors"`
	Warnings int            `json:"warnings"`
	Config   ConfigCheck    `json:"config"`
	CHT      CHTCheck       `json:"cht"`
	DHIS2    DHIS2Check     `json:"dhis2"`
	DataSets []DataSetCheck `json:"dataSets"`
}

// ConfigCheck says which configuration was checked. A configuration that
// does not load or validate never gets this far.
type ConfigCheck struct {
	Valid bool   `json:"valid"`
	File  string `json:"file,omitempty"`
}

// CHTCheck is what the check found about CHT.
type CHTCheck struct {
	URL      string `json:"url"`
	Database string `json:"database,omitempty"`
	// OK: the settings and contacts could be read.
	OK bool `json:"ok"`
	// Reachable: CHT answered over HTTP, whatever the status.
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// DataSets in dhis_data_sets, Targets with a dhis mapping, Contacts
	// with at least one org unit.
	DataSets int       `json:"dataSets"`
	Targets  int       `json:"targets"`
	Contacts int       `json:"contacts"`
	Findings []Finding `json:"findings"`
}

// DHIS2Check is what the check found about DHIS2.
type DHIS2Check struct {
	URL string `json:"url"`
	// OK: DHIS2 answered system info with the configured credentials.
	OK        bool      `json:"ok"`
	Reachable bool      `json:"reachable"`
	Version   string    `json:"version,omitempty"`
	Calendar  string    `json:"calendar,omitempty"`
	Error     string    `json:"error,omitempty"`
	Findings  []Finding `json:"findings"`
}

// DataSetCheck is what the check found about one data set of CHT's
// dhis_data_sets.
type DataSetCheck struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`       // DHIS2's name
	PeriodType string `json:"periodType,omitempty"` // DHIS2's period type
	// OK: checked against DHIS2 without an error finding.
	OK bool `json:"ok"`
	// Checked is false when the data set could not be checked against
	// DHIS2; Skipped says why.
	Checked bool   `json:"checked"`
	Skipped string `json:"skipped,omitempty"`
	// Targets mapped to the data set, distinct DataElements they map to,
	// distinct OrgUnits on CHT contacts for it.
	Targets      int       `json:"targets"`
	DataElements int       `json:"dataElements"`
	OrgUnits     int       `json:"orgUnits"`
	Findings     []Finding `json:"findings"`
}

// Finding is one thing the check found wrong or worth knowing, in a
// sentence an integrator understands, with the ids it concerns.
type Finding struct {
	Severity             string `json:"severity"`
	Code                 string `json:"code"`
	Message              string `json:"message"`
	Target               string `json:"target,omitempty"`
	DataElement          string `json:"dataElement,omitempty"`
	CategoryOptionCombo  string `json:"categoryOptionCombo,omitempty"`
	AttributeOptionCombo string `json:"attributeOptionCombo,omitempty"`
	OrgUnit              string `json:"orgUnit,omitempty"`
	Contact              string `json:"contact,omitempty"`
}

// Check runs the preflight check: it reads CHT's settings and contacts and
// DHIS2's system info, then checks every data set of dhis_data_sets
// against DHIS2's metadata: it exists and is Monthly; every mapped data
// element exists, is in the data set and is numeric; every category and
// attribute option combo of the mappings is valid; every org unit on CHT
// contacts exists and is assigned to the data set.
//
// It never fails: an upstream that cannot be reached or refuses the
// credentials is reported, and whatever can still be checked is.
func Check(ctx context.Context, src CHTInspector, dst DHIS2Inspector, opts CheckOptions) *CheckReport {
	r := &CheckReport{
		Config:   ConfigCheck{Valid: true, File: opts.ConfigFile},
		CHT:      CHTCheck{URL: cleanURL(opts.CHTURL), Database: opts.CHTDatabase, Findings: []Finding{}},
		DHIS2:    DHIS2Check{URL: cleanURL(opts.DHIS2URL), Findings: []Finding{}},
		DataSets: []DataSetCheck{},
	}
	c := &checker{ctx: ctx, src: src, dst: dst, r: r}
	c.readCHT()
	c.readDHIS2()
	if r.CHT.OK {
		c.checkSettings()
		for _, ds := range c.dataSets() {
			r.DataSets = append(r.DataSets, c.checkDataSet(ds))
		}
	}
	r.tally()
	return r
}

// checker holds what one Check run has read.
type checker struct {
	ctx      context.Context
	src      CHTInspector
	dst      DHIS2Inspector
	r        *CheckReport
	settings cht.Settings
	contacts []aggregate.Contact
}

func (c *checker) readCHT() {
	ch := &c.r.CHT
	fail := func(err error) {
		ch.Reachable = !errors.Is(err, cht.ErrUnreachable)
		switch {
		case !ch.Reachable:
			ch.Error = "CHT is not reachable: " + err.Error()
		case errors.Is(err, cht.ErrUnauthorized):
			ch.Error = "CHT refused the credentials: " + err.Error()
		default:
			ch.Error = err.Error()
		}
	}
	s, err := c.src.Settings(c.ctx)
	if err != nil {
		fail(err)
		return
	}
	c.settings = s
	err = c.src.Contacts(c.ctx, func(ct aggregate.Contact) error {
		if len(ct.OrgUnits) == 0 {
			return nil
		}
		// Keep copies: a decoder may slice these out of a page buffer.
		kept := aggregate.Contact{ID: strings.Clone(ct.ID), Name: strings.Clone(ct.Name)}
		for _, m := range ct.OrgUnits {
			kept.OrgUnits = append(kept.OrgUnits, aggregate.OrgUnitMapping{OrgUnit: strings.Clone(m.OrgUnit), DataSet: strings.Clone(m.DataSet)})
		}
		c.contacts = append(c.contacts, kept)
		return nil
	})
	if err != nil {
		fail(err)
		return
	}
	ch.OK, ch.Reachable = true, true
	ch.DataSets, ch.Targets, ch.Contacts = len(s.DataSets), len(s.Targets), len(c.contacts)
}

func (c *checker) readDHIS2() {
	d := &c.r.DHIS2
	info, err := c.dst.SystemInfo(c.ctx)
	if err != nil {
		var ne net.Error
		d.Reachable = !errors.As(err, &ne) && !errors.Is(err, context.DeadlineExceeded)
		switch {
		case !d.Reachable:
			d.Error = "DHIS2 is not reachable: " + err.Error()
		case errors.Is(err, dhis2.ErrUnauthorized):
			d.Error = "DHIS2 refused the credentials: " + err.Error()
		default:
			d.Error = err.Error()
		}
		return
	}
	d.OK, d.Reachable = true, true
	d.Version, d.Calendar = info.Version, info.Calendar
	if info.Calendar != "" && info.Calendar != "iso8601" {
		d.Findings = append(d.Findings, warningFinding(CodeCalendar, fmt.Sprintf(
			"DHIS2 uses the %s calendar; the mediator's periods are ISO 8601 months, so check that DHIS2 maps them as expected", info.Calendar)))
	}
}

// checkSettings reports the CHT-wide findings.
func (c *checker) checkSettings() {
	ch := &c.r.CHT
	for _, w := range c.settings.Warnings {
		ch.Findings = append(ch.Findings, warningFinding(CodeSettingsWarning, "CHT settings: "+w))
	}
	if len(c.settings.DataSets) == 0 {
		ch.Findings = append(ch.Findings, errorFinding(CodeNoDataSets,
			"CHT's app_settings has no dhis_data_sets, so there is nothing to export; add the DHIS2 data sets there"))
	}
	for _, def := range c.settings.Targets {
		if !def.DHISArray {
			continue
		}
		t := def.ID
		f := warningFinding(CodeDHISArray, fmt.Sprintf(
			"target %q is mapped with a dhis array: the mediator exports it, but CHT's own DHIS2 export ignores it, so the two exports differ", t))
		f.Target = t
		ch.Findings = append(ch.Findings, f)
	}
	known := map[string]bool{}
	for _, ds := range c.settings.DataSets {
		known[ds.ID] = true
	}
	for _, t := range c.settings.Targets {
		for _, m := range t.DHIS {
			if m.DataSet != "" && !known[m.DataSet] {
				f := warningFinding(CodeTargetDataSetUnknown, fmt.Sprintf(
					"target %q maps data element %s to data set %s, which is not in CHT's dhis_data_sets, so it is never exported", t.ID, m.DataElement, m.DataSet))
				f.Target, f.DataElement = t.ID, m.DataElement
				ch.Findings = append(ch.Findings, f)
			}
		}
	}
	for _, ct := range c.contacts {
		for _, m := range ct.OrgUnits {
			if m.DataSet != "" && !known[m.DataSet] {
				f := warningFinding(CodeContactDataSetUnknown, fmt.Sprintf(
					"org unit %s on CHT contact %s is scoped to data set %s, which is not in CHT's dhis_data_sets, so it is never exported", m.OrgUnit, contactName(ct), m.DataSet))
				f.OrgUnit, f.Contact = m.OrgUnit, ct.ID
				ch.Findings = append(ch.Findings, f)
			}
		}
	}
}

// dataSets returns dhis_data_sets without repeats.
func (c *checker) dataSets() []aggregate.DataSet {
	var out []aggregate.DataSet
	for _, ds := range c.settings.DataSets {
		if !slices.ContainsFunc(out, func(d aggregate.DataSet) bool { return d.ID == ds.ID }) {
			out = append(out, ds)
		}
	}
	return out
}

// mapping is one target mapping that applies to a data set.
type mapping struct {
	target string
	aggregate.Mapping
}

// orgUnit is an org unit mapped for a data set, with its contacts.
type orgUnit struct {
	id       string
	contacts []aggregate.Contact
}

func (c *checker) checkDataSet(ds aggregate.DataSet) DataSetCheck {
	dc := DataSetCheck{ID: ds.ID, Findings: []Finding{}}
	add := func(f Finding) { dc.Findings = append(dc.Findings, f) }

	// What CHT maps to the data set.
	var maps []mapping
	var targets, des []string
	for _, t := range c.settings.Targets {
		for _, m := range t.DHIS {
			if m.DataElement == "" || (m.DataSet != "" && m.DataSet != ds.ID) {
				continue
			}
			maps = append(maps, mapping{target: t.ID, Mapping: m})
			if !slices.Contains(targets, t.ID) {
				targets = append(targets, t.ID)
			}
			if !slices.Contains(des, m.DataElement) {
				des = append(des, m.DataElement)
			}
		}
	}
	var ous []orgUnit
	ouIndex := map[string]int{}
	for _, ct := range c.contacts {
		for _, m := range ct.OrgUnits {
			if m.OrgUnit == "" || (m.DataSet != "" && m.DataSet != ds.ID) {
				continue
			}
			i, ok := ouIndex[m.OrgUnit]
			if !ok {
				i = len(ous)
				ouIndex[m.OrgUnit] = i
				ous = append(ous, orgUnit{id: m.OrgUnit})
			}
			if !slices.ContainsFunc(ous[i].contacts, func(x aggregate.Contact) bool { return x.ID == ct.ID }) {
				ous[i].contacts = append(ous[i].contacts, ct)
			}
		}
	}
	dc.Targets, dc.DataElements, dc.OrgUnits = len(targets), len(des), len(ous)

	// Checks that need CHT only.
	if !validate.ValidUID(ds.ID) {
		add(errorFinding(CodeDataSetIDInvalid, fmt.Sprintf(
			"data set id %q in CHT's dhis_data_sets is not a DHIS2 uid (11 letters and digits, starting with a letter)", ds.ID)))
	}
	if len(maps) == 0 {
		add(errorFinding(CodeNoTargetsMapped, fmt.Sprintf(
			"no CHT target is mapped to data set %s (no dhis.dataElement for it in tasks.targets.items), so its export is empty", ds.ID)))
	}
	if len(ous) == 0 {
		add(errorFinding(CodeNoOrgUnitsMapped, fmt.Sprintf(
			"no CHT contact has a dhis.orgUnit for data set %s, so its export is empty", ds.ID)))
	}
	type comboKey struct{ de, coc, aoc string }
	firstTarget := map[comboKey]string{}
	for _, m := range maps {
		for _, id := range []struct{ what, id string }{
			{"data element", m.DataElement}, {"category option combo", m.CategoryOptionCombo}, {"attribute option combo", m.AttributeOptionCombo},
		} {
			if id.id != "" && !validate.ValidUID(id.id) {
				f := errorFinding(CodeUIDInvalid, fmt.Sprintf("%s %q of target %q is not a DHIS2 uid", id.what, id.id, m.target))
				setMapping(&f, m)
				add(f)
			}
		}
		k := comboKey{m.DataElement, m.CategoryOptionCombo, m.AttributeOptionCombo}
		if first, ok := firstTarget[k]; ok && first != m.target {
			f := warningFinding(CodeMappedTwice, fmt.Sprintf(
				"targets %q and %q are both mapped to data element %s with the same combos, so their totals are added into one value", first, m.target, m.DataElement))
			setMapping(&f, m)
			add(f)
		} else if !ok {
			firstTarget[k] = m.target
		}
	}
	for _, ou := range ous {
		if !validate.ValidUID(ou.id) {
			f := errorFinding(CodeUIDInvalid, fmt.Sprintf("org unit %q on CHT contact %s is not a DHIS2 uid", ou.id, contactNames(ou.contacts)))
			f.OrgUnit, f.Contact = ou.id, ou.contacts[0].ID
			add(f)
		}
	}

	// Checks against DHIS2.
	switch {
	case !c.r.DHIS2.OK:
		dc.Skipped = "DHIS2 is not available"
		return dc
	case !validate.ValidUID(ds.ID):
		dc.Skipped = "the data set id is not a DHIS2 uid"
		return dc
	}
	md, err := c.dst.Metadata(c.ctx, ds.ID)
	if err != nil {
		if errors.Is(err, dhis2.ErrDataSetNotFound) {
			add(errorFinding(CodeDataSetNotFound, fmt.Sprintf(
				"data set %s is in CHT's dhis_data_sets but DHIS2 does not have it (or the DHIS2 user cannot see it)", ds.ID)))
			dc.Skipped = "DHIS2 does not have the data set"
		} else {
			add(errorFinding(CodeDataSetUnavailable, fmt.Sprintf("could not read data set %s from DHIS2: %v", ds.ID, err)))
			dc.Skipped = "its DHIS2 metadata could not be read"
		}
		return dc
	}
	dc.Checked = true
	dc.Name, dc.PeriodType = md.DataSet.Name, md.DataSet.PeriodType
	if md.DataSet.PeriodType != "Monthly" {
		add(errorFinding(CodePeriodTypeNotMonthly, fmt.Sprintf(
			"data set %s has period type %s; CHT exports monthly data only", ds.ID, md.DataSet.PeriodType)))
	}

	// Existence of what the data set does not hold, asked in one go each.
	var missingDEs, missingCOCs, missingOUs []string
	for _, m := range maps {
		de, in := md.DataElements[m.DataElement]
		if !in {
			missingDEs = append(missingDEs, m.DataElement)
			continue
		}
		if m.CategoryOptionCombo != "" && !comboAllowed(de.CategoryOptionCombos, md.DefaultCategoryOptionCombo, m.CategoryOptionCombo) {
			missingCOCs = append(missingCOCs, m.CategoryOptionCombo)
		}
		if m.AttributeOptionCombo != "" && !comboAllowed(md.DataSet.AttributeOptionCombos, md.DefaultCategoryOptionCombo, m.AttributeOptionCombo) {
			missingCOCs = append(missingCOCs, m.AttributeOptionCombo)
		}
	}
	for _, ou := range ous {
		if !md.OrgUnits[ou.id] {
			missingOUs = append(missingOUs, ou.id)
		}
	}
	deNames := c.lookup(&dc, "data elements", c.dst.DataElements, missingDEs)
	cocNames := c.lookup(&dc, "category option combos", c.dst.CategoryOptionCombos, missingCOCs)
	ouNames := c.lookup(&dc, "org units", c.dst.OrgUnits, missingOUs)

	// Data elements.
	for _, m := range maps {
		if !validate.ValidUID(m.DataElement) {
			continue // reported above
		}
		de, in := md.DataElements[m.DataElement]
		var f Finding
		switch {
		case !in && deNames != nil && !has(deNames, m.DataElement):
			f = errorFinding(CodeDataElementNotFound, fmt.Sprintf(
				"data element %s (target %s) does not exist in DHIS2; fix the target's dhis.dataElement", m.DataElement, m.target))
		case !in:
			f = errorFinding(CodeDataElementNotInSet, fmt.Sprintf(
				"data element %s (target %s) is not in data set %s; add it to the data set in DHIS2 or fix the target's mapping", m.DataElement, m.target, ds.ID))
		case de.HasOptionSet:
			f = errorFinding(CodeDataElementNotNumeric, fmt.Sprintf(
				"data element %s (target %s) uses an option set; CHT totals are numbers", m.DataElement, m.target))
		case !validate.IsNumeric(de.ValueType):
			f = errorFinding(CodeDataElementNotNumeric, fmt.Sprintf(
				"data element %s (target %s) has value type %s; CHT totals are numbers", m.DataElement, m.target, de.ValueType))
		default:
			var ok bool
			if f, ok = rangeFinding(de.ValueType, m); !ok {
				continue
			}
		}
		setMapping(&f, m)
		add(f)
	}

	// Category and attribute option combos.
	for _, m := range maps {
		de, in := md.DataElements[m.DataElement]
		if !in {
			continue // its combos mean nothing outside the data set
		}
		if coc := m.CategoryOptionCombo; validate.ValidUID(coc) && !comboAllowed(de.CategoryOptionCombos, md.DefaultCategoryOptionCombo, coc) {
			f := errorFinding(CodeCOCInvalid, fmt.Sprintf(
				"category option combo %s (target %s) is not a combo of data element %s in data set %s", coc, m.target, m.DataElement, ds.ID))
			if cocNames != nil && !has(cocNames, coc) {
				f = errorFinding(CodeCOCNotFound, fmt.Sprintf(
					"category option combo %s (target %s) does not exist in DHIS2", coc, m.target))
			}
			setMapping(&f, m)
			add(f)
		}
		if aoc := m.AttributeOptionCombo; validate.ValidUID(aoc) && !comboAllowed(md.DataSet.AttributeOptionCombos, md.DefaultCategoryOptionCombo, aoc) {
			f := errorFinding(CodeAOCInvalid, fmt.Sprintf(
				"attribute option combo %s (target %s) is not an attribute option combo of data set %s", aoc, m.target, ds.ID))
			if cocNames != nil && !has(cocNames, aoc) {
				f = errorFinding(CodeAOCNotFound, fmt.Sprintf(
					"attribute option combo %s (target %s) does not exist in DHIS2", aoc, m.target))
			}
			setMapping(&f, m)
			add(f)
		}
	}

	// Org units.
	for _, ou := range ous {
		if !validate.ValidUID(ou.id) || md.OrgUnits[ou.id] {
			continue
		}
		f := errorFinding(CodeOrgUnitNotAssigned, fmt.Sprintf(
			"org unit %s on CHT contact %s is not assigned to data set %s", ou.id, contactNames(ou.contacts), ds.ID))
		if ouNames != nil && !has(ouNames, ou.id) {
			f = errorFinding(CodeOrgUnitNotFound, fmt.Sprintf(
				"org unit %s on CHT contact %s does not exist in DHIS2", ou.id, contactNames(ou.contacts)))
		}
		f.OrgUnit, f.Contact = ou.id, ou.contacts[0].ID
		add(f)
	}
	dc.OK = !slices.ContainsFunc(dc.Findings, isError)
	return dc
}

// lookup asks DHIS2 which of ids exist. It returns nil, and adds a warning,
// when the lookup fails: findings then say "not in the data set" rather
// than "does not exist".
func (c *checker) lookup(dc *DataSetCheck, what string, fn func(context.Context, []string) (map[string]string, error), ids []string) map[string]string {
	if len(ids) == 0 {
		return map[string]string{}
	}
	found, err := fn(c.ctx, ids)
	if err != nil {
		dc.Findings = append(dc.Findings, warningFinding(CodeLookupFailed, fmt.Sprintf(
			"could not check which %s exist in DHIS2: %v", what, err)))
		return nil
	}
	return found
}

func has(m map[string]string, id string) bool {
	_, ok := m[id]
	return ok
}

// rangeFinding flags numeric value types that refuse some of CHT's totals,
// which are whole numbers from 0 up.
func rangeFinding(valueType string, m mapping) (Finding, bool) {
	what := fmt.Sprintf("data element %s (target %s) has value type %s", m.DataElement, m.target, valueType)
	switch valueType {
	case "INTEGER_NEGATIVE":
		return errorFinding(CodeValueTypeRange, what+", which refuses every CHT total (they are 0 or more)"), true
	case "INTEGER_POSITIVE":
		return warningFinding(CodeValueTypeRange, what+", which refuses 0; the zeros CHT sends for months without data will be rejected"), true
	case "PERCENTAGE":
		return warningFinding(CodeValueTypeRange, what+", which refuses totals above 100"), true
	case "UNIT_INTERVAL":
		return warningFinding(CodeValueTypeRange, what+", which refuses totals above 1"), true
	}
	return Finding{}, false
}

// comboAllowed is validate's rule for a combo of a mapping: an empty combo
// set means the default combo only.
func comboAllowed(set map[string]bool, def, combo string) bool {
	if len(set) == 0 {
		return def != "" && combo == def
	}
	return set[combo]
}

func setMapping(f *Finding, m mapping) {
	f.Target, f.DataElement = m.target, m.DataElement
	f.CategoryOptionCombo, f.AttributeOptionCombo = m.CategoryOptionCombo, m.AttributeOptionCombo
}

// contactName is the contact's name, quoted, or its id.
func contactName(ct aggregate.Contact) string {
	if ct.Name != "" {
		return fmt.Sprintf("%q", ct.Name)
	}
	return ct.ID
}

// contactNames names up to three contacts: `"A"`, `"A", "B" and 2 more`.
func contactNames(cts []aggregate.Contact) string {
	const maxNames = 3
	names := make([]string, 0, maxNames)
	for _, ct := range cts[:min(len(cts), maxNames)] {
		names = append(names, contactName(ct))
	}
	s := strings.Join(names, ", ")
	if n := len(cts) - maxNames; n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

func errorFinding(code, msg string) Finding {
	return Finding{Severity: SeverityError, Code: code, Message: msg}
}
func warningFinding(code, msg string) Finding {
	return Finding{Severity: SeverityWarning, Code: code, Message: msg}
}

func isError(f Finding) bool { return f.Severity == SeverityError }

// tally counts errors and warnings and sets OK.
func (r *CheckReport) tally() {
	r.Errors, r.Warnings = 0, 0
	count := func(fs []Finding) {
		for _, f := range fs {
			if isError(f) {
				r.Errors++
			} else {
				r.Warnings++
			}
		}
	}
	if !r.CHT.OK {
		r.Errors++
	}
	if !r.DHIS2.OK {
		r.Errors++
	}
	count(r.CHT.Findings)
	count(r.DHIS2.Findings)
	for _, ds := range r.DataSets {
		count(ds.Findings)
	}
	r.OK = r.Errors == 0
}

// cleanURL drops credentials, query and fragment from a URL for display.
func cleanURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "(not a valid URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// Markers of the readable report.
const (
	markOK   = "OK"
	markFail = "FAIL"
	markWarn = "WARN"
	markSkip = "SKIP"
)

// category groups finding codes under a line of the readable report.
type category int

const (
	catDataSet category = iota
	catDataElements
	catCombos
	catOrgUnits
)

func categoryOf(code string) category {
	switch code {
	case CodeNoTargetsMapped, CodeDataElementNotFound, CodeDataElementNotInSet, CodeDataElementNotNumeric,
		CodeValueTypeRange, CodeMappedTwice:
		return catDataElements
	case CodeCOCNotFound, CodeCOCInvalid, CodeAOCNotFound, CodeAOCInvalid:
		return catCombos
	case CodeNoOrgUnitsMapped, CodeOrgUnitNotFound, CodeOrgUnitNotAssigned:
		return catOrgUnits
	}
	return catDataSet
}

// findingCategory places a finding; uid_invalid goes where its id belongs.
func findingCategory(f Finding) category {
	switch {
	case f.Code == CodeUIDInvalid && f.OrgUnit != "":
		return catOrgUnits
	case f.Code == CodeUIDInvalid && strings.HasPrefix(f.Message, "data element"):
		return catDataElements
	case f.Code == CodeUIDInvalid:
		return catCombos
	case f.Code == CodeLookupFailed && strings.Contains(f.Message, "org units"):
		return catOrgUnits
	case f.Code == CodeLookupFailed && strings.Contains(f.Message, "data elements"):
		return catDataElements
	case f.Code == CodeLookupFailed:
		return catCombos
	}
	return categoryOf(f.Code)
}

// WriteText writes the report for people: a few lines per section, each
// starting with OK, FAIL, WARN or SKIP, and a one-line verdict.
func (r *CheckReport) WriteText(w io.Writer) error {
	tw := &textWriter{w: w}
	tw.section("Configuration")
	if r.Config.File != "" {
		tw.line(markOK, "valid (file "+r.Config.File+")")
	} else {
		tw.line(markOK, "valid (environment and flags; no config file)")
	}

	head := "CHT " + r.CHT.URL
	if r.CHT.Database != "" {
		head += " (database " + r.CHT.Database + ")"
	}
	tw.section(head)
	if r.CHT.OK {
		tw.line(markOK, fmt.Sprintf("settings and contacts read: %s in dhis_data_sets, %s with a dhis mapping, %s with an org unit",
			plural(r.CHT.DataSets, "data set"), plural(r.CHT.Targets, "target"), plural(r.CHT.Contacts, "contact")))
	} else {
		tw.line(markFail, r.CHT.Error)
	}
	tw.findings(r.CHT.Findings)

	tw.section("DHIS2 " + r.DHIS2.URL)
	if r.DHIS2.OK {
		tw.line(markOK, "reachable, credentials accepted, version "+r.DHIS2.Version)
	} else {
		tw.line(markFail, r.DHIS2.Error)
	}
	tw.findings(r.DHIS2.Findings)

	if !r.CHT.OK {
		tw.section("Data sets")
		tw.line(markSkip, "not checked: CHT's settings and contacts could not be read")
	}
	for _, ds := range r.DataSets {
		head := "Data set " + ds.ID
		if ds.Name != "" {
			head += fmt.Sprintf(" %q", ds.Name)
		}
		tw.section(head)
		byCat := map[category][]Finding{}
		for _, f := range ds.Findings {
			cat := findingCategory(f)
			byCat[cat] = append(byCat[cat], f)
		}
		okLine := func(cat category, msg string) {
			if ds.Checked && !slices.ContainsFunc(byCat[cat], isError) {
				tw.line(markOK, msg)
			}
			tw.findings(byCat[cat])
		}
		okLine(catDataSet, "exists in DHIS2, period type "+ds.PeriodType)
		if ds.Targets > 0 {
			okLine(catDataElements, fmt.Sprintf("%s (from %s) in the data set and numeric",
				plural(ds.DataElements, "data element"), plural(ds.Targets, "target")))
			okLine(catCombos, "category and attribute option combos valid")
		} else {
			tw.findings(byCat[catDataElements])
			tw.findings(byCat[catCombos])
		}
		okLine(catOrgUnits, fmt.Sprintf("%s on CHT contacts exist and are assigned to the data set", plural(ds.OrgUnits, "org unit")))
		if !ds.Checked {
			tw.line(markSkip, "not checked against DHIS2: "+ds.Skipped)
		}
	}

	tw.printf("\n")
	if r.OK {
		verdict := "OK: every check passed"
		if r.Warnings > 0 {
			verdict += " (" + plural(r.Warnings, "warning") + ")"
		}
		tw.printf("%s\n", verdict)
	} else {
		tw.printf("FAILED: %s, %s\n", plural(r.Errors, "error"), plural(r.Warnings, "warning"))
	}
	return tw.err
}

// textWriter writes lines and keeps the first error.
type textWriter struct {
	w       io.Writer
	err     error
	started bool
}

func (t *textWriter) printf(format string, a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, a...)
	}
}

func (t *textWriter) section(title string) {
	if t.started {
		t.printf("\n")
	}
	t.started = true
	t.printf("%s\n", title)
}

func (t *textWriter) line(mark, msg string) { t.printf("  %-4s  %s\n", mark, msg) }

func (t *textWriter) findings(fs []Finding) {
	for _, f := range fs {
		mark := markWarn
		if isError(f) {
			mark = markFail
		}
		t.line(mark, f.Message)
	}
}

// plural renders "1 data set", "2 data sets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
