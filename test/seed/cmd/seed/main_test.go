package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
)

func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pouchdb-server (node); skipped with -short")
	}
	s := couchdb.StartT(t, couchdb.Options{AdminUser: "admin", AdminPassword: "pw"})
	args := []string{"--url", s.URL(), "--user", "admin", "--password", "pw", "--now", "2026-11-22"}

	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"no url", nil, 2, "", "--url is required"},
		{"bad now", []string{"--url", s.URL(), "--now", "22/11/2026"}, 2, "", "want YYYY-MM-DD"},
		{"anonymous create", []string{"--url", s.URL(), "--db", "other"}, 1, "", "server admin credentials needed"},
		{"load", args, 0, "loaded 172 docs into " + s.URL() + "/medic", ""},
		{"load again", args, 1, "", "already has a settings doc"},
		{"wrong password", []string{"--url", s.URL(), "--user", "admin", "--password", "nope"}, 1, "", "status 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errOut.String(), tt.err) {
				t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out.String(), errOut.String(), tt.code, tt.out, tt.err)
			}
		})
	}
	// The server survived the anonymous attempt, and the demo is readable.
	var info struct {
		DocCount int `json:"doc_count"`
	}
	if err := s.Do(context.Background(), "GET", "/medic", nil, &info); err != nil || info.DocCount != 172 {
		t.Errorf("GET /medic = %+v, %v; want 172 docs", info, err)
	}
}
