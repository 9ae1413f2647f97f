package sandbox

// Mongoose-style documents. Core stores mediators, channels, clients and
// transactions through mongoose 6 schemas: values are cast to the field
// types (numeric strings become numbers, unknown keys are dropped, defaults
// filled in), and inserts are validated (required, enum, min, max). Updates
// (findByIdAndUpdate without runValidators) only cast. This file carries the
// schemas of OpenHIM core src/api/mediators.js; OpenHIM core src/model/channels.js and that cast/validate step, with
// mongoose's error wording.

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

type kind int

const (
	kString kind = iota
	kNumber
	kBool
	kDate
	kObjectID
	kMixed
	kArray
	kDoc
)

// field is one schema path.
type field struct {
	name     string
	kind     kind
	elem     *field  // kArray: the element type
	doc      []field // kDoc: the subdocument's fields
	required bool
	enum     []string
	min, max *float64
	def      any  // default, for missing values
	noID     bool // kDoc: no automatic _id
}

func num(f float64) *float64 { return &f }

func str(name string) field              { return field{name: name, kind: kString} }
func number(name string) field           { return field{name: name, kind: kNumber} }
func boolean(name string) field          { return field{name: name, kind: kBool} }
func arrayOf(name string, e field) field { return field{name: name, kind: kArray, elem: &e} }
func docArray(name string, d []field) field {
	return field{name: name, kind: kArray, elem: &field{name: name, kind: kDoc, doc: d}}
}

// routeFields is RouteDef of core v8 (core:src/model/channels.js): host and
// port optional, type http or kafka (OpenHIM core src/model/channels.js).
var routeFields = []field{
	{name: "name", kind: kString, required: true},
	{name: "type", kind: kString, def: "http", enum: []string{"http", "kafka"}},
	{name: "cert", kind: kObjectID},
	{name: "status", kind: kString, def: "enabled", enum: []string{"enabled", "disabled"}},
	boolean("secured"),
	str("host"),
	{name: "port", kind: kNumber, min: num(0), max: num(65536)},
	str("path"),
	str("pathTransform"),
	boolean("primary"),
	str("username"),
	str("password"),
	{name: "forwardAuthHeader", kind: kBool, def: false},
	boolean("waitPrimaryResponse"),
	str("statusCodesCheck"),
	str("kafkaClientId"),
	str("kafkaTopic"),
}

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// channelFields is ChannelDef (OpenHIM core src/model/channels.js).
var channelFields = []field{
	{name: "name", kind: kString, required: true},
	str("description"),
	{name: "urlPattern", kind: kString, required: true},
	{name: "isAsynchronousProcess", kind: kBool, def: false},
	{name: "maxBodyAgeDays", kind: kNumber, min: num(1), max: num(36500)},
	{name: "lastBodyCleared", kind: kDate},
	{name: "timeout", kind: kNumber, min: num(1), max: num(3600000)},
	arrayOf("methods", field{name: "methods", kind: kString, enum: httpMethods}),
	{name: "type", kind: kString, def: "http", enum: []string{"http", "tcp", "tls", "polling"}},
	{name: "priority", kind: kNumber, min: num(1)},
	{name: "tcpPort", kind: kNumber, min: num(0), max: num(65536)},
	str("tcpHost"),
	str("pollingSchedule"),
	boolean("requestBody"),
	boolean("responseBody"),
	arrayOf("allow", field{name: "allow", kind: kString, required: true}),
	arrayOf("whitelist", str("whitelist")),
	{name: "authType", kind: kString, def: "private", enum: []string{"private", "public"}},
	docArray("routes", routeFields),
	arrayOf("matchContentTypes", str("matchContentTypes")),
	str("matchContentRegex"),
	str("matchContentXpath"),
	str("matchContentJson"),
	str("matchContentValue"),
	arrayOf("properties", field{name: "properties", kind: kMixed}),
	arrayOf("txViewAcl", str("txViewAcl")),
	arrayOf("txViewFullAcl", str("txViewFullAcl")),
	arrayOf("txRerunAcl", str("txRerunAcl")),
	arrayOf("alerts", field{name: "alerts", kind: kMixed}),
	{name: "status", kind: kString, def: "enabled", enum: []string{"enabled", "disabled", "deleted"}},
	{name: "rewriteUrls", kind: kBool, def: false},
	{name: "addAutoRewriteRules", kind: kBool, def: true},
	arrayOf("rewriteUrlsConfig", field{name: "rewriteUrlsConfig", kind: kMixed}),
	{name: "autoRetryEnabled", kind: kBool, def: false},
	{name: "autoRetryPeriodMinutes", kind: kNumber, def: 60.0, min: num(1)},
	{name: "autoRetryMaxAttempts", kind: kNumber, min: num(0)},
	{name: "updatedBy", kind: kMixed},
}

