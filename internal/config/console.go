package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// consoleSections are the sections of the configuration an operator may set
// from the OpenHIM console. mediator-config/mediator.json declares one
// configDef of type struct per section, whose template params are the YAML
// keys of that section. The other sections (server, openhim, log) only take
// effect at start-up, or would cut the mediator off from core, so the console
// cannot set them.
var consoleSections = []string{"cht", "dhis2", "export"}

// ConsoleMask is what core's GET /mediators/:urn shows instead of a password.
// Core puts the stored value back when the console sends it, so it should
// never reach the mediator; if it does, it is treated as "not set".
const ConsoleMask = "**********"

// ConsoleKey is the config key of template param of a section's configDef.
// Core does not nest structs, so a nested key is one flat param:
// ConsoleKey("cht", "breaker_failures") is "cht.breaker.failures".
func ConsoleKey(section, param string) string {
	key := section + "." + param
	if _, ok := fieldByKey(new(Config), key); ok {
		return key
	}
	if sub, rest, ok := strings.Cut(param, "_"); ok {
		nested := section + "." + sub + "." + rest
		if _, ok := fieldByKey(new(Config), nested); ok {
			return nested
		}
	}
	return key
}

// ConsoleParam is the configDef section and template param of a key, the
// inverse of ConsoleKey.
func ConsoleParam(key string) (section, param string) {
	section, rest, _ := strings.Cut(key, ".")
	return section, strings.ReplaceAll(rest, ".", "_")
}

// ConsoleKeys returns the keys the OpenHIM console may set, sorted.
func ConsoleKeys() []string {
	var keys []string
	for _, k := range Keys() {
		section, _, _ := strings.Cut(k, ".")
		if slices.Contains(consoleSections, section) {
			keys = append(keys, k)
		}
	}
	return keys
}

// ApplyConsole applies a configuration delivered by OpenHIM core (the shape
// of mediator.json's "config": {"cht": {"url": …}, "dhis2": {…}}) on top of c
// and returns the result.
//
// A non-empty value overrides c; an empty string, null, an absent param and
// the console's password mask never do, so the empty defaults of
// mediator.json leave the file, environment and flag settings alone. Values
// are converted with the rules of the config file: durations as strings
// ("30s", "5m"), integers as JSON numbers or decimal strings, booleans as
// JSON booleans or "true"/"false".
//
// Core delivers the whole console config every time (replace, not merge), so
// call ApplyConsole on the configuration loaded at start-up, not on the result
// of a previous call: a param cleared in the console then falls back to the
// local setting.
//
// Unknown params, values of the wrong type and a result that fails Validate
// are errors, each naming its key; then c is returned unchanged. Errors never
// contain the value of a secret.
func (c Config) ApplyConsole(console map[string]any) (Config, error) {
	out := c
	var errs []error
	for _, section := range sortedKeys(console) {
		raw := console[section]
		if !slices.Contains(consoleSections, section) {
			errs = append(errs, fmt.Errorf("%s: unknown parameter (the OpenHIM console may set: %s)", section, strings.Join(consoleSections, ", ")))
			continue
		}
		if raw == nil || raw == "" {
			continue
		}
		params, ok := raw.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: must be an object of settings, not %s", section, jsonType(raw)))
			continue
		}
		for _, param := range sortedKeys(params) {
			key := ConsoleKey(section, param)
			field, ok := fieldByKey(&out, key)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: unknown parameter", key))
				continue
			}
			if err := setConsoleValue(field, params[param]); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
		}
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if err := out.Validate(); err != nil {
		return c, err
	}
	return out, nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
)

// fieldByKey returns the settable field of *c named by a config key
// ("cht.page_size").
func fieldByKey(c *Config, key string) (reflect.Value, bool) {
	v := reflect.ValueOf(c).Elem()
	for part := range strings.SplitSeq(key, ".") {
		if v.Kind() != reflect.Struct || v.Type() == durationType {
			return reflect.Value{}, false
		}
		found := false
		t := v.Type()
		for i := range t.NumField() {
			if t.Field(i).Tag.Get("mapstructure") == part {
				v = v.Field(i)
				found = true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	if v.Kind() == reflect.Struct && v.Type() != durationType {
		return reflect.Value{}, false // a section, not a key
	}
	return v, true
}

// setConsoleValue converts raw to the field's type and sets it, unless raw is
// empty. Errors about secrets never quote the value.
func setConsoleValue(field reflect.Value, raw any) error {
	if raw == nil {
		return nil
	}
	switch {
	case field.Type() == secretType:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("must be a string, not %s", jsonType(raw))
		}
		if s == "" || s == ConsoleMask {
			return nil
		}
		field.SetString(s)
	case field.Type() == durationType:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("must be a duration written like 30s, 5m or 1h30m, not %s", jsonType(raw))
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (write it like 30s, 5m or 1h30m)", s)
		}
		field.SetInt(int64(d))
	case field.Kind() == reflect.String:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("must be a string, not %s", jsonType(raw))
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		field.SetString(s)
	case field.Kind() == reflect.Int:
		n, set, err := consoleInt(raw)
		if err != nil || !set {
			return err
		}
		field.SetInt(n)
	case field.Kind() == reflect.Bool:
		switch b := raw.(type) {
		case bool:
			field.SetBool(b)
		case string:
			switch strings.ToLower(strings.TrimSpace(b)) {
			case "":
				return nil
			case "true":
				field.SetBool(true)
			case "false":
				field.SetBool(false)
			default:
				return fmt.Errorf("%q is not a boolean (use true or false)", b)
			}
		default:
			return fmt.Errorf("must be a boolean, not %s", jsonType(raw))
		}
	case field.Kind() == reflect.Float64:
		f, set, err := consoleFloat(raw)
		if err != nil || !set {
			return err
		}
		field.SetFloat(f)
	default:
		return fmt.Errorf("cannot be set from the OpenHIM console (type %s)", field.Type())
	}
	return nil
}

// consoleFloat reads a number given as a JSON number or a decimal string.
// set is false for an empty string.
func consoleFloat(raw any) (f float64, set bool, err error) {
	switch v := raw.(type) {
	case float64:
		f = v
	case json.Number:
		if f, err = v.Float64(); err != nil {
			return 0, false, fmt.Errorf("%s is not a number", v)
		}
	case int:
		f = float64(v)
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return 0, false, nil
		}
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, false, fmt.Errorf("%q is not a number (write it like 0.9)", v)
		}
	default:
		return 0, false, fmt.Errorf("must be a number, not %s", jsonType(raw))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("%v is not a number", raw)
	}
	return f, true, nil
}

// consoleInt reads an integer given as a JSON number or a decimal string.
// set is false for an empty string.
func consoleInt(raw any) (n int64, set bool, err error) {
	switch v := raw.(type) {
	case float64:
		if v != math.Trunc(v) || math.IsInf(v, 0) || v > math.MaxInt32 || v < math.MinInt32 {
			return 0, false, fmt.Errorf("%v is not an integer", v)
		}
		return int64(v), true, nil
	case json.Number:
		i, err := strconv.ParseInt(v.String(), 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%s is not an integer", v)
		}
		return i, true, nil
	case int:
		return int64(v), true, nil
	case int64:
		return v, true, nil
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return 0, false, nil
		}
		i, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%q is not an integer", v)
		}
		return i, true, nil
	}
	return 0, false, fmt.Errorf("must be an integer, not %s", jsonType(raw))
}

// jsonType names the JSON type of a decoded value, for error messages that
// must not show the value itself.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
