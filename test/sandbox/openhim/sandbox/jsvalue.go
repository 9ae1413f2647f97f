package sandbox

// JavaScript value semantics. Core is JavaScript: request bodies are
// JSON.parse'd, then read with property access, truthiness, typeof and
// String(). To answer as core does for odd input (a urn that is a number,
// a config that is an array, headers that are a string…), bodies are
// decoded into the values below and inspected with the same rules.
//
// Values: nil (null), undefined, bool, float64, string, []any, *object.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// undef is JavaScript's undefined: a property that is not there.
type undef struct{}

var undefined = undef{}

// jsBuffer is a Node Buffer (a raw HTTP body that is not text).
type jsBuffer []byte

// object is a JSON object that keeps JavaScript's property order:
// array-index keys ascending, then the other keys in insertion order.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) get(k string) (any, bool) {
	if o == nil {
		return undefined, false
	}
	v, ok := o.vals[k]
	if !ok {
		return undefined, false
	}
	return v, true
}

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) del(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	o.keys = slices.DeleteFunc(o.keys, func(s string) bool { return s == k })
}

func (o *object) has(k string) bool { _, ok := o.vals[k]; return ok }

func isArrayIndex(k string) bool {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	n, _ := strconv.ParseUint(k, 10, 64)
	return n < math.MaxUint32
}

// ownKeys is Object.keys(o).
func (o *object) ownKeys() []string {
	var idx, rest []string
	for _, k := range o.keys {
		if isArrayIndex(k) {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	slices.SortFunc(idx, func(a, b string) int {
		x, _ := strconv.ParseUint(a, 10, 64)
		y, _ := strconv.ParseUint(b, 10, 64)
		return cmpUint(x, y)
	})
	return append(idx, rest...)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MarshalJSON writes the object as JSON.stringify does (key order kept,
// undefined members left out).
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range o.ownKeys() {
		v := o.vals[k]
		if _, u := v.(undef); u {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := marshalJS(v)
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalJS is JSON.stringify for a value (NaN and ±Infinity become null,
// undefined array members null).
func marshalJS(v any) ([]byte, error) {
	switch x := v.(type) {
	case undef:
		return []byte("null"), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return []byte("null"), nil
		}
		return []byte(jsNumber(x)), nil
	case []any:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			eb, err := marshalJS(e)
			if err != nil {
				return nil, err
			}
			b.Write(eb)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	case jsBuffer:
		return json.Marshal(string(x))
	}
	return json.Marshal(v)
}

// plain converts a JS value to plain Go values (map[string]any, []any, …)
// for the public API of the package.
func plain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.vals))
		for k, e := range x.vals {
			if _, u := e.(undef); u {
				continue
			}
			m[k] = plain(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case undef:
		return nil
	case jsBuffer:
		return string(x)
	}
	return v
}

// fromPlain converts plain Go values (as encoding/json decodes them, or
// built by a test) into JS values.
func fromPlain(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return undefined
	}
	out, err := parseJSON(b)
	if err != nil {
		return undefined
	}
	return out
}

// jsSyntaxError is a JSON.parse failure, worded as Node words it.
type jsSyntaxError struct{ msg string }

func (e *jsSyntaxError) Error() string { return e.msg }

// parseJSON is JSON.parse.
func parseJSON(data []byte) (any, error) {
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, jsonError(data, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, jsonError(data, err)
	}
	return v, nil
}

// jsonError words a syntax error as V8's JSON.parse (Node 18) does.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) && int(se.Offset) <= len(data) && !strings.Contains(se.Error(), "unexpected end") {
		return unexpectedAt(data, max(int(se.Offset)-1, 0))
	}
	return &jsSyntaxError{"Unexpected end of JSON input"}
}

func unexpectedAt(data []byte, off int) error {
	if off >= len(data) {
		return &jsSyntaxError{"Unexpected end of JSON input"}
	}
	r, _ := utf8.DecodeRune(data[off:])
	return &jsSyntaxError{fmt.Sprintf("Unexpected token %c in JSON at position %d", r, utf8.RuneCount(data[:off]))}
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := newObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o.set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, &json.SyntaxError{Offset: dec.InputOffset()}
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		return f, nil
	default:
		return t, nil // nil, bool, string
	}
}

// isNullish is `v == null`.
func isNullish(v any) bool {
	if v == nil {
		return true
	}
	_, u := v.(undef)
	return u
}

// truthy is JavaScript truthiness.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, undef:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}

// typeOf is the typeof operator.
func typeOf(v any) string {
	switch v.(type) {
	case undef:
		return "undefined"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	}
	return "object" // null, arrays, objects, buffers
}

func isArray(v any) bool { _, ok := v.([]any); return ok }

// jsTypeError builds a TypeError.
type jsError struct{ name, msg string }

func (e *jsError) Error() string { return e.name + ": " + e.msg }

func typeError(format string, a ...any) error {
	return &jsError{"TypeError", fmt.Sprintf(format, a...)}
}

// errString is `${err}` in a template literal: "Name: message".
func errString(err error) string {
	return errName(err) + ": " + errMessage(err)
}

