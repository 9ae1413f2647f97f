// Package test holds the end-to-end tests: the mediator against a real
// CouchDB-compatible server (pouchdb-server, installed by "make test" with
// npm ci) loaded with CHT-shaped data. TestMain starts one server for the
// package; each test uses databases of its own. "go test -short" skips them.
package test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// Credentials of the test server: a server admin that is also the only
// member of every test database, so anonymous and wrong-password reads are
// refused as on CHT's CouchDB.
const (
	chtUser     = "medic-api"
	chtPassword = "e2e-Secret-Passw0rd"
)

var (
	couch    *couchdb.Server
	mediator string // path of the built binary
	skipAll  string // why the package is skipped, when it is
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		skipAll = "end-to-end tests skipped with -short"
		os.Exit(m.Run())
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	couch, err = couchdb.Start(ctx, couchdb.Options{AdminUser: chtUser, AdminPassword: chtPassword})
	if err != nil {
		fmt.Fprintf(os.Stderr, "test: start pouchdb-server: %v\n", err)
		return 1
	}
	defer couch.Stop()
	dir, err := os.MkdirTemp("", "mediator-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	mediator = filepath.Join(dir, "mediator")
	build := exec.CommandContext(ctx, "go", "build", "-race", "-o", mediator, "../mediator")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "test: build mediator: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// requireServer skips the test under -short.
func requireServer(t *testing.T) {
	t.Helper()
	if skipAll != "" {
		t.Skip(skipAll)
	}
}

// newDB creates a fresh database on the test server and loads docs into it;
// the seed.LogDocs among them (CHT's replication logs) go into the logs
// database <name>-logs, as on CHT.
func newDB(t *testing.T, name string, docs []any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	docs, logs := seed.SplitLogs(docs)
	if err := couch.CreateDB(ctx, name); err != nil {
		t.Fatalf("create db %s: %v", name, err)
	}
	if err := couch.BulkDocs(ctx, name, docs); err != nil {
		t.Fatalf("load %d docs into %s: %v", len(docs), name, err)
	}
	if len(logs) == 0 {
		return
	}
	if err := couch.CreateDB(ctx, name+"-logs"); err != nil {
		t.Fatalf("create db %s-logs: %v", name, err)
	}
	if err := couch.BulkDocs(ctx, name+"-logs", logs); err != nil {
		t.Fatalf("load %d docs into %s-logs: %v", len(logs), name, err)
	}
}

// chtConfig is the mediator configuration reading database db of the test
// server, with overrides by key.
func chtConfig(t *testing.T, db string, overrides map[string]string) config.Config {
	t.Helper()
	flags := map[string]string{
		"cht.url":      couch.URL(),
		"cht.username": chtUser,
		"cht.password": chtPassword,
		"cht.database": db,
		"cht.timeout":  "2m",
	}
	for k, v := range overrides {
		flags[k] = v
	}
	cfg, err := config.Load(config.Sources{Flags: flags})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// newService builds the export service of the real program for db.
func newService(t *testing.T, db string, overrides map[string]string, logs io.Writer) *export.Service {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	cfg := chtConfig(t, db, overrides)
	svc, err := app.NewExportService(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), cfg.DHIS2.URL != "")
	if err != nil {
		t.Fatalf("NewExportService: %v", err)
	}
	return svc
}

// splitReadiness separates the readiness summary that preview and export
// print on stderr (lines starting with "readiness ") from the rest.
func splitReadiness(stderr string) (rest, summary string) {
	var r, sm []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if strings.HasPrefix(l, "readiness ") {
			sm = append(sm, l)
		} else if l != "" {
			r = append(r, l)
		}
	}
	return strings.Join(r, ""), strings.Join(sm, "")
}
