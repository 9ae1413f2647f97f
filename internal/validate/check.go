package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"time"
)

// Value is one DHIS2 data value in wire form: Value is the string DHIS2
// receives. The JSON tags are the names of POST /api/dataValueSets.
type Value struct {
	DataElement string `json:"dataElement"`
	Period      string `json:"period"`
	OrgUnit     string `json:"orgUnit"`
	// CategoryOptionCombo and AttributeOptionCombo are uids; empty means
	// the default combo (Metadata.DefaultCategoryOptionCombo).
	CategoryOptionCombo  string `json:"categoryOptionCombo,omitempty"`
	AttributeOptionCombo string `json:"attributeOptionCombo,omitempty"`
	Value                string `json:"value"`
	// Attributes are further attributes copied from the CHT mapping
	// (comment, followUp, storedBy, …), passed through unchanged. Check
	// looks only at "comment": it must be a JSON string (or null) of at most
	// MaxCommentLength characters.
	Attributes map[string]json.RawMessage `json:"-"`
}

// Problem is one reason a value is not pushed. Problems are data, not
// errors: the caller reports them.
type Problem struct {
	// Code is one of the Code* constants; stable, for programs.
	Code string `json:"code"`
	// Message is one sentence a records officer understands, naming the
	// data element, org unit and value concerned.
	Message              string `json:"message"`
	OrgUnit              string `json:"orgUnit,omitempty"`
	DataElement          string `json:"dataElement,omitempty"`
	CategoryOptionCombo  string `json:"categoryOptionCombo,omitempty"`
	AttributeOptionCombo string `json:"attributeOptionCombo,omitempty"`
	Period               string `json:"period,omitempty"`
	Value                string `json:"value,omitempty"`
}

