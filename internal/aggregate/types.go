// Package aggregate computes DHIS2 data values from CHT target documents: the
// pure core of the mediator. It follows CHT Core's own DHIS2 export
// (api/src/services/export/dhis.js) value for value on well-formed data, and
// improves on it where CHT is wrong: one target doc per owner and month,
// malformed docs skipped and reported instead of failing the export, values
// keyed by data element and both combos. It does no I/O: callers stream documents in and read data
// values and problems out.
package aggregate

import "encoding/json"

// DataSet is one entry of CHT's app_settings.dhis_data_sets.
type DataSet struct {
	ID             string // DHIS2 data set uid
	TranslationKey string // label key, translated for human-readable output
}

// TargetDef is one target definition of app_settings.tasks.targets.items that
// carries DHIS2 mappings.
type TargetDef struct {
	ID string // target id, as in target docs' targets[].id
	// DHIS holds the target's dhis configuration: one element when CHT has an
	// object, every element when it has an array.
	DHIS []Mapping
	// DHISArray is true when CHT has the dhis configuration as a JSON array,
	// which CHT's own export ignores and the mediator honours.
	DHISArray bool
}

// Mapping is one dhis configuration of a target definition.
type Mapping struct {
	DataSet              string // "" applies to every data set
	DataElement          string // required; a mapping without one is ignored, as in CHT
	CategoryOptionCombo  string
	AttributeOptionCombo string
	// Attributes holds every other attribute of the dhis object except
	// dataSet, dataElement, categoryOptionCombo, attributeOptionCombo, orgUnit
	// and value, verbatim. They are copied onto the data value, as CHT does.
	Attributes map[string]json.RawMessage
}

// OrgUnitMapping is one dhis configuration of a contact.
type OrgUnitMapping struct {
	OrgUnit string // DHIS2 org unit uid; "" contributes nothing, as in CHT
	DataSet string // "" applies to every data set
}

// Contact is a contact (place or person) that carries dhis org unit mappings,
// as returned by the medic-admin/contacts_by_dhis_orgunit view.
type Contact struct {
	ID       string
	Name     string
	OrgUnits []OrgUnitMapping
	// Lineage is the contact's own stored parent chain, nearest ancestor
	// first (parent, parent.parent, …). Used for children=true.
	Lineage []string
}

// Owner is the contact that owns target docs, with its stored lineage.
type Owner struct {
	ID string
	// Lineage is the owner doc's stored parent chain, nearest ancestor first.
	// Ancestors are never fetched: CHT uses the minified lineage on the doc.
	Lineage []string
}

// TargetDoc is a CHT target document (_id "target~YYYY-MM~<owner>~<user>"),
// decoded leniently: problems in its shape are recorded, never fatal.
type TargetDoc struct {
	ID          string
	Owner       string
	UpdatedDate int64 // ms since the epoch; 0 when absent
	Targets     []Target
	// Malformed, when not empty, says why the doc as a whole cannot be used
	// ("targets is missing", "targets is not an array", "owner is missing").
	// Such a doc is skipped and reported.
	Malformed string
}

// Target is one entry of a target doc's targets array.
type Target struct {
	ID    string
	Total float64 // value.total
	// Invalid, when not empty, says why Total could not be read ("value is
	// null", "value.total is missing", `value.total is "5", not a number`).
	// Such an entry is skipped and reported; the rest of the doc counts.
	Invalid string
}

// Key identifies one DHIS2 data value within a data set and period.
type Key struct {
	OrgUnit              string
	DataElement          string
	CategoryOptionCombo  string
	AttributeOptionCombo string
}

// DataValue is one computed DHIS2 data value.
type DataValue struct {
	Key
	Value float64
	// Attributes are the copied attributes of the target's dhis config.
	Attributes map[string]json.RawMessage
}

// Problem is something wrong in the CHT data that the computation worked
// around: a skipped doc, entry or duplicate. Problems are data, not errors.
type Problem struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	OrgUnit     string `json:"orgUnit,omitempty"`
	DataElement string `json:"dataElement,omitempty"`
	DocID       string `json:"docId,omitempty"`
}

// Problem codes.
const (
	// ProblemMalformedDoc: a target doc of a mapped owner whose shape is
	// unusable (no targets array, no owner). The doc is skipped.
	ProblemMalformedDoc = "malformed_target_doc"
	// ProblemInvalidTotal: a targets[] entry whose value.total is not a
	// number. The entry is skipped.
	ProblemInvalidTotal = "invalid_target_total"
	// ProblemUnknownOwner: a target doc whose owner contact does not exist
	// (or was deleted). The doc is skipped.
	ProblemUnknownOwner = "unknown_owner"
	// ProblemDuplicateDoc: a second target doc for the same owner and month
	// (another user or device). Only the most recently updated one counts.
	ProblemDuplicateDoc = "duplicate_target_doc"
)
