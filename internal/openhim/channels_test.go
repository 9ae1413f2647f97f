package openhim

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// metadata is core's /metadata import format (OpenHIM core src/api/metadata.js), as far as
// channels/ uses it.
type metadata struct {
	Channels []Channel        `json:"Channels"`
	Clients  []metadataClient `json:"Clients"`
}

type metadataClient struct {
	ClientID          string   `json:"clientID"`
	Name              string   `json:"name"`
	Roles             []string `json:"roles"`
	PasswordAlgorithm string   `json:"passwordAlgorithm"`
	PasswordHash      string   `json:"passwordHash"`
	PasswordSalt      string   `json:"passwordSalt"`
}

// The password of the demo client, documented in docker/README.md.
const demoClientPassword = "cht-dhis2-demo-only"

func readMetadata(t *testing.T) map[string]metadata {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "channels", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no channels/*.json: %v", err)
	}
	out := map[string]metadata{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// An array imports nothing and still answers 201 (OpenHIM core src/api/metadata.js).
		if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			t.Errorf("%s: must be one JSON object keyed by collection, not an array", f)
			continue
		}
		var generic map[string]any
		if err := json.Unmarshal(data, &generic); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k := range generic {
			if k != "Channels" && k != "Clients" {
				t.Errorf("%s: collection %q; want Channels or Clients", f, k)
			}
		}
		if err := checkFieldNames(generic["Channels"], "Channels"); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var md metadata
		if err := dec.Decode(&md); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = md
	}
	return out
}

func TestChannels(t *testing.T) {
	all := readMetadata(t)
	var channels []Channel
	names := map[string]bool{}
	for file, md := range all {
		for _, ch := range md.Channels {
			channels = append(channels, ch)
			if names[ch.Name] {
				t.Errorf("%s: channel %q twice", file, ch.Name)
			}
			names[ch.Name] = true
			for _, err := range ValidateChannel(ch) {
				t.Errorf("%s: channel %q: %v", file, ch.Name, err)
			}
			for _, r := range ch.Routes {
				if r.Host != "cht-dhis2-mediator" || r.Port != 8544 {
					t.Errorf("%s: channel %q route %q goes to %s:%d; want cht-dhis2-mediator:8544", file, ch.Name, r.Name, r.Host, r.Port)
				}
			}
			if !slices.Contains(ch.Allow, "cht-dhis2") || ch.AuthType != "private" {
				t.Errorf("%s: channel %q: authType %q allow %v; want private, allowing role cht-dhis2", file, ch.Name, ch.AuthType, ch.Allow)
			}
		}
	}
	want := map[string]struct {
		typ, path  string
		methods    []string
		match      []string
		notMatch   []string
		scheduleOn string
	}{
		"CHT DHIS2 export": {typ: "http", path: "/export", methods: []string{"GET", "POST"},
			match: []string{"/cht-dhis2/export"}, notMatch: []string{"/cht-dhis2/export/x", "/x/cht-dhis2/export", "/cht-dhis2/exports"}},
		"CHT DHIS2 export (asynchronous)": {typ: "http", path: "/export/async", methods: []string{"GET", "POST"},
			match: []string{"/cht-dhis2/export/async"}, notMatch: []string{"/cht-dhis2/export", "/cht-dhis2/export/async/x"}},
		"CHT DHIS2 data value sets": {typ: "http", path: "/dataValueSets", methods: []string{"GET"},
			match: []string{"/cht-dhis2/dataValueSets"}, notMatch: []string{"/cht-dhis2/dataValueSets.json", "/api/dataValueSets"}},
		"CHT DHIS2 monthly export": {typ: "polling", path: "/export", methods: []string{"GET"}, scheduleOn: "0 2 5 * *"},
		"CHT DHIS2 readiness": {typ: "http", path: "/readiness", methods: []string{"GET"},
			match: []string{"/cht-dhis2/readiness"}, notMatch: []string{"/cht-dhis2/readiness/x", "/readiness"}},
	}
	for name, w := range want {
		i := slices.IndexFunc(channels, func(c Channel) bool { return c.Name == name })
		if i < 0 {
			t.Errorf("channels/: no channel %q", name)
			continue
		}
		ch := channels[i]
		if ch.Type != w.typ {
			t.Errorf("%s: type %q; want %q", name, ch.Type, w.typ)
		}
		if !slices.Equal(ch.Methods, w.methods) {
			t.Errorf("%s: methods %v; want %v", name, ch.Methods, w.methods)
		}
		if p := primaryRoute(ch); p == nil || p.Path != w.path {
			t.Errorf("%s: primary route path %v; want %s", name, p, w.path)
		}
		re := regexp.MustCompile(ch.URLPattern)
		for _, p := range w.match {
			if !re.MatchString(p) {
				t.Errorf("%s: urlPattern %s does not match %s", name, ch.URLPattern, p)
			}
		}
		for _, p := range w.notMatch {
			if re.MatchString(p) {
				t.Errorf("%s: urlPattern %s matches %s", name, ch.URLPattern, p)
			}
		}
		if ch.Type == "polling" {
			if ch.PollingSchedule != w.scheduleOn {
				t.Errorf("%s: pollingSchedule %q; want %q (02:00 on the 5th of every month)", name, ch.PollingSchedule, w.scheduleOn)
			}
			if f := strings.Fields(ch.PollingSchedule); len(f) != 5 {
				t.Errorf("%s: pollingSchedule %q is not a 5-field cron expression", name, ch.PollingSchedule)
			}
		}
		if name == "CHT DHIS2 export (asynchronous)" {
			if ch.IsAsynchronousProcess == nil || !*ch.IsAsynchronousProcess {
				t.Errorf("%s: isAsynchronousProcess is not true", name)
			}
			continue // answered at once
		}
		// An export runs for minutes; core's default route timeout is 60 s.
		if ch.Timeout == nil || *ch.Timeout < 300000 {
			t.Errorf("%s: timeout %v; want at least 300000 ms", name, ch.Timeout)
		}
	}
}

func primaryRoute(ch Channel) *Route {
	for i := range ch.Routes {
		if isTrue(ch.Routes[i].Primary) {
			return &ch.Routes[i]
		}
	}
	return nil
}

// mediator.json offers the same channels as channels/ (the console's
// "install channel" button and the metadata import give the same result).
func TestChannels_sameAsDefaultChannelConfig(t *testing.T) {
	reg, err := LoadRegistration(readMediatorJSON(t), "")
	if err != nil {
		t.Fatal(err)
	}
	md := readMetadata(t)["channels.json"]
	if !reflect.DeepEqual(md.Channels, reg.DefaultChannelConfig) {
		a, _ := json.MarshalIndent(md.Channels, "", " ")
		b, _ := json.MarshalIndent(reg.DefaultChannelConfig, "", " ")
		t.Errorf("channels/channels.json and mediator.json defaultChannelConfig differ:\n%s\n---\n%s", a, b)
	}
}

func TestChannels_demoClient(t *testing.T) {
	clients := readMetadata(t)["demo-client.json"].Clients
	if len(clients) != 1 {
		t.Fatalf("demo-client.json: %d clients; want 1", len(clients))
	}
	c := clients[0]
	if c.ClientID != "cht-dhis2-operator" || !slices.Equal(c.Roles, []string{"cht-dhis2"}) {
		t.Errorf("client %s roles %v; want cht-dhis2-operator with role cht-dhis2", c.ClientID, c.Roles)
	}
	if c.ClientID == "cht-dhis2" {
		t.Errorf("a clientID may not equal a role name in core master")
	}
	if !strings.Contains(c.Name, "DEMO") {
		t.Errorf("client name %q does not say it is a demo client", c.Name)
	}
	// Core checks hex(sha512(password + salt)): password first (OpenHIM core src/middleware/basicAuthentication.js).
	sum := sha512.Sum512([]byte(demoClientPassword + c.PasswordSalt))
	if c.PasswordAlgorithm != "sha512" || c.PasswordHash != hex.EncodeToString(sum[:]) {
		t.Errorf("client %s: passwordHash is not sha512(%q + salt)", c.ClientID, demoClientPassword)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "docker", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), demoClientPassword) {
		t.Errorf("docker/README.md does not document the demo client's password")
	}
}

func TestValidateChannel(t *testing.T) {
	yes := true
	ok := func() Channel {
		return Channel{Name: "c", URLPattern: "^/c$", Methods: []string{"GET"}, AuthType: "private", Allow: []string{"r"},
			Routes: []Route{{Name: "r", Host: "h", Port: 1, Primary: &yes}}}
	}
	tests := []struct {
		name string
		mod  func(c *Channel)
		want string
	}{
		{"valid", func(*Channel) {}, ""},
		{"no name", func(c *Channel) { c.Name = "" }, "name: required"},
		{"unanchored", func(c *Channel) { c.URLPattern = "/c" }, "anchor it with ^…$"},
		{"bad regex", func(c *Channel) { c.URLPattern = "^/c($" }, "not a regular expression"},
		{"no methods", func(c *Channel) { c.Methods = nil }, "methods: required"},
		{"bad method", func(c *Channel) { c.Methods = []string{"get"} }, `methods: "get" is not one of`},
		{"duplicate method", func(c *Channel) { c.Methods = []string{"GET", "GET"} }, "methods: GET listed twice"},
		{"no primary", func(c *Channel) { c.Routes[0].Primary = nil }, "found 0"},
		{"disabled primary", func(c *Channel) { c.Routes[0].Status = "disabled" }, "found 0"},
		{"no routes", func(c *Channel) { c.Routes = nil }, "routes: at least one route"},
		{"polling without schedule", func(c *Channel) { c.Type = "polling"; c.Routes[0].Path = "/x" }, "pollingSchedule: required"},
		{"polling with POST", func(c *Channel) {
			c.Type, c.PollingSchedule, c.Methods, c.Routes[0].Path = "polling", "1 minute", []string{"GET", "POST"}, "/x"
		}, "exactly GET"},
		{"polling without path", func(c *Channel) { c.Type, c.PollingSchedule = "polling", "1 minute" }, "needs a path"},
		{"schedule on http", func(c *Channel) { c.PollingSchedule = "1 minute" }, "only for polling"},
		{"private without allow", func(c *Channel) { c.Allow = nil }, "allow:"},
		{"public", func(c *Channel) { c.Allow, c.AuthType = nil, "public" }, ""},
		{"timeout", func(c *Channel) { z := 0; c.Timeout = &z }, "timeout: must be 1-3600000"},
		{"maxBodyAgeDays without bodies", func(c *Channel) { d := 30; c.MaxBodyAgeDays = &d }, "needs requestBody or responseBody"},
		{"route credentials half", func(c *Channel) { c.Routes[0].Username = "u" }, "username and password: set both"},
		{"pathTransform", func(c *Channel) { c.Routes[0].PathTransform = "x/a/b" }, "must look like s/from/to"},
		{"pathTransform ok", func(c *Channel) { c.Routes[0].PathTransform = "s/cht-dhis2\\/export/export/g" }, ""},
		{"type", func(c *Channel) { c.Type = "https" }, `type "https"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mod(&c)
			errs := ValidateChannel(c)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Errorf("ValidateChannel() = %v; want no error", errs)
				}
				return
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), tt.want) {
					return
				}
			}
			t.Errorf("ValidateChannel() = %v; want an error containing %q", errs, tt.want)
		})
	}
}
