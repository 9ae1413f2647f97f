package sandbox

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Import statuses of an ImportSummary (dhis2-core ImportSummary.java).
const (
	statusSuccess = "SUCCESS"
	statusWarning = "WARNING"
	statusError   = "ERROR"
)

// summary is an ImportSummary under construction.
type summary struct {
	v               version
	status          string
	description     string // "" is omitted
	importOptions   obj    // nil is omitted
	imported        int
	updated         int
	ignored         int
	deleted         int
	conflicts       []*conflict
	byKey           map[string]*conflict
	rejected        []int
	rejectedSet     map[int]bool
	dataSetComplete string // "" is omitted
}

func newSummary(v version) *summary {
	return &summary{v: v, status: statusSuccess, byKey: map[string]*conflict{}, rejectedSet: map[int]bool{}}
}

// conflict is an ImportConflict. The same error for the same objects is
// merged into one conflict with several indexes (dhis2-core WebMessage and ImportConflict); ≤2.36 keeps a
// set of {object, value} pairs.
type conflict struct {
	code     string
	object   string
	objects  obj
	value    string
	property string
	indexes  []int
	key      string
	// plain: a conflict added as ImportConflict(object, value), as the
	// completeness import does in every version; only those two fields.
	plain bool
}

func (s *summary) addConflict(c *conflict) {
	if prev, ok := s.byKey[c.key]; ok {
		prev.indexes = append(prev.indexes, c.indexes...)
		return
	}
	s.byKey[c.key] = c
	s.conflicts = append(s.conflicts, c)
}

func (s *summary) reject(index int) {
	if index < 0 || s.rejectedSet[index] {
		return
	}
	s.rejectedSet[index] = true
	s.rejected = append(s.rejected, index)
}

// json renders the ImportSummary in the shape of the server's version.
func (s *summary) json() obj {
	o := obj{{"responseType", "ImportSummary"}, {"status", s.status}}
	if s.importOptions != nil {
		o = o.set("importOptions", s.importOptions)
	}
	if s.description != "" {
		o = o.set("description", s.description)
	}
	o = o.set("importCount", obj{{"imported", s.imported}, {"updated", s.updated}, {"ignored", s.ignored}, {"deleted", s.deleted}})
	cs := make([]obj, 0, len(s.conflicts))
	for _, c := range s.conflicts {
		cs = append(cs, c.json(s.v))
	}
	o = o.set("conflicts", cs)
	if s.v.rejectedIndexes() {
		r := s.rejected
		if r == nil {
			r = []int{}
		}
		o = o.set("rejectedIndexes", r)
	}
	if s.dataSetComplete != "" {
		o = o.set("dataSetComplete", s.dataSetComplete)
	}
	return o
}

func (c *conflict) json(v version) obj {
	switch {
	case !v.richConflicts() || c.plain:
		return obj{{"object", c.object}, {"value", c.value}}
	case v.newImporter():
		o := obj{{"objects", c.objects}, {"value", c.value}, {"errorCode", c.code}}
		if len(c.indexes) > 0 {
			o = o.set("indexes", c.indexes)
		}
		return o
	}
	o := obj{}
	if c.object != "" {
		o = o.set("object", c.object)
	}
	o = o.set("objects", c.objects).set("value", c.value).set("errorCode", c.code)
	if c.property != "" {
		o = o.set("property", c.property)
	}
	if len(c.indexes) > 0 {
		o = o.set("indexes", c.indexes)
	}
	return o
}

// importWebMessage wraps a summary as WebMessageUtils.importSummary does
// (dhis2-core DataValueSetController and WebMessageUtils): SUCCESS → 200 OK, WARNING/ERROR → 409.
func importWebMessage(s *summary) (int, obj) {
	switch s.status {
	case statusSuccess:
		return http.StatusOK, webMessage(http.StatusOK, "OK", "Import was successful.").set("response", s.json())
	case statusWarning:
		return http.StatusConflict, webMessage(http.StatusConflict, "WARNING", "One more conflicts encountered, please check import summary.").set("response", s.json())
	}
	return http.StatusConflict, webMessage(http.StatusConflict, "ERROR", "An error occurred, please check import summary.").set("response", s.json())
}