var configParamTypes = []string{"string", "bool", "number", "option", "bigstring", "map", "struct", "password"}

// configDefFields is configDef (OpenHIM core src/api/mediators.js).
var configDefFields = []field{
	str("param"),
	str("displayName"),
	str("description"),
	{name: "type", kind: kString, enum: configParamTypes},
	arrayOf("values", str("values")),
	arrayOf("template", field{name: "template", kind: kMixed}),
	boolean("array"),
}

// mediatorFields is MediatorSchema (OpenHIM core src/api/mediators.js).
var mediatorFields = []field{
	{name: "urn", kind: kString, required: true},
	{name: "version", kind: kString, required: true},
	{name: "name", kind: kString, required: true},
	str("description"),
	docArray("endpoints", routeFields),
	docArray("defaultChannelConfig", channelFields),
	docArray("configDefs", configDefFields),
	{name: "config", kind: kMixed},
	{name: "_configModifiedTS", kind: kDate},
	number("_uptime"),
	{name: "_lastHeartbeat", kind: kDate},
}

// clientFields is the Client model (OpenHIM core src/middleware/basicAuthentication.js).
var clientFields = []field{
	{name: "clientID", kind: kString, required: true},
	str("clientDomain"),
	{name: "name", kind: kString, required: true},
	arrayOf("roles", str("roles")),
	str("customTokenID"),
	str("passwordAlgorithm"),
	str("passwordHash"),
	str("passwordSalt"),
	str("certFingerprint"),
	str("organization"),
	str("location"),
	str("softwareName"),
	str("description"),
	str("contactPerson"),
	str("contactPersonEmail"),
}

// userFields and passportFields are the User and Passport models (the
// parts the sandbox uses for API authentication, OpenHIM core src/api/authentication.js).
var userFields = []field{
	{name: "firstname", kind: kString, required: true},
	{name: "surname", kind: kString, required: true},
	{name: "email", kind: kString, required: true},
	arrayOf("groups", str("groups")),
	str("provider"),
	str("msisdn"),
	{name: "dailyReport", kind: kBool},
	{name: "weeklyReport", kind: kBool},
	{name: "settings", kind: kMixed},
}

var passportFields = []field{
	str("protocol"),
	{name: "email", kind: kString, required: true},
	str("password"),
	str("passwordAlgorithm"),
	str("passwordHash"),
	str("passwordSalt"),
	str("provider"),
	str("identifier"),
	{name: "tokens", kind: kMixed},
}

var contactGroupFields = []field{
	{name: "group", kind: kString, required: true},
	arrayOf("users", field{name: "users", kind: kMixed}),
}

// fieldError is one failed path.
type fieldError struct {
	path string // full path, e.g. endpoints.0.port
	msg  string
	cast bool
}

// validationError is mongoose's ValidationError.
type validationError struct {
	model string
	errs  []fieldError
}

func (e *validationError) Error() string {
	parts := make([]string, len(e.errs))
	for i, fe := range e.errs {
		parts[i] = fe.path + ": " + fe.msg
	}
	return "ValidationError: " + e.model + " validation failed: " + strings.Join(parts, ", ")
}

func (e *validationError) message() string { return strings.TrimPrefix(e.Error(), "ValidationError: ") }

