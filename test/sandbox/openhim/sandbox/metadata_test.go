package sandbox

import (
	"strings"
	"testing"
)

const metadataDoc = `{
  "Clients": [ { "clientID": "emr", "name": "Clinic EMR", "roles": ["emr"] } ],
  "Channels": [
    { "name": "Patient Lookup", "urlPattern": "^/patient$", "methods": ["GET"], "allow": ["emr"],
      "routes": [ { "name": "Patient Lookup", "host": "patient-mediator", "port": 8090, "primary": true } ] },
    { "name": "No primary", "urlPattern": "^/np$", "methods": ["GET"], "routes": [ { "name": "r", "host": "h", "port": 1 } ] },
    { "name": "Broken", "methods": ["GET"] }
  ],
  "Keys": [ { "a": 1 } ]
}`

func TestImportMetadata(t *testing.T) {
	e := newEnv(t)
	res, err := e.s.ImportMetadata([]byte(metadataDoc))
	if err != nil {
		t.Fatal(err)
	}
	type item struct{ model, status, message string }
	want := []item{
		{"Clients", "Inserted", ""},
		{"Channels", "Inserted", ""},
		{"Channels", "Inserted", ""}, // no API checks: no primary route is fine
		{"Channels", "Error", "Channel validation failed: urlPattern: Path `urlPattern` is required."},
		{"Keys", "Error", "Invalid Collection in Import Object"},
	}
	if len(res) != len(want) {
		t.Fatalf("results %+v", res)
	}
	for i, w := range want {
		if res[i].Model != w.model || res[i].Status != w.status || res[i].Message != w.message {
			t.Errorf("result %d = %s %s %q; want %s %s %q", i, res[i].Model, res[i].Status, res[i].Message, w.model, w.status, w.message)
		}
	}
	if res[1].UID != "Patient Lookup" {
		t.Errorf("uid %v", res[1].UID)
	}
	if chans := e.s.Channels(); len(chans) != 2 || chans[0].AuthType != "private" || chans[0].Routes[0].Type != "http" {
		t.Errorf("channels %+v", chans)
	}

	// Again: upserts by name / clientID.
	res, _ = e.s.ImportMetadata([]byte(`{"Channels":[{"name":"Patient Lookup","urlPattern":"^/patient/v2$"}],"Clients":[{"clientID":"emr","name":"EMR 2"}]}`))
	if res[0].Status != "Updated" || res[1].Status != "Updated" {
		t.Errorf("re-import %+v", res)
	}
	if ch := e.s.Channels()[0]; ch.URLPattern != "^/patient/v2$" || len(ch.Routes) != 1 {
		t.Errorf("updated channel %+v; want urlPattern set and routes kept", ch)
	}

	// Through the API: an array body imports nothing and still answers 201.
	r := e.apiCall("POST", "/metadata", `[`+metadataDoc+`]`)
	if r.status != 201 || r.body != "[]" {
		t.Errorf("POST /metadata with an array = %d %s", r.status, r.body)
	}
	r = e.apiCall("POST", "/metadata/validate", `{"Channels":[{"name":"Patient Lookup","urlPattern":"x"},{"name":"New","urlPattern":"x"},{"name":"Bad"}]}`)
	got := mustJSON(t, r.body).([]any)
	var statuses []string
	for _, g := range got {
		statuses = append(statuses, g.(map[string]any)["status"].(string))
	}
	if r.status != 201 || strings.Join(statuses, ",") != "Conflict,Valid,Error" {
		t.Errorf("validate = %d %s", r.status, r.body)
	}
	if len(e.s.Channels()) != 2 {
		t.Error("validate wrote channels")
	}

	// GET /metadata returns an array holding one object without ids.
	r = e.apiCall("GET", "/metadata", "")
	if r.status != 200 || !strings.HasPrefix(r.body, `[{"Channels":[{"name":"Patient Lookup"`) || strings.Contains(r.body, `"_id"`) {
		t.Errorf("GET /metadata = %d %s", r.status, r.body)
	}
	// … which imports back as Updated.
	exp := mustJSON(t, r.body).([]any)[0]
	res, _ = e.s.ImportMetadata([]byte(jsonString(exp)))
	for _, x := range res {
		if x.Status != "Updated" {
			t.Errorf("re-import of the export: %+v", x)
		}
	}
}

func TestImportMetadata_mediators(t *testing.T) {
	e := newEnv(t)
	res, _ := e.s.ImportMetadata([]byte(`{"Mediators":[{"urn":"urn:mediator:test","version":"1.0.0","name":"M","endpoints":[{"name":"e"}],"config":{"a":1}}]}`))
	if res[0].Status != "Inserted" {
		t.Fatalf("%+v", res)
	}
	if r := e.apiCall("POST", hbPath, `{"uptime":1,"config":true}`); r.status != 200 || r.body != `{"a":1}` {
		t.Errorf("heartbeat of an imported mediator = %d %q", r.status, r.body)
	}
}