// webMessage is the DHIS2 WebMessage: httpStatus, httpStatusCode, status,
// message (dhis2-core WebMessage and ImportConflict; DHIS2 Web API docs, authentication).
func webMessage(code int, status, message string) obj {
	return obj{{"httpStatus", http.StatusText(code)}, {"httpStatusCode", code}, {"status", status}, {"message", message}}
}

// conflictKind describes one E76xx conflict of the 2.36–2.42 importer:
// its message template, the kinds of its arguments (an object type named
// as in the DHIS2 schema, "i18n" for a message key, or "" for a plain
// argument), its property, and the 2.36 {object, value} form.
type conflictKind struct {
	template string
	args     []string
	property string
	legacy   func(a []string, raw, user string) (object, value string)
}

var conflictKinds = map[string]conflictKind{
	"E7600": {"Data set not found or not accessible: `{0}`", []string{"dataSet"}, "dataSet",
		func(a []string, _, _ string) (string, string) { return a[0], "Data set not found or not accessible" }},
	"E7603": {"Org unit not found or not accessible: `{0}`", []string{"organisationUnit"}, "orgUnit",
		func(a []string, _, _ string) (string, string) { return a[0], "Org unit not found or not accessible" }},
	"E7604": {"Attribute option combo not found or not accessible: `{0}`", []string{"categoryOptionCombo"}, "attributeOptionCombo",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Attribute option combo not found or not accessible"
		}},
	"E7610": {"Data element not found or not accessible: `{0}`", []string{"dataElement"}, "dataElement",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Data element not found or not accessible"
		}},
	"E7611": {"Period not valid: `{0}`", []string{"period"}, "period",
		func(a []string, _, _ string) (string, string) { return a[0], "Period not valid" }},
	"E7612": {"Organisation unit not found or not accessible: `{0}`", []string{"organisationUnit"}, "orgUnit",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Organisation unit not found or not accessible"
		}},
	"E7613": {"Category option combo not found or not accessible for writing data: `{0}`", []string{"categoryOptionCombo"}, "categoryOptionCombo",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Category option combo not found or not accessible for writing data"
		}},
	"E7615": {"Attribute option combo not found or not accessible for writing data: `{0}`", []string{"categoryOptionCombo"}, "attributeOptionCombo",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Attribute option combo not found or not accessible for writing data"
		}},
	"E7617": {"Organisation unit: `{0}` not in hierarchy of current user: `{1}`", []string{"organisationUnit", "user"}, "orgUnit",
		func(a []string, _, user string) (string, string) {
			return a[0], "Organisation unit not in hierarchy of current user: " + user
		}},
	"E7618": {"Data value or comment not specified for data element: `{0}`", []string{"dataElement"}, "value",
		func(a []string, _, _ string) (string, string) {
			return "Value", "Data value or comment not specified for data element: " + a[0]
		}},
	"E7619": {"", []string{"dataElement", "i18n"}, "value",
		func(a []string, raw, _ string) (string, string) {
			return raw, translate(a[1]) + ", must match data element type: " + a[0]
		}},
	"E7620": {"Invalid comment: {0}", []string{"i18n"}, "comment",
		func(a []string, _, _ string) (string, string) { return "Comment", translate(a[0]) }},
	"E7621": {"Data value is not a valid option of the data element option set: `{0}`", []string{"dataElement"}, "value",
		func(a []string, raw, _ string) (string, string) {
			return raw, "Data value is not a valid option of the data element option set: " + a[0]
		}},
	"E7630": {"Category option combo is required but is not specified", nil, "categoryOptionCombo",
		func(_ []string, raw, _ string) (string, string) {
			return raw, "Category option combo is required but is not specified"
		}},
	"E7631": {"Attribute option combo is required but is not specified", nil, "attributeOptionCombo",
		func(_ []string, raw, _ string) (string, string) {
			return raw, "Attribute option combo is required but is not specified"
		}},
	"E7632": {"Period type of period: `{0}` not valid for data element: `{1}`", []string{"period", "dataElement"}, "",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Period type of period: " + a[0] + " not valid for data element: " + a[1]
		}},
	"E7633": {"Data element: `{0}` is not part of dataset: `{1}`", []string{"dataElement", "dataSet"}, "dataElement",
		func(a []string, _, _ string) (string, string) {
			return "DATA_IMPORT_STRICT_DATA_ELEMENTS", "Data element: " + a[0] + " is not part of dataset: " + a[1]
		}},
	"E7634": {"Category option combo: `{0}` must be part of category combo of data element: `{1}`", []string{"categoryOptionCombo", "dataElement"}, "categoryOptionCombo",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Category option combo: " + a[0] + " must be part of category combo of data element: " + a[1]
		}},
	"E7635": {"Attribute option combo: `{0}` must be part of category combo of data sets of data element: `{1}`", []string{"categoryOptionCombo", "dataElement"}, "attributeOptionCombo",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Attribute option combo: " + a[0] + " must be part of category combo of data sets of data element: " + a[1]
		}},
	"E7636": {"Data element: `{1}` must be assigned through data sets to organisation unit: `{0}`", []string{"organisationUnit", "dataElement"}, "orgUnit",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Data element: " + a[1] + " must be assigned through data sets to organisation unit: " + a[0]
		}},
	"E7637": {"Invalid storedBy: {0}", []string{"i18n"}, "storedBy",
		func(a []string, raw, _ string) (string, string) { return raw, translate(a[0]) }},
	"E7640": {"Current date is past expiry days for period: `{0}`  and data set: `{1}`", []string{"period", "dataSet"}, "period",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Current date is past expiry days for period " + a[0] + " and data set: " + a[1]
		}},
	"E7641": {"Period: `{0}` is after latest open future period: `{2}` for data element: `{1}`", []string{"period", "dataElement"}, "period",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Period: " + a[0] + " is after latest open future period: " + a[2] + " for data element: " + a[1]
		}},
	"E7642": {"Data is already approved for data set: `{3}` period: `{1}` organisation unit: `{0}` attribute option combo: `{2}`", []string{"organisationUnit", "period", "categoryOptionCombo", "dataSet"}, "",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Data is already approved for data set: " + a[3] + " period: " + a[1] + " organisation unit: " + a[0] + " attribute option combo: " + a[2]
		}},
	"E7643": {"Period: `{0}` is not open for this data set at this time: `{1}`", []string{"period", "dataSet"}, "period",
		func(a []string, _, _ string) (string, string) {
			return a[0], "Period: " + a[0] + " is not open for this data set at this time: " + a[1]
		}},
}