// Problem codes. Each names the DHIS2 conflict it predicts (the E76xx codes
// of dhis2-core ErrorCode.java, 2.37–2.42; 2.43 has its own E81xx/E80xx
// codes for the same cases). Those marked "strict" DHIS2 only raises with the matching
// strict* import option, so without this check it would store the value.
const (
	// CodeValueMissing: the value is empty or blank; DHIS2 would ignore it
	// or delete the stored value (dhis2-core DefaultDataValueSetService).
	CodeValueMissing = "value_missing"
	// CodeValueNotNumeric: the value is not written as a DHIS2 number
	// (plus sign, leading zero, exponent, separator, non-ASCII digits, …)
	// for a numeric value type (E7619).
	CodeValueNotNumeric = "value_not_numeric"
	// CodeValueTypeMismatch: the value does not fit its value type in
	// another way: a decimal for an integer type, "-0", a bad date or
	// boolean, an unknown value type (E7619).
	CodeValueTypeMismatch = "value_type_mismatch"
	// CodeValueOutOfRange: outside the 32-bit integer range, above 100 or
	// below 0 for PERCENTAGE, outside 0–1 for UNIT_INTERVAL, or a NUMBER
	// of 250 characters or more (E7619).
	CodeValueOutOfRange = "value_out_of_range"
	// CodeValueSign: the wrong sign for INTEGER_POSITIVE (zero counts as
	// wrong), INTEGER_NEGATIVE or INTEGER_ZERO_OR_POSITIVE (E7619).
	CodeValueSign = "value_sign"
	// CodeValueTooLong: the value is longer than MaxValueLength (E7619).
	CodeValueTooLong = "value_too_long"
	// CodeValueDuplicate: two or more values in the batch share data
	// element, period, org unit and both combos. DHIS2 2.43 reports them
	// (E8128), earlier versions silently keep the last; Check keeps none.
	CodeValueDuplicate = "value_duplicate"
	// CodeCommentInvalid: the comment attribute is not text or is longer
	// than MaxCommentLength (E7620).
	CodeCommentInvalid = "comment_invalid"
	// CodeDataElementNotInDataSet: the data element is not in the data set
	// (E7633, strict; or E7610 when it does not exist at all).
	CodeDataElementNotInDataSet = "data_element_not_in_data_set"
	// CodeDataElementNotNumeric: the data element's value type is not
	// numeric or it has an option set, so it cannot take a computed total.
	CodeDataElementNotNumeric = "data_element_not_numeric"
	// CodeCategoryOptionComboInvalid: the category option combo is not one
	// of the data element's (E7634, strict; E7613 when unknown).
	CodeCategoryOptionComboInvalid = "category_option_combo_invalid"
	// CodeAttributeOptionComboInvalid: the attribute option combo is not
	// one of the data set's (E7635, strict; E7615 when unknown).
	CodeAttributeOptionComboInvalid = "attribute_option_combo_invalid"
	// CodeOrgUnitNotAssigned: the org unit is not assigned to the data set
	// (E7636, strict).
	CodeOrgUnitNotAssigned = "org_unit_not_assigned"
	// CodePeriodInvalid: the period is not a well-formed ISO period (E7611).
	CodePeriodInvalid = "period_invalid"
	// CodePeriodTypeMismatch: a period of another type than the data
	// set's, e.g. weekly for a Monthly data set (E7632, strict).
	CodePeriodTypeMismatch = "period_type_mismatch"
	// CodePeriodFuture: the period ends after the latest period the data
	// set's openFuturePeriods opens; with 0, the current period, a month
	// that is not over yet (E7641).
	CodePeriodFuture = "period_future"
	// CodePeriodLocked: now is more than the data set's expiryDays after
	// the period's end (E7640; E8032 in 2.43). A warning from Locks: the
	// values are still sent, as a lock exception or the F_EDIT_EXPIRED
	// authority lets DHIS2 accept them.
	CodePeriodLocked = "period_locked"
	// CodePeriodNotOpen: the data set's data input periods do not open the
	// period now (E7643; E8030 in 2.43). DHIS2 refuses every value, so
	// none is sent.
	CodePeriodNotOpen = "period_not_open"
	// CodeUIDInvalid: a data element, org unit or combo id is missing or is
	// not a DHIS2 uid (2.43 refuses the whole payload for one bad id).
	CodeUIDInvalid = "uid_invalid"
)

// MaxCommentLength is the longest comment Check lets through. DHIS2
// 2.37–2.42 allow 50,000 characters, 2.43 only 5,000 (dhis2-core ErrorCode.java,
// dhis2-core 2.43 DataEntryPipeline); a longer comment makes DHIS2 refuse the whole value, so Check
// holds to the lower limit, which every version accepts.
const MaxCommentLength = 5_000

// Check checks every value against the data set's metadata md, with now
// as the current time (read in its own location: pass it in the DHIS2
// server's time zone). It returns the values without any problem, in
// input order, and every problem found, in input order, several per value
// when a value has several faults. A value with any problem is not in
// valid.
//
// For each value Check requires: well-formed uids; a data element of the
// data set, numeric (no option set) and a value its value type accepts
// (CheckValue); a category option combo of that data element and an
// attribute option combo of the data set (an empty one means the default,
// and an empty combo set in md means the default combo only); an org unit
// assigned to the data set; a well-formed period of the data set's period
// type, not after the latest open period; a valid comment attribute; and a
// key (data element, period, org unit, combos) no other value has. A zero
// for a data element that stores no zeros (DataElement.StoresZero) passes
// whatever its value type: it stands for "no value".
//
// Expiry days and data input periods are Locks' business. Check does not
// check what md does not carry: approval,
// category option dates and org unit restrictions, the user's org units
// and sharing. DHIS2 checks those on import.
func Check(md Metadata, values []Value, now time.Time) (valid []Value, problems []Problem) {
	c := newChecker(md, now)
	dup := c.duplicates(values)
	valid = make([]Value, 0, len(values))
	for i, v := range values {
		before := len(problems)
		problems = c.check(v, problems)
		if dup[i] {
			problems = append(problems, c.problem(CodeValueDuplicate, v, fmt.Sprintf(
				"%s for period %s appears more than once in this batch with the same combos; none of them is sent", c.describe(v), v.Period)))
		}
		if len(problems) == before {
			valid = append(valid, v)
		}
	}
	return valid, problems
}

