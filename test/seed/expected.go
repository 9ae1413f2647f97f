package seed

import (
	"cmp"
	"slices"
)

// DataValue is one value of an expected DHIS2 dataValueSet.
type DataValue struct {
	DataElement          string `json:"dataElement"`
	CategoryOptionCombo  string `json:"categoryOptionCombo,omitempty"`
	AttributeOptionCombo string `json:"attributeOptionCombo,omitempty"`
	OrgUnit              string `json:"orgUnit"`
	Value                int    `json:"value"`
}

// Expected returns the data values CHT's GET /api/v2/export/dhis gives for
// the demo district (without additions) for dataSet and month, computed from
// the generated values, not from the documents (CHT's api/src/services/export/dhis.js): every org unit
// whose config matches the data set gets one value per exported data element
// (zero filled), the sum of value.total of the CHWs below it. Sorted by org
// unit then data element; CHT's own order differs.
func (m *Manifest) Expected(dataSet string, month Month) []DataValue {
	type def struct {
		dhis DHIS
	}
	// Definitions by data element, in first-appearance order; the last
	// definition's attributes win (CHT's api/src/services/export/dhis.js step 8).
	var order []string
	defs := map[string]*def{}
	byTarget := map[string]string{} // target id → data element; last wins
	for _, t := range m.Targets {
		d, ok := t.ExportedFor(dataSet)
		if !ok {
			continue
		}
		if defs[d.DataElement] == nil {
			order = append(order, d.DataElement)
			defs[d.DataElement] = &def{}
		}
		defs[d.DataElement].dhis = d
		byTarget[t.ID] = d.DataElement
	}
	if len(order) == 0 {
		return nil
	}
	var out []DataValue
	for _, ou := range m.OrgUnits {
		if ou.DataSet != "" && ou.DataSet != dataSet {
			continue
		}
		sums := map[string]int{}
		for _, chw := range ou.CHWs {
			for _, v := range m.values[month][chw] {
				if de, ok := byTarget[v.ID]; ok {
					sums[de] += v.Value.Total
				}
			}
		}
		for _, de := range order {
			d := defs[de].dhis
			out = append(out, DataValue{
				DataElement:          de,
				CategoryOptionCombo:  d.CategoryOptionCombo,
				AttributeOptionCombo: d.AttributeOptionCombo,
				OrgUnit:              ou.ID,
				Value:                sums[de],
			})
		}
	}
	SortDataValues(out)
	return out
}

// SortDataValues sorts by org unit, data element, category option combo and
// attribute option combo, for order-insensitive comparison.
func SortDataValues(dv []DataValue) {
	slices.SortFunc(dv, func(a, b DataValue) int {
		return cmp.Or(
			cmp.Compare(a.OrgUnit, b.OrgUnit),
			cmp.Compare(a.DataElement, b.DataElement),
			cmp.Compare(a.CategoryOptionCombo, b.CategoryOptionCombo),
			cmp.Compare(a.AttributeOptionCombo, b.AttributeOptionCombo),
		)
	})
}