// castError is mongoose's CastError (raised on updates).
type castError struct{ msg string }

func (e *castError) Error() string { return "CastError: " + e.msg }

// caster casts one document.
type caster struct {
	validate bool // insert: run required/enum/min/max
	newID    func() string
	errs     []fieldError
}

// castInsert casts and validates a new document (new Model(doc).save()).
func castInsert(model string, fields []field, v any, newID func() string) (*object, error) {
	c := &caster{validate: true, newID: newID}
	o, _ := v.(*object)
	if o == nil {
		o = newObject()
	}
	out := c.doc(fields, o, "", true)
	if len(c.errs) > 0 {
		return nil, &validationError{model: model, errs: c.errs}
	}
	return out, nil
}

// castUpdate casts the keys present in an update ({$set: doc}); only cast
// errors fail it, as findByIdAndUpdate runs no validators.
func castUpdate(fields []field, v any, newID func() string) (*object, error) {
	c := &caster{newID: newID}
	o, _ := v.(*object)
	if o == nil {
		o = newObject()
	}
	out := c.doc(fields, o, "", false)
	for _, fe := range c.errs {
		if fe.cast {
			return nil, &castError{fe.msg}
		}
	}
	return out, nil
}

func (c *caster) fail(path, msg string, cast bool) {
	c.errs = append(c.errs, fieldError{path: path, msg: msg, cast: cast})
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// doc casts the fields of o; defaults fills missing paths (new documents
// and new subdocuments).
func (c *caster) doc(fields []field, o *object, prefix string, defaults bool) *object {
	out := newObject()
	for _, f := range fields {
		raw, present := o.get(f.name)
		path := join(prefix, f.name)
		if !present {
			if !defaults {
				continue
			}
			switch {
			case f.def != nil:
				out.set(f.name, f.def)
			case f.kind == kArray:
				out.set(f.name, []any{})
			}
			if c.validate && f.required {
				c.fail(path, fmt.Sprintf("Path `%s` is required.", f.name), false)
			}
			continue
		}
		out.set(f.name, c.value(f, raw, path, defaults))
	}
	return out
}

var hexID = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

func valueType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *object:
		return "Object"
	case []any:
		return "Array"
	}
	return typeOf(v)
}

func (c *caster) castFail(kindName string, f field, v any, path string) any {
	s := inspect(v)
	s = strings.TrimPrefix(strings.TrimSuffix(s, "'"), "'")
	c.fail(path, fmt.Sprintf(`Cast to %s failed for value "%s" (type %s) at path "%s"`, kindName, s, valueType(v), f.name), true)
	return undefined
}

// value casts one value and, for inserts, validates it.
func (c *caster) value(f field, v any, path string, defaults bool) any {
	if _, u := v.(undef); u {
		return v
	}
	out := c.castValue(f, v, path, defaults)
	if _, u := out.(undef); u || !c.validate {
		return out
	}
	c.check(f, out, path)
	return out
}

func (c *caster) check(f field, v any, path string) {
	if f.required {
		if s, ok := v.(string); v == nil || (ok && s == "") {
			c.fail(path, fmt.Sprintf("Path `%s` is required.", f.name), false)
			return
		}
	}
	if s, ok := v.(string); ok && f.enum != nil {
		found := false
		for _, e := range f.enum {
			found = found || e == s
		}
		if !found {
			c.fail(path, fmt.Sprintf("`%s` is not a valid enum value for path `%s`.", s, f.name), false)
		}
	}
	if n, ok := v.(float64); ok {
		if f.min != nil && n < *f.min {
			c.fail(path, fmt.Sprintf("Path `%s` (%s) is less than minimum allowed value (%s).", f.name, jsNumber(n), jsNumber(*f.min)), false)
		}
		if f.max != nil && n > *f.max {
			c.fail(path, fmt.Sprintf("Path `%s` (%s) is more than maximum allowed value (%s).", f.name, jsNumber(n), jsNumber(*f.max)), false)
		}
	}
}