type checker struct {
	md      Metadata
	ds      string // "data set "Name" (id)"
	monthly bool   // the data set takes monthly periods
	latest  Period // latest open period, when monthly
	now     time.Time
	periods map[string]periodVerdict
}

// periodVerdict is what Check concluded about one period string.
type periodVerdict struct {
	iso      string // canonical form, "" when malformed
	problems []codeMsg
}

type codeMsg struct{ code, msg string }

func newChecker(md Metadata, now time.Time) *checker {
	c := &checker{md: md, periods: map[string]periodVerdict{}}
	c.ds = label("data set", md.DataSet.Name, md.DataSet.ID)
	// now as a wall-clock instant in UTC, comparable with period dates.
	y, mo, d := now.Date()
	h, mi, s := now.Clock()
	c.now = time.Date(y, mo, d, h, mi, s, now.Nanosecond(), time.UTC)
	c.monthly = md.DataSet.PeriodType == PeriodTypeMonthly
	if c.monthly {
		// The latest open period is the current one − 1 + openFuturePeriods
		// (dhis2-core PeriodType.getFuturePeriod); a negative setting
		// counts as 0.
		c.latest = monthAt(c.now).Shift(max(md.DataSet.OpenFuturePeriods, 0) - 1)
	}
	return c
}

// periodType names the data set's period type for messages.
func (c *checker) periodType() string {
	if c.md.DataSet.PeriodType == "" {
		return "no"
	}
	return c.md.DataSet.PeriodType
}

// label renders "data element "ANC visits" (deANC000001)", or without the
// name when it is unknown.
func label(what, name, id string) string {
	switch {
	case name != "" && id != "":
		return fmt.Sprintf("%s %q (%s)", what, name, id)
	case name != "":
		return fmt.Sprintf("%s %q", what, name)
	case id != "":
		return what + " " + id
	}
	return "the " + what
}

func (c *checker) deLabel(id string) string {
	return label("data element", c.md.DataElements[id].Name, id)
}

// describe renders `value "5" of data element "ANC visits" (deANC000001)
// at org unit ouHC0000001`.
func (c *checker) describe(v Value) string {
	return fmt.Sprintf("value %q of %s at org unit %s", v.Value, c.deLabel(v.DataElement), v.OrgUnit)
}

func (c *checker) problem(code string, v Value, msg string) Problem {
	return Problem{
		Code: code, Message: msg,
		OrgUnit: v.OrgUnit, DataElement: v.DataElement,
		CategoryOptionCombo: v.CategoryOptionCombo, AttributeOptionCombo: v.AttributeOptionCombo,
		Period: v.Period, Value: v.Value,
	}
}

