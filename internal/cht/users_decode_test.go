package cht

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// lastMembers is a reference reader of a JSON object's members built on
// encoding/json alone: exact names, the last of repeated names counts.
func lastMembers(raw []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

// refUserString decodes raw with encoding/json when it is a JSON string.
func refUserString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func refUserStrings(raw json.RawMessage) []string {
	if s, ok := refUserString(raw); ok {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	var elems []json.RawMessage
	if !isArray(raw) || json.Unmarshal(raw, &elems) != nil {
		return nil
	}
	var out []string
	for _, e := range elems {
		if s, ok := refUserString(e); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// refDecodeUser is decodeUser written with encoding/json.
func refDecodeUser(id string, raw []byte) (User, bool) {
	m, ok := lastMembers(raw)
	if !ok {
		return User{}, false
	}
	if t, ok := refUserString(m["type"]); !ok || t != "user-settings" || truthy(m["inactive"]) {
		return User{}, false
	}
	u := User{Name: strings.TrimPrefix(id, UserSettingsPrefix)}
	if n, ok := refUserString(m["name"]); ok && n != "" {
		u.Name = n
	}
	u.FullName, _ = refUserString(m["fullname"])
	u.ContactID, _ = refUserString(m["contact_id"])
	u.FacilityIDs = refUserStrings(m["facility_id"])
	u.Roles = refUserStrings(m["roles"])
	return u, u.Name != ""
}

// refDecodeReplicationLog is decodeReplicationLog written with encoding/json.
func refDecodeReplicationLog(id string, raw []byte) (string, float64, bool) {
	m, ok := lastMembers(raw)
	if !ok {
		return "", 0, false
	}
	user, ok := refUserString(m["user"])
	if !ok || user == "" {
		user = strings.TrimPrefix(id, ReplicationLogPrefix)
	}
	var ms float64
	if json.Unmarshal(m["date"], &ms) != nil || ms <= 0 { // null leaves ms at 0
		return "", 0, false
	}
	return user, ms, true
}

func TestDecodeUser(t *testing.T) {
	const id = "org.couchdb.user:amina"
	tests := []struct {
		name string
		doc  string
		want User
		ok   bool
	}{
		{"usual", `{"_id":"org.couchdb.user:amina","type":"user-settings","name":"amina","fullname":"Amina CHW","contact_id":"p1","facility_id":"area1","roles":["chw"],"known":true}`,
			User{Name: "amina", FullName: "Amina CHW", ContactID: "p1", FacilityIDs: []string{"area1"}, Roles: []string{"chw"}}, true},
		{"several places, one role as a string", `{"type":"user-settings","name":"m","facility_id":["a2","",7,"a3"],"roles":"chw_supervisor"}`,
			User{Name: "m", FacilityIDs: []string{"a2", "a3"}, Roles: []string{"chw_supervisor"}}, true},
		{"name from the id", `{"type":"user-settings","name":"","roles":["chw"]}`, User{Name: "amina", Roles: []string{"chw"}}, true},
		{"escaped strings", `{"type":"user-settings","name":"a\u00efcha","fullname":"A \"B\""}`, User{Name: "aïcha", FullName: `A "B"`}, true},
		{"last of repeated names", `{"type":"user-settings","name":"first","name":"second"}`, User{Name: "second"}, true},
		{"lone surrogate", `{"type":"user-settings","name":"a\ud800b"}`, User{Name: "a\ufffdb"}, true},
		{"names match exactly", `{"type":"user-settings","Name":"other","ROLES":["x"]}`, User{Name: "amina"}, true},
		{"inactive", `{"type":"user-settings","name":"a","inactive":true}`, User{}, false},
		{"inactive false", `{"type":"user-settings","name":"a","inactive":false}`, User{Name: "a"}, true},
		{"inactive 0", `{"type":"user-settings","name":"a","inactive":0}`, User{Name: "a"}, true},
		{"inactive 1", `{"type":"user-settings","name":"a","inactive":1}`, User{}, false},
		{"another type", `{"type":"person","name":"a"}`, User{}, false},
		{"type not a string", `{"type":1,"name":"a"}`, User{}, false},
		{"not an object", `["type","user-settings"]`, User{}, false},
		{"not JSON", `{"type":`, User{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := decodeUser(id, []byte(tt.doc))
			if ok != tt.ok || (ok && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("decodeUser(%s) = %+v, %v; want %+v, %v", tt.doc, got, ok, tt.want, tt.ok)
			}
			ref, refOK := refDecodeUser(id, []byte(tt.doc))
			if ok != refOK || !reflect.DeepEqual(got, ref) {
				t.Errorf("reference decoder: %+v, %v", ref, refOK)
			}
		})
	}
}

func TestDecodeReplicationLog(t *testing.T) {
	const id = "replication-count-amina"
	tests := []struct {
		doc  string
		user string
		ms   float64
		ok   bool
	}{
		{`{"_id":"replication-count-amina","user":"amina","date":1717200000000,"count":3}`, "amina", 1717200000000, true},
		{`{"date":1.7172e12}`, "amina", 1.7172e12, true},
		{`{"user":"","date":5}`, "amina", 5, true},
		{`{"user":7,"date":5}`, "amina", 5, true},
		{`{"user":"b","date":5,"date":6}`, "b", 6, true},
		{`{"user":"amina","date":"1717200000000"}`, "", 0, false},
		{`{"user":"amina","date":0}`, "", 0, false},
		{`{"user":"amina","date":-5}`, "", 0, false},
		{`{"user":"amina","date":null}`, "", 0, false},
		{`{"user":"amina","date":1e400}`, "", 0, false},
		{`{"user":"amina"}`, "", 0, false},
		{`[1]`, "", 0, false},
	}
	for _, tt := range tests {
		user, ms, ok := decodeReplicationLog(id, []byte(tt.doc))
		if user != tt.user || ms != tt.ms || ok != tt.ok {
			t.Errorf("decodeReplicationLog(%s) = %q, %v, %v; want %q, %v, %v", tt.doc, user, ms, ok, tt.user, tt.ms, tt.ok)
		}
		if u, m, o := refDecodeReplicationLog(id, []byte(tt.doc)); u != user || m != ms || o != ok {
			t.Errorf("reference decoder on %s: %q, %v, %v", tt.doc, u, m, o)
		}
	}
}

func FuzzDecodeUser(f *testing.F) {
	f.Add([]byte(`{"type":"user-settings","name":"amina","fullname":"A","contact_id":"p1","facility_id":["a",1],"roles":"chw","inactive":0}`))
	f.Add([]byte(`{"type":"user-settings","name":"x","name":"y","inactive":"","roles":[""]}`))
	f.Add([]byte(`{"type":"user-settings","inactive":-0.0e5}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) { // a row of a validated answer
			return
		}
		got, ok := decodeUser("org.couchdb.user:z", doc)
		want, wantOK := refDecodeUser("org.couchdb.user:z", doc)
		if ok != wantOK || !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeUser(%s) = %+v, %v; reference %+v, %v", doc, got, ok, want, wantOK)
		}
	})
}

func FuzzDecodeReplicationLog(f *testing.F) {
	f.Add([]byte(`{"user":"amina","date":1717200000000}`))
	f.Add([]byte(`{"user":1,"date":1e-3,"date":2}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) { // a row of a validated answer
			return
		}
		user, ms, ok := decodeReplicationLog("replication-count-z", doc)
		wu, wms, wok := refDecodeReplicationLog("replication-count-z", doc)
		if user != wu || ms != wms || ok != wok {
			t.Fatalf("decodeReplicationLog(%s) = %q, %v, %v; reference %q, %v, %v", doc, user, ms, ok, wu, wms, wok)
		}
	})
}
