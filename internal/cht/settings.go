package cht

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

// Settings is what the export needs from CHT's app_settings.
type Settings struct {
	// DataSets is dhis_data_sets, in order.
	DataSets []aggregate.DataSet
	// Targets are the tasks.targets.items that carry at least one usable dhis
	// mapping, in definition order. A dhis object gives one Mapping, an array
	// one per usable element.
	Targets []aggregate.TargetDef
	// MonthStartDate is uhc.month_start_date (or
	// uhc.visit_count.month_start_date): the day a reporting month starts on
	// the devices. 1 when absent.
	MonthStartDate int
	// Roles is app_settings roles: which configured roles are offline
	// (replicating) roles. Nil when absent.
	Roles map[string]Role
	// Permissions is app_settings permissions: each permission and the
	// roles holding it. Nil when absent.
	Permissions map[string][]string
	// Warnings name, in plain words, each part of the settings that was
	// ignored because of its shape.
	Warnings []string
}

// maxSettingsSize bounds the settings answer read into memory.
const maxSettingsSize = 64 << 20

// Where the settings came from, remembered in Client.settingsSource.
const (
	settingsUnknown int32 = iota
	settingsFromAPI       // GET /api/v1/settings: the app_settings object
	settingsFromDoc       // GET /{db}/settings: {"settings": app_settings}
)

// Settings reads app_settings. It asks the CHT API (GET /api/v1/settings)
// and, when that answers 404 (a bare CouchDB or pouchdb-server), the
// settings doc (GET /{db}/settings). The endpoint that worked is used first
// by later calls.
func (c *Client) Settings(ctx context.Context) (Settings, error) {
	const op = "fetch settings"
	var s Settings
	readAPI := func(resp *http.Response) error {
		body, err := readLimited(resp.Body, maxSettingsSize)
		if err != nil {
			return err
		}
		s, err = decodeSettings(body)
		return err
	}
	readDoc := func(resp *http.Response) error {
		body, err := readLimited(resp.Body, maxSettingsSize)
		if err != nil {
			return err
		}
		s, err = decodeSettingsDoc(body)
		return err
	}
	api := request{op: op, method: http.MethodGet, u: c.endpoint("api", "v1", "settings")}
	doc := request{op: op, method: http.MethodGet, u: c.dbEndpoint("settings")}

	if c.settingsSource.Load() == settingsFromDoc {
		return s, c.do(ctx, doc, readDoc)
	}
	err := c.do(ctx, api, readAPI)
	if err == nil {
		c.settingsSource.Store(settingsFromAPI)
		return s, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Settings{}, err
	}
	c.log.Debug("no CHT API settings endpoint; reading the settings doc", "err", err)
	if err := c.do(ctx, doc, readDoc); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Settings{}, fmt.Errorf("%w (no CHT settings at %s: check cht.url and cht.database)", err, doc.u.Redacted())
		}
		return Settings{}, err
	}
	c.settingsSource.Store(settingsFromDoc)
	return s, nil
}

// readLimited reads r whole, failing when it is longer than limit.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read response: larger than %d bytes", limit)
	}
	return b, nil
}

// decodeSettingsDoc decodes the medic settings doc,
// {"_id": "settings", "settings": {…app_settings}}.
func decodeSettingsDoc(body []byte) (Settings, error) {
	var doc struct {
		Settings json.RawMessage `json:"settings"`
	}
	if !isObject(body) {
		return Settings{}, notObject("decode settings doc", body)
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return Settings{}, fmt.Errorf("decode settings doc: %w", err)
	}
	if len(doc.Settings) == 0 || isNull(doc.Settings) {
		return Settings{}, errors.New("decode settings doc: it has no settings property")
	}
	return decodeSettings(doc.Settings)
}

// notObject is the error of an answer that should be a JSON object. An HTML
// page means cht.url points at something else than CHT or its CouchDB (a
// web app, a proxy's page); the message says so.
func notObject(op string, body []byte) error {
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '<' {
		return fmt.Errorf("%s: the answer is an HTML page, not CHT's JSON: check cht.url (the CHT instance or its CouchDB, like https://cht.example.org)", op)
	}
	return fmt.Errorf("%s: not a JSON object", op)
}

// wireSettings is the part of app_settings the export reads, raw so that
// each part's shape can be checked on its own.
type wireSettings struct {
	DHISDataSets json.RawMessage `json:"dhis_data_sets"`
	Tasks        json.RawMessage `json:"tasks"`
	UHC          json.RawMessage `json:"uhc"`
	Roles        json.RawMessage `json:"roles"`
	Permissions  json.RawMessage `json:"permissions"`
}