// check appends the problems of one value to ps.
func (c *checker) check(v Value, ps []Problem) []Problem {
	add := func(code, msg string) { ps = append(ps, c.problem(code, v, msg)) }

	deOK := c.checkUID(v, "data element", v.DataElement, false, add)
	ouOK := c.checkUID(v, "org unit", v.OrgUnit, false, add)
	cocOK := c.checkUID(v, "category option combo", v.CategoryOptionCombo, true, add)
	aocOK := c.checkUID(v, "attribute option combo", v.AttributeOptionCombo, true, add)

	if deOK {
		de, inSet := c.md.DataElements[v.DataElement]
		switch {
		case !inSet:
			add(CodeDataElementNotInDataSet, fmt.Sprintf("data element %s is not part of %s, so its value %q for org unit %s cannot be pushed; check the CHT mapping",
				v.DataElement, c.ds, v.Value, v.OrgUnit))
		case de.HasOptionSet:
			add(CodeDataElementNotNumeric, fmt.Sprintf("%s uses an option set, so it cannot take the computed value %q for org unit %s",
				c.deLabel(v.DataElement), v.Value, v.OrgUnit))
		case !IsNumeric(de.ValueType):
			add(CodeDataElementNotNumeric, fmt.Sprintf("%s has value type %s, not a number type, so it cannot take the computed value %q for org unit %s",
				c.deLabel(v.DataElement), de.ValueType, v.Value, v.OrgUnit))
		case IsZero(v.Value) && !de.StoresZero():
			// DHIS2 stores no zero for this data element: the zero means
			// "nothing", which the diff turns into no value (and deletes an
			// owned stored one), so it is no problem.
		default:
			if err := CheckValue(de.ValueType, v.Value); err != nil {
				ve := err.(*ValueError)
				add(ve.Code, fmt.Sprintf("%s %s, but the data element only takes %s", c.describe(v), ve.Reason, ve.Accepts))
			}
		}
		if inSet && cocOK && !comboAllowed(de.CategoryOptionCombos, c.md.DefaultCategoryOptionCombo, v.CategoryOptionCombo) {
			if v.CategoryOptionCombo == "" {
				add(CodeCategoryOptionComboInvalid, fmt.Sprintf("%s has no category option combo, which means the default, but %s has no default combo; set categoryOptionCombo in the CHT mapping",
					c.describe(v), c.deLabel(v.DataElement)))
			} else {
				add(CodeCategoryOptionComboInvalid, fmt.Sprintf("category option combo %s of %s is not one of the combos of the data element",
					v.CategoryOptionCombo, c.describe(v)))
			}
		}
	}
	if aocOK && !comboAllowed(c.md.DataSet.AttributeOptionCombos, c.md.DefaultCategoryOptionCombo, v.AttributeOptionCombo) {
		if v.AttributeOptionCombo == "" {
			add(CodeAttributeOptionComboInvalid, fmt.Sprintf("%s has no attribute option combo, which means the default, but %s has no default attribute combo; set attributeOptionCombo in the CHT mapping",
				c.describe(v), c.ds))
		} else {
			add(CodeAttributeOptionComboInvalid, fmt.Sprintf("attribute option combo %s of %s is not one of the attribute option combos of %s",
				v.AttributeOptionCombo, c.describe(v), c.ds))
		}
	}
	if ouOK && !c.md.OrgUnits[v.OrgUnit] {
		add(CodeOrgUnitNotAssigned, fmt.Sprintf("org unit %s is not assigned to %s, so its value %q of %s cannot be pushed",
			v.OrgUnit, c.ds, v.Value, c.deLabel(v.DataElement)))
	}
	for _, p := range c.period(v.Period).problems {
		add(p.code, p.msg)
	}
	if raw, ok := v.Attributes["comment"]; ok {
		if msg := checkComment(raw); msg != "" {
			add(CodeCommentInvalid, fmt.Sprintf("the comment on %s %s", c.describe(v), msg))
		}
	}
	return ps
}

// checkUID reports a missing or malformed id; optional ids may be empty.
func (c *checker) checkUID(v Value, what, id string, optional bool, add func(code, msg string)) bool {
	switch {
	case id == "" && optional:
		return true
	case id == "":
		add(CodeUIDInvalid, fmt.Sprintf("value %q for period %s has no %s", v.Value, v.Period, what))
		return false
	case !ValidUID(id):
		add(CodeUIDInvalid, fmt.Sprintf("%s %q of value %q is not a DHIS2 uid (11 letters and digits, starting with a letter)", what, id, v.Value))
		return false
	}
	return true
}

// comboAllowed reports whether combo may be used when the allowed combos
// are set and the default combo is def. An empty combo means the default.
// An empty set means the default category combo, whose only option combo
// is the default: then an empty combo is always fine (DHIS2 fills in its
// default), and an explicit one only when it is def.
func comboAllowed(set map[string]bool, def, combo string) bool {
	switch {
	case combo == "" && len(set) == 0:
		return true
	case combo == "":
		return def != "" && set[def]
	case len(set) == 0:
		return def != "" && combo == def
	}
	return set[combo]
}

