package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// dataValueSet is a decoded POST /api/dataValueSets body (DHIS2 Web API docs, data values).
// Keys are matched case-sensitively and unknown keys are ignored, as
// DHIS2's Jackson mapper does. "set" fields record which keys were given.
type dataValueSet struct {
	DataSet                  string
	CompleteDate             string
	Period                   string
	OrgUnit                  string
	AttributeOptionCombo     string
	AttributeCategoryOptions []string
	IDScheme                 string
	DataElementIDScheme      string
	OrgUnitIDScheme          string
	CategoryOptionComboIDS   string
	DataSetIDScheme          string
	DryRun                   *bool
	Strategy                 string
	DataValues               []dataValueIn
}

// dataValueIn is one entry of dataValues.
type dataValueIn struct {
	DataElement          string
	Period               string
	OrgUnit              string
	CategoryOptionCombo  string
	AttributeOptionCombo string
	Value                *string // nil: absent or null
	Comment              *string
	StoredBy             string
	Created              string
	LastUpdated          string
	Followup             bool
	Deleted              bool
}

func decodeDataValueSet(body []byte) (*dataValueSet, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: unexpected data after the data value set")
	}
	if top == nil {
		return nil, fmt.Errorf("invalid JSON: the body is not a data value set object")
	}
	var d dataValueSet
	var err error
	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s *string
		s, err = jsonString(top[key], key)
		if s == nil {
			return ""
		}
		return *s
	}
	d.DataSet = str("dataSet")
	d.CompleteDate = str("completeDate")
	d.Period = str("period")
	d.OrgUnit = str("orgUnit")
	d.AttributeOptionCombo = str("attributeOptionCombo")
	d.IDScheme = str("idScheme")
	d.DataElementIDScheme = str("dataElementIdScheme")
	d.OrgUnitIDScheme = str("orgUnitIdScheme")
	d.CategoryOptionComboIDS = str("categoryOptionComboIdScheme")
	d.DataSetIDScheme = str("dataSetIdScheme")
	d.Strategy = str("strategy")
	if err != nil {
		return nil, err
	}
	if raw, ok := top["dryRun"]; ok {
		b, ok, err := jsonBool(raw, "dryRun")
		if err != nil {
			return nil, err
		}
		if ok {
			d.DryRun = &b
		}
	}
	if raw := top["attributeCategoryOptions"]; raw != nil && string(raw) != "null" {
		if err := json.Unmarshal(raw, &d.AttributeCategoryOptions); err != nil {
			return nil, fmt.Errorf("attributeCategoryOptions: %w", err)
		}
	}
	if raw := top["dataValues"]; raw != nil && string(raw) != "null" {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("dataValues: %w", err)
		}
		for i, m := range list {
			v, err := decodeDataValue(m)
			if err != nil {
				return nil, fmt.Errorf("dataValues[%d]: %w", i, err)
			}
			d.DataValues = append(d.DataValues, v)
		}
	}
	return &d, nil
}

func decodeDataValue(m map[string]json.RawMessage) (dataValueIn, error) {
	var v dataValueIn
	var err error
	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s *string
		s, err = jsonString(m[key], key)
		if s == nil {
			return ""
		}
		return *s
	}
	v.DataElement = str("dataElement")
	v.Period = str("period")
	v.OrgUnit = str("orgUnit")
	v.CategoryOptionCombo = str("categoryOptionCombo")
	v.AttributeOptionCombo = str("attributeOptionCombo")
	v.StoredBy = str("storedBy")
	v.Created = str("created")
	v.LastUpdated = str("lastUpdated")
	if err != nil {
		return v, err
	}
	if v.Value, err = jsonString(m["value"], "value"); err != nil {
		return v, err
	}
	if v.Comment, err = jsonString(m["comment"], "comment"); err != nil {
		return v, err
	}
	if v.Followup, _, err = jsonBool(m["followup"], "followup"); err != nil {
		return v, err
	}
	if v.Deleted, _, err = jsonBool(m["deleted"], "deleted"); err != nil {
		return v, err
	}
	return v, nil
}

// jsonString reads a string field; like Jackson it coerces numbers and
// booleans to their text (a JSON 42 becomes "42").
func jsonString(raw json.RawMessage, key string) (*string, error) {
	if raw == nil {
		return nil, nil
	}
	t := strings.TrimSpace(string(raw))
	switch {
	case t == "null":
		return nil, nil
	case strings.HasPrefix(t, `"`):
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return &s, nil
	case t == "true" || t == "false" || strings.ContainsAny(t[:1], "-0123456789"):
		return &t, nil
	}
	return nil, fmt.Errorf("cannot deserialize value of type `java.lang.String` from %s token for %q",
		map[byte]string{'{': "Object", '[': "Array"}[t[0]], key)
}

func jsonBool(raw json.RawMessage, key string) (value, set bool, err error) {
	if raw == nil {
		return false, false, nil
	}
	switch strings.TrimSpace(string(raw)) {
	case "null":
		return false, false, nil
	case "true", `"true"`:
		return true, true, nil
	case "false", `"false"`:
		return false, true, nil
	}
	return false, false, fmt.Errorf("cannot deserialize value of type `boolean` from %s for %q", string(raw), key)
}

// importOptions are the data value import options (dhis2-core ImportOptions.java).
type importOptions struct {
	dryRun, async, force, skipExistingCheck, preheatCache, skipAudit, atomic  bool
	strategy                                                                  string
	idScheme, deScheme, ouScheme, cocScheme, dsScheme                         string // raw, "" when unset
	strictPeriods, strictDataElements, strictCOC, strictAOC, strictOrgUnits   bool
	strictApproval, strictLocking, strictInputPeriods, requireCOC, requireAOC bool
}

