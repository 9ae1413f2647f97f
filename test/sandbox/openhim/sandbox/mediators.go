package sandbox

// Mediator registration, heartbeat and console config (OpenHIM core src/api/mediators.js),
// following core:src/api/mediators.js step by step.

import (
	"fmt"
	"net/http"
	"slices"
)

// validationErr is core's constructError(message, 'ValidationError').
func validationErr(format string, a ...any) error {
	return &jsError{"ValidationError", fmt.Sprintf(format, a...)}
}

// isValidationError is err.name === 'ValidationError'.
func isValidationError(err error) bool { return errName(err) == "ValidationError" }

// postMediator is POST /mediators (OpenHIM core src/api/mediators.js).
func (s *Server) postMediator(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("addMediator")
	}
	status, err := s.addMediator(c.body)
	if err != nil {
		if isValidationError(err) {
			return text(http.StatusBadRequest, "Could not add Mediator via the API: "+errString(err))
		}
		return text(http.StatusInternalServerError, "Could not add Mediator via the API: "+errString(err))
	}
	return statusOnly(status)
}

func (s *Server) addMediator(body any) (int, error) {
	urn := get(body, "urn")
	if !truthy(urn) {
		return 0, validationErr("URN is required")
	}
	version := get(body, "version")
	if _, ok := parseSemver(version); !truthy(version) || !ok {
		return 0, validationErr("Version is required. Must be in SemVer form x.y.z")
	}
	if defs := get(body, "configDefs"); truthy(defs) {
		if err := validateConfigDefs(defs); err != nil {
			return 0, err
		}
		if cfg := get(body, "config"); !isNullish(cfg) {
			if err := validateConfig(defs, cfg); err != nil {
				return 0, err
			}
		}
	}
	// findOne({urn}): the query casts urn to a string.
	var key string
	switch u := urn.(type) {
	case string:
		key = u
	case float64, bool:
		key = jsString(u)
	default:
		return 0, &castError{fmt.Sprintf(`Cast to string failed for value "%s" (type %s) at path "urn" for model "Mediator"`, inspect(u), valueType(u))}
	}
	existing := s.findMediator(key)
	if existing != nil {
		gt, err := semverGT(version, existing.doc.vals["version"])
		if err != nil {
			return 0, err
		}
		if gt {
			// Keep stored values of the params the new config has (OpenHIM core src/api/mediators.js).
			newCfg := get(body, "config")
			oldCfg, hasOld := existing.doc.get("config")
			if !isNullish(newCfg) && hasOld && !isNullish(oldCfg) {
				for _, param := range forInKeys(newCfg) {
					if v := get(oldCfg, param); !isNullish(v) {
						setProp(newCfg, param, clone(v))
					}
				}
			}
			upd, err := castUpdate(mediatorFields, body, s.newID)
			if err != nil {
				return 0, err
			}
			for _, k := range upd.keys {
				existing.doc.set(k, upd.vals[k])
			}
			existing.writes++
			s.log.Info("mediator updated", "urn", key, "version", version)
		}
		existing.registrations++
		return http.StatusCreated, nil
	}
	eps := get(body, "endpoints")
	if !truthy(eps) {
		return 0, validationErr("At least 1 endpoint is required")
	}
	if n, ok := get(eps, "length").(float64); ok && n < 1 {
		return 0, validationErr("At least 1 endpoint is required")
	}
	doc, err := castInsert("Mediator", mediatorFields, body, s.newID)
	if err != nil {
		return 0, err
	}
	s.mediators = append(s.mediators, &mediatorRec{docRec: docRec{id: s.newID(), doc: doc}, registrations: 1, writes: 1})
	s.log.Info("mediator registered", "urn", key, "version", version)
	return http.StatusCreated, nil
}

// setProp is `v[key] = val` for the values a body holds.
func setProp(v any, key string, val any) {
	switch x := v.(type) {
	case *object:
		x.set(key, val)
	case []any:
		if isArrayIndex(key) {
			var i int
			fmt.Sscan(key, &i)
			if i < len(x) {
				x[i] = val
			}
		}
	}
}