// format fills MessageFormat-style placeholders {0}, {1}, … with args.
func format(template string, args []string) string {
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		if template[i] == '{' {
			if j := strings.IndexByte(template[i:], '}'); j > 0 {
				if n, err := strconv.Atoi(template[i+1 : i+j]); err == nil {
					if n < len(args) {
						b.WriteString(args[n])
					}
					i += j
					continue
				}
			}
		}
		b.WriteByte(template[i])
	}
	return b.String()
}

// newConflict builds an E76xx conflict for the value at index (-1: data
// set level) as the server's version renders it. raw is the offending raw
// input, used by the 2.36 {object, value} form; user is the username.
func newConflict(v version, index int, code, raw, user string, args ...string) *conflict {
	k, ok := conflictKinds[code]
	if !ok {
		panic("sandbox: unknown conflict code " + code)
	}
	c := &conflict{code: code}
	if index >= 0 {
		c.indexes = []int{index}
	}
	if !v.richConflicts() {
		c.object, c.value = k.legacy(args, raw, user)
		c.key = c.object + ":" + c.value
		return c
	}
	shown := append([]string(nil), args...)
	objects := obj{}
	for i, kind := range k.args {
		if i >= len(args) {
			break
		}
		switch kind {
		case "i18n":
			if _, dup := objects.get(k.property); !dup && k.property != "" {
				objects = objects.set(k.property, args[i])
			}
			shown[i] = translate(args[i])
		case "":
			if k.property != "" {
				objects = objects.set(k.property, args[i])
			}
		default:
			objects = objects.set(kind, args[i])
		}
	}
	template := k.template
	if code == "E7619" {
		template = v.e7619Template()
	}
	c.objects = objects
	if len(objects) > 0 {
		c.object, _ = objects[0].v.(string)
	}
	c.value = format(template, shown)
	c.property = k.property
	var vals []string
	for _, e := range objects {
		vals = append(vals, fmt.Sprint(e.v))
	}
	c.key = code + ":" + strings.Join(vals, ":")
	return c
}