var strategies = map[string]string{
	"CREATE_AND_UPDATE": "CREATE_AND_UPDATE", "NEW_AND_UPDATES": "CREATE_AND_UPDATE", "SYNC": "CREATE_AND_UPDATE",
	"CREATE": "CREATE", "NEW": "CREATE", "UPDATE": "UPDATE", "UPDATES": "UPDATE", "DELETE": "DELETE", "DELETES": "DELETE",
}

func queryBool(q url.Values, key string) bool { return strings.EqualFold(q.Get(key), "true") }

func parseImportOptions(q url.Values) (importOptions, error) {
	o := importOptions{
		dryRun: queryBool(q, "dryRun"), async: queryBool(q, "async"), force: queryBool(q, "force"),
		skipExistingCheck: queryBool(q, "skipExistingCheck"), preheatCache: queryBool(q, "preheatCache"),
		skipAudit: queryBool(q, "skipAudit"), atomic: queryBool(q, "atomic"),
		idScheme: q.Get("idScheme"), deScheme: q.Get("dataElementIdScheme"), ouScheme: q.Get("orgUnitIdScheme"),
		cocScheme: q.Get("categoryOptionComboIdScheme"), dsScheme: q.Get("dataSetIdScheme"),
		strictPeriods: queryBool(q, "strictPeriods"), strictDataElements: queryBool(q, "strictDataElements"),
		strictCOC: queryBool(q, "strictCategoryOptionCombos"), strictAOC: queryBool(q, "strictAttributeOptionCombos"),
		strictOrgUnits: queryBool(q, "strictOrganisationUnits"), strictApproval: queryBool(q, "strictDataSetApproval"),
		strictLocking: queryBool(q, "strictDataSetLocking"), strictInputPeriods: queryBool(q, "strictDataSetInputPeriods"),
		requireCOC: queryBool(q, "requireCategoryOptionCombo"), requireAOC: queryBool(q, "requireAttributeOptionCombo"),
		strategy: "CREATE_AND_UPDATE",
	}
	raw := q.Get("importStrategy")
	if raw == "" {
		raw = q.Get("strategy")
	}
	if raw != "" {
		st, ok := strategies[strings.ToUpper(raw)]
		if !ok {
			return o, fmt.Errorf("Value '%s' is not a valid import strategy", raw)
		}
		o.strategy = st
	}
	return o, nil
}

// withPayload applies the body's own options, which override the URL
// ones (DHIS2 Web API docs, data values).
func (o importOptions) withPayload(d *dataValueSet) (importOptions, error) {
	if d.DryRun != nil {
		o.dryRun = *d.DryRun
	}
	if d.Strategy != "" {
		st, ok := strategies[strings.ToUpper(d.Strategy)]
		if !ok {
			return o, fmt.Errorf("cannot deserialize value of type `ImportStrategy` from String %q", d.Strategy)
		}
		o.strategy = st
	}
	for _, p := range []struct {
		dst *string
		src string
	}{{&o.idScheme, d.IDScheme}, {&o.deScheme, d.DataElementIDScheme}, {&o.ouScheme, d.OrgUnitIDScheme},
		{&o.cocScheme, d.CategoryOptionComboIDS}, {&o.dsScheme, d.DataSetIDScheme}} {
		if p.src != "" {
			*p.dst = p.src
		}
	}
	return o, nil
}

// scheme returns the effective scheme: the specific one, else the general.
func (o importOptions) scheme(specific string) idScheme {
	if specific != "" {
		return parseIDScheme(specific)
	}
	return parseIDScheme(o.idScheme)
}

// json renders the ImportOptions as DHIS2 echoes them in a summary.
func (o importOptions) json() obj {
	schemes := obj{}
	for _, p := range []struct{ name, v string }{{"idScheme", o.idScheme}, {"dataElementIdScheme", o.deScheme},
		{"orgUnitIdScheme", o.ouScheme}, {"categoryOptionComboIdScheme", o.cocScheme}, {"dataSetIdScheme", o.dsScheme}} {
		if p.v != "" {
			schemes = schemes.set(p.name, obj{{"type", string(parseIDScheme(p.v))}})
		}
	}
	return obj{
		{"idSchemes", schemes}, {"dryRun", o.dryRun}, {"preheatCache", o.preheatCache}, {"async", o.async},
		{"importStrategy", o.strategy}, {"mergeMode", "REPLACE"}, {"reportMode", "FULL"},
		{"skipExistingCheck", o.skipExistingCheck}, {"sharing", false}, {"skipNotifications", false},
		{"skipAudit", o.skipAudit}, {"datasetAllowsPeriods", false}, {"strictPeriods", o.strictPeriods},
		{"strictDataElements", o.strictDataElements}, {"strictCategoryOptionCombos", o.strictCOC},
		{"strictAttributeOptionCombos", o.strictAOC}, {"strictOrganisationUnits", o.strictOrgUnits},
		{"strictDataSetApproval", o.strictApproval}, {"strictDataSetLocking", o.strictLocking},
		{"strictDataSetInputPeriods", o.strictInputPeriods}, {"requireCategoryOptionCombo", o.requireCOC},
		{"requireAttributeOptionCombo", o.requireAOC}, {"skipPatternValidation", false},
		{"ignoreEmptyCollection", false}, {"force", o.force}, {"firstRowIsHeader", true},
		{"skipLastUpdated", false}, {"mergeDataValues", false}, {"skipCache", false},
	}
}