// clone deep-copies a JS value.
func clone(v any) any {
	switch x := v.(type) {
	case *object:
		o := newObject()
		for _, k := range x.keys {
			o.set(k, clone(x.vals[k]))
		}
		return o
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

// strictEquals is ===.
func strictEquals(a, b any) bool {
	switch x := a.(type) {
	case string, bool, float64, nil, undef:
		return a == b
	case *object:
		y, ok := b.(*object)
		return ok && x == y
	}
	return false
}

// validateConfigDefs is core's validateConfigDefs (OpenHIM core src/api/mediators.js).
func validateConfigDefs(defs any) error {
	for _, def := range arrayFrom(defs) {
		typ, err := prop(def, "type")
		if err != nil {
			return err
		}
		param := jsString(get(def, "param"))
		switch {
		case typ == "struct" && !truthy(get(def, "template")):
			return validationErr("Must specify a template for struct param '%s'", param)
		case typ == "struct":
			for _, item := range arrayFrom(get(def, "template")) {
				p, err := prop(item, "param")
				if err != nil {
					return err
				}
				if !truthy(p) {
					return validationErr("Must specify field 'param' in template definition for param '%s'", param)
				}
				t := get(item, "type")
				if !truthy(t) {
					return validationErr("Must specify field 'type' in template definition for param '%s'", param)
				}
				if t == "struct" {
					return validationErr("May not recursively specify 'struct' in template definitions (param '%s')", param)
				}
			}
		case typ == "option":
			values := get(def, "values")
			if !isArray(values) {
				return validationErr("Expected field 'values' to be an array (option param '%s')", param)
			}
			if len(values.([]any)) == 0 {
				return validationErr("Must specify a values array for option param '%s'", param)
			}
		}
	}
	return nil
}

// validateConfig is core's validateConfig: every key needs a def; values
// are type-checked, struct fields only by name (OpenHIM core src/api/mediators.js).
func validateConfig(defs, config any) error {
	keys, err := objectKeys(config)
	if err != nil {
		return err
	}
	list, ok := defs.([]any)
	if !ok {
		return typeError("configDef.filter is not a function")
	}
	for _, param := range keys {
		var matching []any
		for _, def := range list {
			p, err := prop(def, "param")
			if err != nil {
				return err
			}
			if p == param {
				matching = append(matching, def)
			}
		}
		if len(matching) == 0 {
			return validationErr("No config definition found for parameter %s", param)
		}
		val := get(config, param)
		for _, def := range matching {
			if truthy(get(def, "array")) {
				arr, ok := val.([]any)
				if !ok {
					return validationErr("Expected config param %s to be an array of type %s", param, jsString(get(def, "type")))
				}
				for i, f := range arr {
					if err := validateConfigField(fmt.Sprintf("%s[%d]", param, i), def, f); err != nil {
						return err
					}
				}
				continue
			}
			if err := validateConfigField(param, def, val); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateConfigField(param string, def, field any) error {
	switch get(def, "type") {
	case "string":
		if typeOf(field) != "string" {
			return validationErr("Expected config param %s to be a string.", param)
		}
	case "bigstring":
		if typeOf(field) != "string" {
			return validationErr("Expected config param %s to be a large string.", param)
		}
	case "number":
		if typeOf(field) != "number" {
			return validationErr("Expected config param %s to be a number.", param)
		}
	case "bool":
		if typeOf(field) != "boolean" {
			return validationErr("Expected config param %s to be a boolean.", param)
		}
	case "option":
		values, ok := get(def, "values").([]any)
		if !ok {
			if isNullish(get(def, "values")) {
				return typeError("Cannot read properties of %s (reading 'indexOf')", typeOf(get(def, "values")))
			}
			return typeError("def.values.indexOf is not a function")
		}
		if !slices.ContainsFunc(values, func(v any) bool { return strictEquals(v, field) }) {
			return validationErr("Expected config param %s to be one of %s", param, jsString(values))
		}
	case "map":
		if typeOf(field) != "object" {
			return validationErr("Expected config param %s to be an object.", param)
		}
		for _, k := range forInKeys(field) {
			if typeOf(get(field, k)) != "string" {
				return validationErr("Expected config param %s to only contain string values.", param)
			}
		}
	case "struct":
		if typeOf(field) != "object" {
			return validationErr("Expected config param %s to be an object.", param)
		}
		tmpl, ok := get(def, "template").([]any)
		if !ok {
			return typeError("def.template.map is not a function")
		}
		var names []any
		for _, tp := range tmpl {
			p, err := prop(tp, "param")
			if err != nil {
				return err
			}
			names = append(names, p)
		}
		for _, k := range forInKeys(field) {
			if !slices.ContainsFunc(names, func(n any) bool { return n == k }) {
				return validationErr("Field %s is not defined in template definition for config param %s.", k, param)
			}
		}
	case "password":
		if typeOf(field) != "string" {
			return validationErr("Expected config param %s to be a string representing a password.", param)
		}
	}
	return nil
}

// forEachDef is defs.forEach for stored configDefs and templates.
func forEachDef(defs any, fn func(d any) error) error {
	arr, ok := defs.([]any)
	if !ok {
		if isNullish(defs) {
			return typeError("Cannot read properties of %s (reading 'forEach')", typeOf(defs))
		}
		return typeError("defs.forEach is not a function")
	}
	for _, d := range arr {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// maskPasswords replaces password values by the mask (OpenHIM core src/api/mediators.js).
func maskPasswords(defs, config any) error {
	if !truthy(config) {
		return nil
	}
	return forEachDef(defs, func(d any) error {
		typ, err := prop(d, "type")
		if err != nil {
			return err
		}
		param := jsString(get(d, "param"))
		if typ == "password" && truthy(get(config, param)) {
			if truthy(get(d, "array")) {
				arr, ok := get(config, param).([]any)
				if !ok {
					return typeError("config[d.param].map is not a function")
				}
				masked := make([]any, len(arr))
				for i := range masked {
					masked[i] = passwordMask
				}
				setProp(config, param, masked)
			} else {
				setProp(config, param, passwordMask)
			}
		}
		if typ == "struct" && truthy(get(config, param)) {
			return maskPasswords(get(d, "template"), get(config, param))
		}
		return nil
	})
}

// restoreMaskedPasswords puts stored values back where a PUT sends the mask.
func restoreMaskedPasswords(defs, masked, config any) error {
	if !truthy(masked) || !truthy(config) {
		return nil
	}
	return forEachDef(defs, func(d any) error {
		typ, err := prop(d, "type")
		if err != nil {
			return err
		}
		param := jsString(get(d, "param"))
		mv, cv := get(masked, param), get(config, param)
		if typ == "password" && truthy(mv) && truthy(cv) {
			if truthy(get(d, "array")) {
				arr, ok := mv.([]any)
				if !ok {
					return typeError("maskedConfig[d.param].forEach is not a function")
				}
				for i, p := range arr {
					if p == passwordMask {
						v := get(cv, fmt.Sprint(i))
						if _, u := v.(undef); u {
							v = nil
						}
						arr[i] = v
					}
				}
			} else if mv == passwordMask {
				setProp(masked, param, cv)
			}
		}
		if typ == "struct" && truthy(mv) && truthy(cv) {
			return restoreMaskedPasswords(get(d, "template"), mv, cv)
		}
		return nil
	})
}

// getMediators is GET /mediators: passwords are NOT masked (OpenHIM core src/api/mediators.js quirk).
func (s *Server) getMediators(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("getAllMediators")
	}
	out := make([]any, len(s.mediators))
	for i, m := range s.mediators {
		out[i] = withID(&m.docRec)
	}
	return koaBody(http.StatusOK, out)
}

// getMediator is GET /mediators/:urn, passwords masked.
func (s *Server) getMediator(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("getMediator")
	}
	urn := jsUnescape(c.params[0])
	m := s.findMediator(urn)
	if m == nil {
		return statusOnly(http.StatusNotFound)
	}
	out := clone(withID(&m.docRec)).(*object)
	cfg, _ := out.get("config")
	if err := maskPasswords(get(out, "configDefs"), cfg); err != nil {
		return text(http.StatusInternalServerError, fmt.Sprintf("Could not fetch mediator using UUID %s via the API: %s", urn, errString(err)))
	}
	return koaBody(http.StatusOK, out)
}

// deleteMediator is DELETE /mediators/:urn: 200 even for an unknown urn.
func (s *Server) deleteMediator(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("removeMediator")
	}
	urn := jsUnescape(c.params[0])
	s.mediators = slices.DeleteFunc(s.mediators, func(m *mediatorRec) bool { return m.doc.vals["urn"] == urn })
	return text(http.StatusOK, fmt.Sprintf("Mediator with urn %s has been successfully removed by %s", urn, c.email()))
}

// postHeartbeat is POST /mediators/:urn/heartbeat (OpenHIM core src/api/mediators.js).
func (s *Server) postHeartbeat(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("removeMediator") // sic: core's message
	}
	urn := jsUnescape(c.params[0])
	m := s.findMediator(urn)
	if m == nil {
		return statusOnly(http.StatusNotFound)
	}
	hb := c.body
	if isNullish(get(hb, "uptime")) {
		return statusOnly(http.StatusBadRequest)
	}
	deliver := get(hb, "config") == true
	mod, okMod := m.doc.vals["_configModifiedTS"].(jsDate)
	last, okLast := m.doc.vals["_lastHeartbeat"].(jsDate)
	if okMod && okLast && modAfter(mod, last) {
		deliver = true
	}
	rep := text(http.StatusOK, "") // nothing to deliver: empty text/plain
	if deliver {
		cfg, _ := m.doc.get("config")
		rep = koaBody(http.StatusOK, cfg)
	}
	// findByIdAndUpdate(_lastHeartbeat, _uptime): _uptime is cast to Number.
	upd := newObject()
	upd.set("_uptime", get(hb, "uptime"))
	cast, err := castUpdate(mediatorFields, upd, s.newID)
	if err != nil {
		return text(http.StatusInternalServerError, fmt.Sprintf("Could not process mediator heartbeat (urn: %s): %s", urn, errString(err)))
	}
	m.doc.set("_lastHeartbeat", jsDate(s.now()))
	m.doc.set("_uptime", cast.vals["_uptime"])
	m.heartbeats++
	return rep
}

func modAfter(mod, last jsDate) bool {
	return timeOf(mod).After(timeOf(last))
}

// putConfig is PUT /mediators/:urn/config (OpenHIM core src/api/mediators.js).
func (s *Server) putConfig(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("removeMediator") // sic
	}
	return s.setConfig(jsUnescape(c.params[0]), c.body)
}

func (s *Server) setConfig(urn string, config any) reply {
	m := s.findMediator(urn)
	if m == nil {
		return text(http.StatusNotFound, "No mediator found for this urn.")
	}
	defs := m.doc.vals["configDefs"]
	stored, _ := m.doc.get("config")
	if err := restoreMaskedPasswords(defs, config, stored); err != nil {
		return text(http.StatusBadRequest, errMessage(err))
	}
	if err := validateConfig(defs, config); err != nil {
		return text(http.StatusBadRequest, errMessage(err))
	}
	m.doc.set("config", config)
	m.doc.set("_configModifiedTS", jsDate(s.now()))
	s.log.Info("mediator config set", "urn", urn)
	return statusOnly(http.StatusOK)
}

// postMediatorChannels is POST /mediators/:urn/channels: install some (a
// JSON array of names) or all (empty array) of the defaultChannelConfig.
// Channels are saved without the API's channel checks; a duplicate name
// answers 500 (OpenHIM core src/api/mediators.js).
func (s *Server) postMediatorChannels(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("removeMediator") // sic
	}
	urn := jsUnescape(c.params[0])
	m := s.findMediator(urn)
	if m == nil {
		return text(http.StatusNotFound, "No mediator found for this urn.")
	}
	defaults := arrayFrom(m.doc.vals["defaultChannelConfig"])
	names := c.body
	var install []any
	if isNullish(names) || get(names, "length") == 0.0 {
		install = defaults
	} else {
		wanted := arrayFrom(names)
		for _, ch := range defaults {
			if slices.ContainsFunc(wanted, func(n any) bool { return n == get(ch, "name") }) {
				install = append(install, ch)
			}
		}
		if n, ok := get(names, "length").(float64); ok && float64(len(install)) < n {
			return text(http.StatusBadRequest, fmt.Sprintf("Could not load mediator default channel config, one or more channels in the request body not found in the mediator config (urn: %s)", urn))
		}
	}
	var first error
	for _, ch := range install {
		doc := clone(ch).(*object)
		doc.del("_id")
		for _, r := range arrayFrom(doc.vals["routes"]) {
			if ro, ok := r.(*object); ok {
				ro.del("_id")
			}
		}
		if _, err := s.insertChannel(doc); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return text(http.StatusInternalServerError, fmt.Sprintf("Could not load mediator default channel config (urn: %s): %s", urn, errString(first)))
	}
	return statusOnly(http.StatusCreated)
}