// decodeSettings decodes an app_settings object. It fails only when body is
// not a JSON object; parts of the wrong shape are skipped with a Warning.
func decodeSettings(body []byte) (Settings, error) {
	var w wireSettings
	if !isObject(body) {
		return Settings{}, notObject("decode settings", body)
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return Settings{}, fmt.Errorf("decode settings: %w", err)
	}
	var s Settings
	warn := func(format string, args ...any) {
		s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
	}
	s.DataSets = decodeDataSets(w.DHISDataSets, warn)
	s.Targets = decodeTargetDefs(w.Tasks, warn)
	s.MonthStartDate = decodeMonthStartDate(w.UHC, warn)
	s.Roles, s.Permissions = decodeRoles(w.Roles, w.Permissions, warn)
	return s, nil
}

type warnFunc func(format string, args ...any)

func decodeDataSets(raw json.RawMessage, warn warnFunc) []aggregate.DataSet {
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	var items []json.RawMessage
	if !isArray(raw) || json.Unmarshal(raw, &items) != nil {
		warn("dhis_data_sets is %s, not an array; no data sets", describe(raw))
		return nil
	}
	var out []aggregate.DataSet
	for i, item := range items {
		var ds struct {
			ID             json.RawMessage `json:"id"`
			TranslationKey json.RawMessage `json:"translation_key"`
		}
		if !isObject(item) || json.Unmarshal(item, &ds) != nil {
			warn("dhis_data_sets element %d is not an object; ignored", i)
			continue
		}
		id, ok := jsonString(ds.ID)
		if !ok || id == "" {
			warn("dhis_data_sets element %d has no id; ignored", i)
			continue
		}
		d := aggregate.DataSet{ID: id}
		if len(ds.TranslationKey) > 0 && !isNull(ds.TranslationKey) {
			if key, ok := jsonString(ds.TranslationKey); ok {
				d.TranslationKey = key
			} else {
				warn("data set %q: translation_key is %s, not a string; ignored", id, describe(ds.TranslationKey))
			}
		}
		out = append(out, d)
	}
	return out
}

func decodeTargetDefs(tasks json.RawMessage, warn warnFunc) []aggregate.TargetDef {
	if len(tasks) == 0 || isNull(tasks) {
		return nil
	}
	var t struct {
		Targets json.RawMessage `json:"targets"`
	}
	if !isObject(tasks) || json.Unmarshal(tasks, &t) != nil {
		warn("tasks is not an object; no targets")
		return nil
	}
	if len(t.Targets) == 0 || isNull(t.Targets) {
		return nil
	}
	var targets struct {
		Items json.RawMessage `json:"items"`
	}
	if !isObject(t.Targets) || json.Unmarshal(t.Targets, &targets) != nil {
		warn("tasks.targets is not an object; no targets")
		return nil
	}
	if len(targets.Items) == 0 || isNull(targets.Items) {
		return nil
	}
	var items []json.RawMessage
	if !isArray(targets.Items) || json.Unmarshal(targets.Items, &items) != nil {
		warn("tasks.targets.items is not an array; no targets")
		return nil
	}
	var out []aggregate.TargetDef
	for i, item := range items {
		var it struct {
			ID   json.RawMessage `json:"id"`
			DHIS json.RawMessage `json:"dhis"`
		}
		if !isObject(item) || json.Unmarshal(item, &it) != nil {
			warn("tasks.targets.items element %d is not an object; ignored", i)
			continue
		}
		if len(it.DHIS) == 0 || isNull(it.DHIS) {
			continue // not exported to DHIS2
		}
		id, ok := jsonString(it.ID)
		if !ok || id == "" {
			warn("tasks.targets.items element %d has a dhis mapping but no id; ignored", i)
			continue
		}
		if maps := decodeMappings(id, it.DHIS, warn); len(maps) > 0 {
			out = append(out, aggregate.TargetDef{ID: id, DHIS: maps, DHISArray: isArray(it.DHIS)})
		}
	}
	return out
}

