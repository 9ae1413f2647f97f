package cht

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestClient_Users(t *testing.T) {
	f := newFakeCouch(t)
	f.put("org.couchdb.user:amina", map[string]any{"_id": "org.couchdb.user:amina", "type": "user-settings", "name": "amina",
		"fullname": "Amina CHW", "contact_id": "p1", "facility_id": "area1", "roles": []string{"chw"}})
	f.put("org.couchdb.user:multi", map[string]any{"_id": "org.couchdb.user:multi", "type": "user-settings", "name": "multi",
		"contact_id": "p2", "facility_id": []any{"area2", "area3", 7}, "roles": "chw_supervisor"})
	f.put("org.couchdb.user:noname", map[string]any{"_id": "org.couchdb.user:noname", "type": "user-settings", "roles": []string{"chw"}})
	f.put("org.couchdb.user:other", map[string]any{"_id": "org.couchdb.user:other", "type": "person"})
	f.put("org.couchdb.user:gone", map[string]any{"_id": "org.couchdb.user:gone", "type": "user-settings", "name": "gone",
		"contact_id": "p9", "roles": []string{"chw"}, "inactive": true, "deletion_date": 1700000000000})
	f.put("org.couchdb.userX", map[string]any{"_id": "org.couchdb.userX", "type": "user-settings", "name": "x"})
	f.put("p1", map[string]any{"_id": "p1", "type": "person"})
	c, _ := f.start(testConfig())
	var got []User
	if err := c.Users(context.Background(), func(u User) error { got = append(got, u); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []User{
		{Name: "amina", FullName: "Amina CHW", ContactID: "p1", FacilityIDs: []string{"area1"}, Roles: []string{"chw"}},
		{Name: "multi", ContactID: "p2", FacilityIDs: []string{"area2", "area3"}, Roles: []string{"chw_supervisor"}},
		{Name: "noname", Roles: []string{"chw"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Users() =\n%+v\nwant\n%+v", got, want)
	}
	stop := errors.New("stop")
	if err := c.Users(context.Background(), func(User) error { return stop }); err != stop {
		t.Errorf("Users() with a failing fn = %v; want it as is", err)
	}
}

func TestClient_LastReplications_noLogsDatabase(t *testing.T) {
	f := newFakeCouch(t) // serves medic only: medic-logs answers 404
	c, _ := f.start(testConfig())
	_, err := c.LastReplications(context.Background())
	if !errors.Is(err, ErrNoLogsAccess) || !errors.Is(err, ErrNotFound) {
		t.Errorf("LastReplications() = %v; want ErrNoLogsAccess and ErrNotFound", err)
	}
	if c.LogsDatabase() != "medic-logs" {
		t.Errorf("LogsDatabase() = %q", c.LogsDatabase())
	}
}

func TestSettings_Offline(t *testing.T) {
	s := Settings{
		Roles:       map[string]Role{"chw": {Offline: true}, "manager": {Offline: false}, "data_entry": {}},
		Permissions: map[string][]string{"can_view_analytics": {"chw"}, "can_view_tasks": {"nurse"}},
	}
	tests := []struct {
		roles                   []string
		offline, computeTargets bool
	}{
		{nil, false, false},
		{[]string{"chw"}, true, true},
		{[]string{"chw", "mm-online"}, false, false},
		{[]string{"admin"}, false, false},
		{[]string{"_admin", "chw"}, false, false},
		{[]string{"manager"}, false, false},
		{[]string{"manager", "chw"}, true, true},
		{[]string{"nurse"}, true, true},        // not configured: offline
		{[]string{"unlisted"}, true, false},    // offline, but no permission to compute targets
		{[]string{"data_entry"}, false, false}, // configured without offline: true
	}
	for _, tt := range tests {
		if got := s.Offline(tt.roles); got != tt.offline {
			t.Errorf("Offline(%v) = %v; want %v", tt.roles, got, tt.offline)
		}
		if got := s.ComputesTargets(tt.roles); got != tt.computeTargets {
			t.Errorf("ComputesTargets(%v) = %v; want %v", tt.roles, got, tt.computeTargets)
		}
	}
	if !(Settings{}).ComputesTargets([]string{"anything"}) {
		t.Error("without permissions in app_settings, an offline user should count as computing targets")
	}
}