// newEntryConflict builds a conflict of the 2.43 data entry pipeline: no
// object or property, objects {"args": args joined by "-"} (dhis2-core 2.43 DataEntryPipeline).
func newEntryConflict(indexes []int, code string, args ...string) *conflict {
	msg, ok := entryMessages[code]
	if !ok {
		panic("sandbox: unknown 2.43 conflict code " + code)
	}
	return &conflict{
		code:    code,
		objects: obj{{"args", strings.Join(args, "-")}},
		value:   format(msg, args),
		indexes: indexes,
		key:     fmt.Sprintf("%s:%v:%v", code, args, indexes),
	}
}

// entryMessages are the 2.43 E80xx/E81xx messages. The codes and what
// they mean are from dhis2-core 2.43 DataEntryPipeline; the wording is the sandbox's own (the
// spec does not give it), so clients must key on errorCode.
var entryMessages = map[string]string{
	"E7611": "Period not valid: `{0}`",
	"E8000": "Import was atomic and failed: only {0} of {1} values were valid: {2}",
	"E8002": "Data set auto-detection found more than one data set: `{0}`",
	"E8003": "Data set auto-detection found no data set for data elements: `{0}`",
	"E8004": "Data set is not a valid UID: `{0}`",
	"E8005": "Data set not found: `{0}`",
	"E8009": "Complete date requires data set, org unit, period and attribute option combo of the group",
	"E8011": "User has no data write access for org units: `{0}`",
	"E8020": "Data set `{0}` does not contain data elements: `{1}`",
	"E8021": "Data set `{0}` does not allow periods: `{1}`",
	"E8022": "Data set `{0}` is not assigned to org units: `{1}`",
	"E8023": "Data set `{0}` does not use attribute option combos: `{1}`",
	"E8024": "Data set `{0}` data element `{1}` does not use category option combos: `{2}`",
	"E8030": "Data set `{0}` is not open for data entry for periods: `{1}`",
	"E8031": "Org unit `{0}` is closed for periods: `{1}`",
	"E8033": "Data is already approved for attribute option combo `{0}`, org unit `{1}` and periods: `{2}`",
	"E8100": "Value #{0} has no period",
	"E8102": "Value #{0} has no data element",
	"E8103": "Value #{0} data element not found: `{1}`",
	"E8104": "Value #{0} data element is not a valid UID: `{1}`",
	"E8105": "Value #{0} has no org unit",
	"E8106": "Value #{0} org unit is not a valid UID: `{1}`",
	"E8107": "Value #{0} org unit not found: `{1}`",
	"E8108": "Value #{0} category option combo not found: `{1}`",
	"E8109": "Value #{0} category option combo is not a valid UID: `{1}`",
	"E8110": "Value #{0} attribute option combo not found: `{1}`",
	"E8111": "Value #{0} attribute option combo is not a valid UID: `{1}`",
	"E8120": "Value #{0} has no value",
	"E8122": "Value #{0} `{1}` is not valid for value type {2}: {3}",
	"E8123": "Value #{0} `{1}` is not an option of data element `{2}`",
	"E8125": "Value #{0} comment is longer than {1} characters",
	"E8128": "Values #{0} have the same key: `{1}`",
}

// javaList renders a list as Java's List.toString does: "[a, b]".
func javaList(items []string) string { return "[" + strings.Join(items, ", ") + "]" }
