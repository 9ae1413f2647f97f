package export

import (
	"encoding/json"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

// DataValueSet is a DHIS2 data value set in DHIS2's JSON form. Every value is
// fully qualified (its own period and org unit), so the set-level fields only
// describe the set; they are left out when the set is pushed.
type DataValueSet struct {
	DataSet      string      `json:"dataSet"`
	CompleteDate string      `json:"completeDate,omitempty"`
	Period       string      `json:"period"`
	OrgUnit      string      `json:"orgUnit,omitempty"`
	DataValues   []DataValue `json:"dataValues"`
}

// DataValue is one DHIS2 data value. Value is a string, as DHIS2 documents it.
// Attributes are the extra attributes copied from the target's dhis config
// (comment, …); they never override the named fields.
type DataValue struct {
	DataElement          string
	Period               string
	OrgUnit              string
	CategoryOptionCombo  string
	AttributeOptionCombo string
	Value                string
	Attributes           map[string]json.RawMessage
}

// MarshalJSON writes the named fields first, then the copied attributes in
// key order, so output is stable and diffable.
func (v DataValue) MarshalJSON() ([]byte, error) {
	return v.appendJSON(nil, ""), nil
}

// reserved are the fields a copied attribute may not override.
var reserved = map[string]bool{
	"dataElement": true, "period": true, "orgUnit": true, "categoryOptionCombo": true,
	"attributeOptionCombo": true, "value": true, "dataSet": true,
}

// UnmarshalJSON reads a data value, keeping unknown fields as attributes.
func (v *DataValue) UnmarshalJSON(data []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	*v = DataValue{}
	for k, raw := range all {
		var s string
		dst := map[string]*string{
			"dataElement": &v.DataElement, "period": &v.Period, "orgUnit": &v.OrgUnit,
			"categoryOptionCombo": &v.CategoryOptionCombo, "attributeOptionCombo": &v.AttributeOptionCombo,
		}[k]
		switch {
		case dst != nil:
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			*dst = s
		case k == "value":
			// DHIS2 sends strings; CHT's own export sends numbers.
			if err := json.Unmarshal(raw, &s); err != nil {
				var n json.Number
				if err := json.Unmarshal(raw, &n); err != nil {
					return err
				}
				s = n.String()
			}
			v.Value = s
		case k == "dataSet":
		default:
			if v.Attributes == nil {
				v.Attributes = map[string]json.RawMessage{}
			}
			v.Attributes[k] = raw
		}
	}
	return nil
}

// wireValue converts a computed value into a DHIS2 data value of period.
func wireValue(dv aggregate.DataValue, period string) DataValue {
	return DataValue{
		DataElement:          dv.DataElement,
		Period:               period,
		OrgUnit:              dv.OrgUnit,
		CategoryOptionCombo:  dv.CategoryOptionCombo,
		AttributeOptionCombo: dv.AttributeOptionCombo,
		Value:                aggregate.FormatValue(dv.Value),
		Attributes:           dv.Attributes,
	}
}