// errMessage is err.message.
func errMessage(err error) string {
	var je *jsError
	var se *jsSyntaxError
	var ve *validationError
	var ce *castError
	switch {
	case errors.As(err, &je):
		return je.msg
	case errors.As(err, &se):
		return se.msg
	case errors.As(err, &ve):
		return ve.message()
	case errors.As(err, &ce):
		return ce.msg
	}
	return err.Error()
}

// errName is err.name.
func errName(err error) string {
	var je *jsError
	var se *jsSyntaxError
	var ve *validationError
	var ce *castError
	switch {
	case errors.As(err, &je):
		return je.name
	case errors.As(err, &se):
		return "SyntaxError"
	case errors.As(err, &ve):
		return "ValidationError"
	case errors.As(err, &ce):
		return "CastError"
	}
	return "Error"
}

// prop is `v[key]`, failing on null and undefined as JavaScript does.
func prop(v any, key string) (any, error) {
	switch v.(type) {
	case nil:
		return nil, typeError("Cannot read properties of null (reading '%s')", key)
	case undef:
		return nil, typeError("Cannot read properties of undefined (reading '%s')", key)
	}
	return get(v, key), nil
}

// get is `v[key]` for a value known not to be null or undefined.
func get(v any, key string) any {
	switch x := v.(type) {
	case *object:
		e, _ := x.get(key)
		return e
	case []any:
		if key == "length" {
			return float64(len(x))
		}
		if isArrayIndex(key) {
			i, _ := strconv.Atoi(key)
			if i < len(x) {
				return x[i]
			}
		}
	case string:
		if key == "length" {
			return float64(len([]rune(x)))
		}
		if isArrayIndex(key) {
			i, _ := strconv.Atoi(key)
			if r := []rune(x); i < len(r) {
				return string(r[i])
			}
		}
	case jsBuffer:
		if key == "length" {
			return float64(len(x))
		}
	}
	return undefined
}

// forInKeys is the key sequence of `for (const k in v)`.
func forInKeys(v any) []string {
	switch x := v.(type) {
	case *object:
		return x.ownKeys()
	case []any:
		keys := make([]string, len(x))
		for i := range x {
			keys[i] = strconv.Itoa(i)
		}
		return keys
	case string:
		n := len([]rune(x))
		keys := make([]string, n)
		for i := range n {
			keys[i] = strconv.Itoa(i)
		}
		return keys
	}
	return nil
}

// objectKeys is Object.keys(v) (throws on null and undefined).
func objectKeys(v any) ([]string, error) {
	if isNullish(v) {
		return nil, typeError("Cannot convert undefined or null to object")
	}
	return forInKeys(v), nil
}

// arrayFrom is Array.from(v) for the values a JSON body can hold.
func arrayFrom(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case string:
		var out []any
		for _, r := range x {
			out = append(out, string(r))
		}
		return out
	case *object:
		n, ok := x.get("length")
		f, isNum := n.(float64)
		if !ok || !isNum || f <= 0 || math.IsNaN(f) {
			return nil
		}
		out := make([]any, int(f))
		for i := range out {
			out[i] = get(x, strconv.Itoa(i))
		}
		return out
	}
	return nil
}

// jsString is String(v).
func jsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case undef:
		return "undefined"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return jsNumber(x)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if !isNullish(e) {
				parts[i] = jsString(e)
			}
		}
		return strings.Join(parts, ",")
	case jsBuffer:
		return string(x)
	}
	return "[object Object]"
}

// jsNumber formats a number as JavaScript's Number#toString does.
func jsNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	abs := math.Abs(f)
	if abs >= 1e21 || abs < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go: 1e+21, 1.5e-07; JavaScript: 1e+21, 1.5e-7.
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		return mant + "e" + string(sign) + exp
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// jsToNumber is Number(s) for a string.
func jsToNumber(s string) float64 {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0
	}
	switch t {
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	if len(t) > 2 && t[0] == '0' {
		base := 0
		switch t[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			n, err := strconv.ParseUint(t[2:], base, 64)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}
	}
	for _, r := range t {
		if !strings.ContainsRune("0123456789+-.eE", r) {
			return math.NaN()
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return math.NaN()
	}
	return f
}

// jsParseInt is parseInt(s, 10).
func jsParseInt(s string) float64 {
	t := strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	end := 0
	for end < len(t) && t[end] >= '0' && t[end] <= '9' {
		end++
	}
	if end == 0 {
		return math.NaN()
	}
	f, _ := strconv.ParseFloat(t[:end], 64)
	if neg {
		f = -f
	}
	return f
}

// inspect approximates util.inspect, used in mongoose cast messages.
func inspect(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case *object:
		keys := x.ownKeys()
		if len(keys) == 0 {
			return "{}"
		}
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + inspect(x.vals[k])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = inspect(e)
		}
		return "[ " + strings.Join(parts, ", ") + " ]"
	}
	return jsString(v)
}

// jsUnescape is JavaScript's global unescape(): %XX and %uXXXX.
func jsUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+6 <= len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
				if n, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
					b.WriteRune(rune(n))
					i += 5
					continue
				}
			}
			if i+3 <= len(s) {
				if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					b.WriteRune(rune(n))
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
