package openhim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Registration is the document a mediator registers with (POST /mediators,
// OpenHIM core src/api/mediators.js). It is read from mediator-config/mediator.json by
// LoadRegistration, which checks it against core's rules, so that a bad file
// fails at start-up rather than at registration.
type Registration struct {
	URN         string `json:"urn"`
	Version     string `json:"version"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Endpoints are the routes the console offers when a channel is built
	// from the mediator ("add route from mediator").
	Endpoints []Route `json:"endpoints"`
	// DefaultChannelConfig is stored by core and only installed by the
	// console's "install channel" button (POST /mediators/:urn/channels),
	// which skips core's channel checks: LoadRegistration applies them.
	DefaultChannelConfig []Channel `json:"defaultChannelConfig,omitempty"`
	// ConfigDefs describe the config form of the console.
	ConfigDefs []ConfigDef `json:"configDefs,omitempty"`
	// Config is the default config, stored on the first registration.
	Config map[string]any `json:"config,omitempty"`
}

// Route is a route of a channel or an endpoint of a mediator (OpenHIM core src/model/channels.js).
// Pointers tell "absent" from false or 0, so that a document is sent as it
// was written and core's defaults apply to what it leaves out.
type Route struct {
	Name              string `json:"name"`
	Type              string `json:"type,omitempty"`
	Host              string `json:"host,omitempty"`
	Port              int    `json:"port,omitempty"`
	Path              string `json:"path,omitempty"`
	PathTransform     string `json:"pathTransform,omitempty"`
	Primary           *bool  `json:"primary,omitempty"`
	Secured           *bool  `json:"secured,omitempty"`
	Cert              string `json:"cert,omitempty"`
	Username          string `json:"username,omitempty"`
	Password          string `json:"password,omitempty"`
	ForwardAuthHeader *bool  `json:"forwardAuthHeader,omitempty"`
	Status            string `json:"status,omitempty"`
	// WaitPrimaryResponse and StatusCodesCheck exist since core 8.
	WaitPrimaryResponse *bool  `json:"waitPrimaryResponse,omitempty"`
	StatusCodesCheck    string `json:"statusCodesCheck,omitempty"`
	KafkaClientID       string `json:"kafkaClientId,omitempty"`
	KafkaTopic          string `json:"kafkaTopic,omitempty"`
}

// Channel is an OpenHIM channel (OpenHIM core src/model/channels.js), as found in a mediator's
// defaultChannelConfig and in core's /metadata import format.
type Channel struct {
	Name                   string          `json:"name"`
	Description            string          `json:"description,omitempty"`
	Type                   string          `json:"type,omitempty"`
	Status                 string          `json:"status,omitempty"`
	URLPattern             string          `json:"urlPattern"`
	Methods                []string        `json:"methods,omitempty"`
	PollingSchedule        string          `json:"pollingSchedule,omitempty"`
	Priority               *int            `json:"priority,omitempty"`
	TCPPort                *int            `json:"tcpPort,omitempty"`
	TCPHost                string          `json:"tcpHost,omitempty"`
	AuthType               string          `json:"authType,omitempty"`
	Allow                  []string        `json:"allow,omitempty"`
	Whitelist              []string        `json:"whitelist,omitempty"`
	Routes                 []Route         `json:"routes"`
	RequestBody            *bool           `json:"requestBody,omitempty"`
	ResponseBody           *bool           `json:"responseBody,omitempty"`
	MaxBodyAgeDays         *int            `json:"maxBodyAgeDays,omitempty"`
	Timeout                *int            `json:"timeout,omitempty"`
	AutoRetryEnabled       *bool           `json:"autoRetryEnabled,omitempty"`
	AutoRetryPeriodMinutes *int            `json:"autoRetryPeriodMinutes,omitempty"`
	AutoRetryMaxAttempts   *int            `json:"autoRetryMaxAttempts,omitempty"`
	MatchContentTypes      []string        `json:"matchContentTypes,omitempty"`
	MatchContentRegex      string          `json:"matchContentRegex,omitempty"`
	MatchContentXpath      string          `json:"matchContentXpath,omitempty"`
	MatchContentJSON       string          `json:"matchContentJson,omitempty"`
	MatchContentValue      string          `json:"matchContentValue,omitempty"`
	TxViewACL              []string        `json:"txViewAcl,omitempty"`
	TxViewFullACL          []string        `json:"txViewFullAcl,omitempty"`
	TxRerunACL             []string        `json:"txRerunAcl,omitempty"`
	Alerts                 json.RawMessage `json:"alerts,omitempty"`
	RewriteURLs            *bool           `json:"rewriteUrls,omitempty"`
	AddAutoRewriteRules    *bool           `json:"addAutoRewriteRules,omitempty"`
	RewriteURLsConfig      json.RawMessage `json:"rewriteUrlsConfig,omitempty"`
	IsAsynchronousProcess  *bool           `json:"isAsynchronousProcess,omitempty"`
	Properties             json.RawMessage `json:"properties,omitempty"`
}

// ConfigDef defines one param of the console's config form (OpenHIM core src/api/mediators.js).
type ConfigDef struct {
	Param       string      `json:"param"`
	DisplayName string      `json:"displayName,omitempty"`
	Description string      `json:"description,omitempty"`
	Type        string      `json:"type"`
	Values      []string    `json:"values,omitempty"`
	Template    []ConfigDef `json:"template,omitempty"`
	Array       bool        `json:"array,omitempty"`
}

// LoadRegistrationFile reads the registration document at path; see
// LoadRegistration.
func LoadRegistrationFile(path, version string) (Registration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Registration{}, fmt.Errorf("openhim: read mediator registration: %w", err)
	}
	reg, err := LoadRegistration(data, version)
	if err != nil {
		return Registration{}, fmt.Errorf("%s: %w", path, err)
	}
	return reg, nil
}

// LoadRegistration decodes a registration document (mediator.json), sets its
// version to version (the program's version; empty keeps the file's), and
// checks it against core's rules: urn, semver version, name, at least one
// endpoint with name, host and port, configDefs types and struct/option
// rules, config keys with a def and values of the def's type, and the
// channel rules for defaultChannelConfig. Unknown fields are errors, so a
// misspelt field fails here instead of being dropped by core. A version
// written "v1.2.3" is registered as "1.2.3".
func LoadRegistration(data []byte, version string) (Registration, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var reg Registration
	if err := dec.Decode(&reg); err != nil {
		return Registration{}, fmt.Errorf("openhim: decode mediator registration: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Registration{}, errors.New("openhim: decode mediator registration: data after the JSON object")
	}
	// encoding/json matches field names case-insensitively, core does not:
	// "urlpattern" would be dropped by core.
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return Registration{}, fmt.Errorf("openhim: decode mediator registration: %w", err)
	}
	if err := checkFieldNames(generic, ""); err != nil {
		return Registration{}, fmt.Errorf("openhim: decode mediator registration: %w", err)
	}
	if version != "" {
		reg.Version = version
	}
	reg.Version = strings.TrimPrefix(strings.TrimSpace(reg.Version), "v")
	if err := reg.Validate(); err != nil {
		return Registration{}, fmt.Errorf("openhim: mediator registration: %w", err)
	}
	return reg, nil
}

// semverRE is semver 2.0.0 (semver.org's recommended expression), which is
// what core's semver.valid accepts (without a leading "v").
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// ValidVersion reports whether v is a semantic version x.y.z[-pre][+build].
func ValidVersion(v string) bool { return semverRE.MatchString(v) }

// Validate checks the registration against core's rules and returns one
// error per problem, each naming the field.
func (r Registration) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(r.URN) == "" {
		add("urn: required")
	}
	if !ValidVersion(r.Version) {
		add("version %q: must be a semantic version x.y.z[-pre] (core answers 400 otherwise)", r.Version)
	}
	if strings.TrimSpace(r.Name) == "" {
		add("name: required")
	}
	if len(r.Endpoints) == 0 {
		add("endpoints: at least 1 endpoint is required")
	}
	for i, e := range r.Endpoints {
		for _, err := range validateRoute(e) {
			add("endpoints[%d] (%s): %w", i, e.Name, err)
		}
	}
	names := map[string]bool{}
	for i, ch := range r.DefaultChannelConfig {
		if names[ch.Name] {
			add("defaultChannelConfig[%d] (%s): duplicate channel name (core's channel names are unique)", i, ch.Name)
		}
		names[ch.Name] = true
		for _, err := range ValidateChannel(ch) {
			add("defaultChannelConfig[%d] (%s): %w", i, ch.Name, err)
		}
	}
	errs = append(errs, validateConfigDefs(r.ConfigDefs, "configDefs", false)...)
	if r.Config != nil {
		if len(r.ConfigDefs) == 0 {
			add("config: set without configDefs (the console could not show or change it)")
		} else {
			errs = append(errs, validateConfig(r.ConfigDefs, r.Config)...)
		}
	}
	return errors.Join(errs...)
}

var configTypes = []string{"string", "bigstring", "bool", "number", "option", "map", "struct", "password"}

// validateConfigDefs applies core's schema enum and API checks (OpenHIM core src/api/mediators.js).
func validateConfigDefs(defs []ConfigDef, path string, inTemplate bool) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	params := map[string]bool{}
	for i, d := range defs {
		at := fmt.Sprintf("%s[%d]", path, i)
		if d.Param != "" {
			at += " (" + d.Param + ")"
		}
		if d.Param == "" {
			add("%s: param required", at)
		} else if params[d.Param] {
			add("%s: duplicate param", at)
		}
		params[d.Param] = true
		switch {
		case d.Type == "":
			add("%s: type required", at)
		case !slices.Contains(configTypes, d.Type):
			add("%s: type %q is not one of %s (array is a flag, template a struct's field list)", at, d.Type, strings.Join(configTypes, ", "))
		}
		switch d.Type {
		case "struct":
			if inTemplate {
				add("%s: a struct template may not contain a struct", at)
				continue
			}
			if len(d.Template) == 0 {
				add("%s: a struct needs a template", at)
			}
			errs = append(errs, validateConfigDefs(d.Template, at+".template", true)...)
		case "option":
			if len(d.Values) == 0 {
				add("%s: an option needs a non-empty values array", at)
			}
		}
		if d.Type != "struct" && len(d.Template) > 0 {
			add("%s: template is only for struct params", at)
		}
	}
	return errs
}

// validateConfig applies core's config validation (OpenHIM core src/api/mediators.js): every key
// has a def and every value has the def's type. Field types inside structs
// are not checked, as core does not check them either.
func validateConfig(defs []ConfigDef, cfg map[string]any) []error {
	var errs []error
	for _, key := range sortedKeys(cfg) {
		i := slices.IndexFunc(defs, func(d ConfigDef) bool { return d.Param == key })
		if i < 0 {
			errs = append(errs, fmt.Errorf("config.%s: no config definition found for parameter %s", key, key))
			continue
		}
		def, val := defs[i], cfg[key]
		if def.Array {
			arr, ok := val.([]any)
			if !ok {
				errs = append(errs, fmt.Errorf("config.%s: must be an array of type %s", key, def.Type))
				continue
			}
			for j, el := range arr {
				if err := checkConfigValue(def, el); err != nil {
					errs = append(errs, fmt.Errorf("config.%s[%d]: %w", key, j, err))
				}
			}
			continue
		}
		if err := checkConfigValue(def, val); err != nil {
			errs = append(errs, fmt.Errorf("config.%s: %w", key, err))
		}
	}
	return errs
}

func checkConfigValue(def ConfigDef, v any) error {
	switch def.Type {
	case "string", "bigstring", "password":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("must be a string (type %s)", def.Type)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return errors.New("must be a JSON number (a numeric string fails in core)")
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return errors.New("must be a JSON boolean")
		}
	case "option":
		s, ok := v.(string)
		if !ok || !slices.Contains(def.Values, s) {
			return fmt.Errorf("must be one of %s", strings.Join(def.Values, ", "))
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return errors.New("must be an object")
		}
		for k, mv := range m {
			if _, ok := mv.(string); !ok {
				return fmt.Errorf("map value %s must be a string", k)
			}
		}
	case "struct":
		m, ok := v.(map[string]any)
		if !ok {
			return errors.New("must be an object")
		}
		for _, k := range sortedKeys(m) {
			if !slices.ContainsFunc(def.Template, func(t ConfigDef) bool { return t.Param == k }) {
				return fmt.Errorf("field %s is not defined in the template of %s", k, def.Param)
			}
		}
	}
	return nil
}

var (
	channelTypes   = []string{"http", "tcp", "tls", "polling"}
	channelMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
	pathTransform  = regexp.MustCompile(`^s/(?:[^/\\]|\\.)+/(?:[^/\\]|\\.)*(?:/g?)?$`)
)

// ValidateChannel checks a channel against core's channel rules (OpenHIM core src/model/channels.js
// and src/api/channels.js) and the ones of this project: an anchored urlPattern that compiles,
// methods listed (polling channels: exactly GET, a pollingSchedule and a
// route path), exactly one enabled primary route, route host and port, path
// and pathTransform not both, and the numeric bounds core checks. Channels
// imported with /metadata or installed from a mediator skip core's checks,
// so these are applied here.
//
// Polling channels must list ["GET"] (the mediator's polling endpoint
// answers GET only), although core's channel
// API (POST/PUT /channels) refuses methods on non-http channels: the import
// keeps them, core's poller ignores them, and an operator who edits the
// channel in the console has to clear them.
func ValidateChannel(ch Channel) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(ch.Name) == "" {
		add("name: required")
	}
	typ := ch.Type
	if typ == "" {
		typ = "http"
	}
	if !slices.Contains(channelTypes, typ) {
		add("type %q: must be one of %s", ch.Type, strings.Join(channelTypes, ", "))
	}
	if ch.Status != "" && !slices.Contains([]string{"enabled", "disabled", "deleted"}, ch.Status) {
		add("status %q: must be enabled, disabled or deleted", ch.Status)
	}
	switch {
	case ch.URLPattern == "":
		add("urlPattern: required")
	case !strings.HasPrefix(ch.URLPattern, "^") || !strings.HasSuffix(ch.URLPattern, "$"):
		add("urlPattern %q: anchor it with ^…$ (core's match is unanchored)", ch.URLPattern)
	default:
		if _, err := regexp.Compile(ch.URLPattern); err != nil {
			add("urlPattern %q: not a regular expression: %w", ch.URLPattern, err)
		}
	}
	if typ == "http" || typ == "polling" {
		if len(ch.Methods) == 0 {
			add("methods: required (since core 7.0.1 a channel without methods matches nothing)")
		}
		seen := map[string]bool{}
		for _, m := range ch.Methods {
			if !slices.Contains(channelMethods, m) {
				add("methods: %q is not one of %s", m, strings.Join(channelMethods, " "))
			}
			if seen[m] {
				add("methods: %s listed twice", m)
			}
			seen[m] = true
		}
	}
	if typ == "polling" {
		if !slices.Equal(ch.Methods, []string{"GET"}) {
			add("methods: a polling channel must list exactly GET (core's poller sends a GET)")
		}
		if strings.TrimSpace(ch.PollingSchedule) == "" {
			add("pollingSchedule: required on a polling channel")
		}
	} else if ch.PollingSchedule != "" {
		add("pollingSchedule: only for polling channels")
	}
	if ch.AuthType != "" && ch.AuthType != "private" && ch.AuthType != "public" {
		add("authType %q: must be private or public", ch.AuthType)
	}
	if typ == "http" && ch.AuthType != "public" && len(ch.Allow) == 0 {
		add("allow: a private channel without allowed roles or clients cannot be called")
	}
	if ch.Priority != nil && *ch.Priority < 1 {
		add("priority: must be at least 1")
	}
	if ch.Timeout != nil && (*ch.Timeout < 1 || *ch.Timeout > 3600000) {
		add("timeout: must be 1-3600000 ms")
	}
	if ch.MaxBodyAgeDays != nil {
		if *ch.MaxBodyAgeDays < 1 || *ch.MaxBodyAgeDays > 36499 {
			add("maxBodyAgeDays: must be 1-36499")
		}
		if !isTrue(ch.RequestBody) && !isTrue(ch.ResponseBody) {
			add("maxBodyAgeDays: needs requestBody or responseBody")
		}
	}
	if ch.AutoRetryPeriodMinutes != nil && *ch.AutoRetryPeriodMinutes < 1 {
		add("autoRetryPeriodMinutes: must be at least 1")
	}
	if ch.AutoRetryMaxAttempts != nil && *ch.AutoRetryMaxAttempts < 0 {
		add("autoRetryMaxAttempts: must be at least 0 (0 = unlimited)")
	}
	if len(ch.Routes) == 0 {
		add("routes: at least one route is required")
	}
	primaries := 0
	for i, r := range ch.Routes {
		if isTrue(r.Primary) && r.Status != "disabled" {
			primaries++
		}
		for _, err := range validateRoute(r) {
			add("routes[%d] (%s): %w", i, r.Name, err)
		}
		if typ == "polling" && isTrue(r.Primary) && r.Path == "" {
			add("routes[%d] (%s): a polling channel's route needs a path (core polls /trigger otherwise)", i, r.Name)
		}
	}
	if len(ch.Routes) > 0 && primaries != 1 {
		add("routes: exactly one enabled primary route is required, found %d", primaries)
	}
	return errs
}

func validateRoute(r Route) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(r.Name) == "" {
		add("name: required")
	}
	if r.Type != "" && r.Type != "http" {
		add("type %q: only http routes work with every core version", r.Type)
	}
	if strings.TrimSpace(r.Host) == "" {
		add("host: required")
	}
	if r.Port < 1 || r.Port > 65535 {
		add("port %d: must be 1-65535", r.Port)
	}
	if r.Path != "" && r.PathTransform != "" {
		add("path and pathTransform: set one, not both")
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		add("path %q: must start with /", r.Path)
	}
	if r.PathTransform != "" && !pathTransform.MatchString(r.PathTransform) {
		add("pathTransform %q: must look like s/from/to or s/from/to/g", r.PathTransform)
	}
	if r.Status != "" && r.Status != "enabled" && r.Status != "disabled" {
		add("status %q: must be enabled or disabled", r.Status)
	}
	if (r.Username == "") != (r.Password == "") {
		add("username and password: set both or neither")
	}
	return errs
}

func isTrue(b *bool) bool { return b != nil && *b }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// knownFields are the JSON names of the fields of the registration types.
var knownFields = func() map[string]bool {
	known := map[string]bool{}
	for _, t := range []reflect.Type{reflect.TypeFor[Registration](), reflect.TypeFor[Route](), reflect.TypeFor[Channel](), reflect.TypeFor[ConfigDef]()} {
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			known[name] = true
		}
	}
	return known
}()

// opaqueFields hold free-form objects whose keys are not field names.
var opaqueFields = map[string]bool{"config": true, "alerts": true, "rewriteUrlsConfig": true, "properties": true}

// checkFieldNames reports an object key that is not exactly the name of a
// field (a name that differs only in case is an error).
func checkFieldNames(v any, path string) error {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			at := k
			if path != "" {
				at = path + "." + k
			}
			if !knownFields[k] {
				return fmt.Errorf("unknown field %q at %s (field names are case-sensitive)", k, at)
			}
			if opaqueFields[k] {
				continue
			}
			if err := checkFieldNames(x[k], at); err != nil {
				return err
			}
		}
	case []any:
		for i, el := range x {
			if err := checkFieldNames(el, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}
