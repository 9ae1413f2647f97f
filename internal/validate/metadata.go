// Package validate checks computed data values against a snapshot of DHIS2
// metadata before anything is pushed: value type, data element membership,
// category option combos, org unit assignment and period. It is pure: the
// metadata and "now" are passed in, problems come out as data.
package validate

import "time"

// Metadata is what DHIS2 says about one data set, as needed to check a push.
// The dhis2 package builds it from GET /api/dataSets/{id} (DHIS2 Web API docs, metadata).
type Metadata struct {
	DataSet DataSet
	// DataElements of the data set, by uid.
	DataElements map[string]DataElement
	// OrgUnits assigned to the data set, by uid.
	OrgUnits map[string]bool
	// DefaultCategoryOptionCombo is the uid of the "default" category option
	// combo of this DHIS2 (HllvX50cXC0 on new databases, but look it up). A
	// data value with no category or attribute option combo gets it.
	DefaultCategoryOptionCombo string
}

// DataSet is a DHIS2 data set.
type DataSet struct {
	ID         string
	Name       string
	PeriodType string // DHIS2 period type name: "Monthly", "Weekly", …
	// AttributeOptionCombos are the option combos of the data set's own
	// category combo (the attribute option combos a value may carry), by uid.
	// Empty means the default category combo: only the default combo (or
	// no attribute option combo at all) is accepted.
	AttributeOptionCombos map[string]bool
	// OpenFuturePeriods: 0 closes the current period (DHIS2 Web API docs, metadata);
	// 1 opens it, N opens it and N−1 future ones. Negative counts as 0.
	OpenFuturePeriods int
	// ExpiryDays: 0 (or less) never locks; otherwise a period locks once
	// now is after its last day + ExpiryDays.
	ExpiryDays int
	// DataInputPeriods, when not empty, are the only periods open for data
	// entry, each between its opening and closing dates (DHIS2's
	// DataSet.isDataInputPeriodAndDateAllowed). Empty: no restriction.
	DataInputPeriods []DataInputPeriod
	// Workflow is the uid of the data set's approval workflow; empty when
	// its data is never approved.
	Workflow string
}

// DataInputPeriod opens one period for data entry between two days. A zero
// date means no bound on that side.
type DataInputPeriod struct {
	Period      string
	OpeningDate time.Time
	ClosingDate time.Time
}

// DataElement is a data element of the data set.
type DataElement struct {
	ID        string
	Name      string
	ValueType string // DHIS2 value type: NUMBER, INTEGER, INTEGER_ZERO_OR_POSITIVE, …
	// CategoryOptionCombos valid for this data element inside the data set:
	// those of the dataSetElement's category combo override when set, else
	// the data element's own, by uid. Empty means the default category
	// combo: only the default combo (or none at all) is accepted.
	CategoryOptionCombos map[string]bool
	// HasOptionSet is true when values must be option codes; such data
	// elements cannot take CHT's numeric totals.
	HasOptionSet bool
	// ZeroIsSignificant is DHIS2's "store zero data values" setting.
	ZeroIsSignificant bool
	// AggregationType is DHIS2's aggregation type (SUM, AVERAGE, …).
	AggregationType string
}

// StoresZero reports whether DHIS2 keeps a zero sent for de: a numeric data
// element stores zeros only when zeroIsSignificant is set or its
// aggregation type is AVERAGE or AVERAGE_SUM_ORG_UNIT
// (ValidationUtils.dataValueIsZeroAndInsignificant in dhis2-core); a zero
// for any other one is skipped on import, or deletes the stored value.
// INTEGER_POSITIVE and INTEGER_NEGATIVE cannot hold a zero at all: DHIS2
// refuses it (E7619) before the zero rule is applied.
func (de DataElement) StoresZero() bool {
	switch de.ValueType {
	case "INTEGER_POSITIVE", "INTEGER_NEGATIVE":
		return false
	}
	return de.ZeroIsSignificant || de.AggregationType == "AVERAGE" || de.AggregationType == "AVERAGE_SUM_ORG_UNIT"
}