func (c *caster) castValue(f field, v any, path string, defaults bool) any {
	if v == nil {
		return nil
	}
	switch f.kind {
	case kMixed:
		return v
	case kString:
		switch x := v.(type) {
		case string:
			return x
		case float64, bool:
			return jsString(x)
		}
		return c.castFail("string", f, v, path)
	case kNumber:
		switch x := v.(type) {
		case float64:
			return x
		case bool:
			if x {
				return 1.0
			}
			return 0.0
		case string:
			if x == "" {
				return nil
			}
			if n := jsToNumber(x); !math.IsNaN(n) {
				return n
			}
		}
		return c.castFail("Number", f, v, path)
	case kBool:
		switch x := v.(type) {
		case bool:
			return x
		case string:
			switch x {
			case "true", "1", "yes":
				return true
			case "false", "0", "no":
				return false
			}
		case float64:
			switch x {
			case 1:
				return true
			case 0:
				return false
			}
		}
		return c.castFail("Boolean", f, v, path)
	case kDate:
		if t, ok := castDate(v); ok {
			return t
		}
		if s, ok := v.(string); ok && s == "" {
			return nil
		}
		return c.castFail("date", f, v, path)
	case kObjectID:
		if s, ok := v.(string); ok && hexID.MatchString(s) {
			return strings.ToLower(s)
		}
		return c.castFail("ObjectId", f, v, path)
	case kDoc:
		o, ok := v.(*object)
		if !ok {
			return c.castFail("Embedded", f, v, path)
		}
		out := c.doc(f.doc, o, path, true)
		if !f.noID && c.newID != nil {
			id := c.newID()
			if raw, ok := o.get("_id"); ok {
				if s, ok := raw.(string); ok && hexID.MatchString(s) {
					id = strings.ToLower(s)
				}
			}
			withID := newObject()
			withID.set("_id", id)
			for _, k := range out.keys {
				withID.set(k, out.vals[k])
			}
			out = withID
		}
		return out
	case kArray:
		arr, ok := v.([]any)
		if !ok {
			arr = []any{v} // mongoose wraps a single value
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			ep := fmt.Sprintf("%s.%d", path, i)
			if e == nil && f.elem.kind != kDoc {
				out[i] = nil
				if c.validate && f.elem.required {
					c.fail(ep, fmt.Sprintf("Path `%s` is required.", f.elem.name), false)
				}
				continue
			}
			out[i] = c.value(*f.elem, e, ep, defaults)
		}
		return out
	}
	return v
}

// jsDate is a stored Date; it marshals as JavaScript's Date#toJSON does.
type jsDate time.Time

func (d jsDate) MarshalJSON() ([]byte, error) {
	return []byte(`"` + isoTime(time.Time(d)) + `"`), nil
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// castDate is mongoose's Date cast: numbers are epoch milliseconds, strings
// go through Date parsing.
func castDate(v any) (jsDate, bool) {
	switch x := v.(type) {
	case jsDate:
		return x, true
	case float64:
		if math.Abs(x) > 8.64e15 {
			return jsDate{}, false
		}
		return jsDate(time.UnixMilli(int64(x)).UTC()), true
	case string:
		if n := jsToNumber(x); x != "" && !math.IsNaN(n) && (n >= 275761 || n < -271820) {
			return castDate(n)
		}
		t, ok := parseJSDate(x)
		return jsDate(t), ok
	}
	return jsDate{}, false
}

// jsDateLayouts are the string forms Date parses that a client may send:
// ISO 8601 (any number of fraction digits, as V8 accepts), date only, and
// the RFC 1123 / Date#toString forms. Times without an offset are read as
// UTC (V8 reads them in the server's zone; the sandbox's zone is UTC).
var jsDateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
	"2006",
	time.RFC1123,
	time.RFC1123Z,
	"Mon Jan 02 2006 15:04:05 GMT-0700",
	"Mon Jan 2 2006 15:04:05 GMT-0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
}

func parseJSDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " ("); i > 0 { // Date#toString's "(Zone Name)"
		s = s[:i]
	}
	for _, l := range jsDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func timeOf(d jsDate) time.Time { return time.Time(d) }