// decodeMappings converts a target's dhis object (one mapping) or array (one
// per usable element, CHT itself ignores arrays). Elements that are not
// objects or have no dataElement are skipped with a warning.
func decodeMappings(target string, raw json.RawMessage, warn warnFunc) []aggregate.Mapping {
	if isObject(raw) {
		m, ok := decodeMapping(raw, func(format string, args ...any) {
			warn("target %q: dhis"+format, append([]any{target}, args...)...)
		})
		if !ok {
			return nil
		}
		return []aggregate.Mapping{m}
	}
	var elems []json.RawMessage
	if !isArray(raw) || json.Unmarshal(raw, &elems) != nil {
		warn("target %q: dhis is %s, not an object or an array; ignored", target, describe(raw))
		return nil
	}
	var out []aggregate.Mapping
	for i, e := range elems {
		if !isObject(e) {
			warn("target %q: dhis element %d is not an object; ignored", target, i)
			continue
		}
		m, ok := decodeMapping(e, func(format string, args ...any) {
			warn("target %q: dhis element %d"+format, append([]any{target, i}, args...)...)
		})
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// decodeMapping converts one dhis object. ok is false when it has no usable
// dataElement. warn gets messages that start right after the mapping's name
// (" has no dataElement; ignored").
func decodeMapping(raw json.RawMessage, warn warnFunc) (m aggregate.Mapping, ok bool) {
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		warn(" is not an object; ignored")
		return m, false
	}
	str := func(name string) string {
		v, present := members[name]
		if !present || isNull(v) {
			return ""
		}
		s, isStr := jsonString(v)
		if !isStr {
			warn(": %s is %s, not a string; treated as absent", name, describe(v))
		}
		return s
	}
	if v, present := members["dataSet"]; present && !isNull(v) && !isJSString(v) {
		// CHT keeps a mapping when !dhis.dataSet || dhis.dataSet === id: a
		// falsy value applies to every data set, any other non-string
		// never matches.
		if isJSFalsy(v) {
			warn(": dataSet is %s, not a string; applies to every data set, as in CHT", describe(v))
		} else {
			warn(": dataSet is %s, not a string; CHT never matches it, so ignored", describe(v))
			return m, false
		}
	} else {
		m.DataSet = str("dataSet")
	}
	m.DataElement = str("dataElement")
	m.CategoryOptionCombo = str("categoryOptionCombo")
	m.AttributeOptionCombo = str("attributeOptionCombo")
	for name, v := range members {
		switch name {
		case "dataSet", "dataElement", "categoryOptionCombo", "attributeOptionCombo", "orgUnit", "value":
			continue
		}
		if m.Attributes == nil {
			m.Attributes = make(map[string]json.RawMessage)
		}
		m.Attributes[name] = compactJSON(v)
	}
	if m.DataElement == "" {
		warn(" has no dataElement; ignored")
		return m, false
	}
	return m, true
}

// decodeMonthStartDate reads uhc.month_start_date, else
// uhc.visit_count.month_start_date (as CHT's uhc-settings service does: the
// first that is truthy), else 1.
func decodeMonthStartDate(uhc json.RawMessage, warn warnFunc) int {
	if len(uhc) == 0 || isNull(uhc) {
		return 1
	}
	var u struct {
		MonthStartDate json.RawMessage `json:"month_start_date"`
		VisitCount     json.RawMessage `json:"visit_count"`
	}
	if !isObject(uhc) || json.Unmarshal(uhc, &u) != nil {
		warn("uhc is not an object; the month starts on day 1")
		return 1
	}
	name, raw := "uhc.month_start_date", u.MonthStartDate
	if !truthy(raw) {
		var vc struct {
			MonthStartDate json.RawMessage `json:"month_start_date"`
		}
		if isObject(u.VisitCount) && json.Unmarshal(u.VisitCount, &vc) == nil {
			name, raw = "uhc.visit_count.month_start_date", vc.MonthStartDate
		}
	}
	if !truthy(raw) {
		return 1
	}
	f, err := jsonNumber(raw)
	if err != nil || f != float64(int(f)) || f < 1 || f > 31 {
		warn("%s is %s, not a day of the month from 1 to 31; the month starts on day 1", name, describe(raw))
		return 1
	}
	return int(f)
}

// isJSString reports whether v is a JSON string.
func isJSString(v json.RawMessage) bool {
	_, ok := jsonString(v)
	return ok
}

// isJSFalsy reports whether v is falsy in JavaScript: false, 0 or "".
func isJSFalsy(v json.RawMessage) bool {
	switch t := strings.TrimSpace(string(v)); t {
	case "false", `""`:
		return true
	default:
		var f float64
		return json.Unmarshal([]byte(t), &f) == nil && f == 0
	}
}