// period checks one period string against the data set, once per string.
func (c *checker) period(s string) periodVerdict {
	if pv, ok := c.periods[s]; ok {
		return pv
	}
	var pv periodVerdict
	p, err := ParsePeriod(s)
	var pe *PeriodError
	switch {
	case errors.As(err, &pe) && pe.Type != "":
		pv.problems = append(pv.problems, codeMsg{CodePeriodTypeMismatch, fmt.Sprintf("period %q is %s, but %s takes %s periods", s, pe.Type, c.ds, c.periodType())})
	case err != nil:
		pv.problems = append(pv.problems, codeMsg{CodePeriodInvalid, err.Error()})
	case !c.monthly:
		pv.iso = p.ISO
		pv.problems = append(pv.problems, codeMsg{CodePeriodTypeMismatch, fmt.Sprintf(
			"%s takes %s periods, but CHT targets are monthly, so the mediator builds Monthly values (period %s): map the targets to a Monthly data set", c.ds, c.periodType(), p.ISO)})
	default:
		pv.iso = p.ISO
		if p.End.After(c.latest.End) {
			pv.problems = append(pv.problems, codeMsg{CodePeriodFuture, fmt.Sprintf(
				"period %s is not open yet: %s takes data up to %s (open future periods: %d)", s, c.ds, c.latest.ISO, c.md.DataSet.OpenFuturePeriods)})
		}
		// Expiry days and data input periods are not judged here: see
		// Locks, which knows what DHIS2 may still accept.
	}
	c.periods[s] = pv
	return pv
}

func checkComment(raw json.RawMessage) string {
	if string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "is not text"
	}
	if n := utf16Len(s); n > MaxCommentLength {
		return fmt.Sprintf("is %d characters long; DHIS2 takes at most %d", n, MaxCommentLength)
	}
	return ""
}

// valueKey is DHIS2's natural key of a data value, with empty combos read
// as the default and the period in canonical form.
type valueKey struct{ de, pe, ou, coc, aoc string }

func (c *checker) key(v Value) valueKey {
	k := valueKey{v.DataElement, v.Period, v.OrgUnit, v.CategoryOptionCombo, v.AttributeOptionCombo}
	if iso := c.period(v.Period).iso; iso != "" {
		k.pe = iso
	}
	if k.coc == "" {
		k.coc = c.md.DefaultCategoryOptionCombo
	}
	if k.aoc == "" {
		k.aoc = c.md.DefaultCategoryOptionCombo
	}
	return k
}

// duplicates returns the indexes of values whose key another value has.
// It keeps one 64-bit hash per value rather than the keys themselves, and
// compares keys on a hash match, so a collision cannot cause a false
// duplicate.
func (c *checker) duplicates(values []Value) map[int]bool {
	dup := map[int]bool{}
	seed := maphash.MakeSeed()
	first := make(map[uint64]int, len(values))
	var exact map[valueKey]int // keys whose hash collided with another key's
	for i, v := range values {
		k := c.key(v)
		sum := hashKey(seed, k)
		j, seen := first[sum]
		switch {
		case !seen:
			first[sum] = i
		case c.key(values[j]) == k:
			dup[i], dup[j] = true, true
		default:
			if exact == nil {
				exact = map[valueKey]int{}
			}
			if m, ok := exact[k]; ok {
				dup[i], dup[m] = true, true
			} else {
				exact[k] = i
			}
		}
	}
	return dup
}

// hashKey hashes a key; a variable so that a test can force collisions.
var hashKey = func(seed maphash.Seed, k valueKey) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, s := range [...]string{k.de, k.pe, k.ou, k.coc, k.aoc} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return h.Sum64()
}
