// Command seed loads the demo data into a CouchDB-compatible server: the
// medic settings doc, the medic-admin design doc and the demo district (a
// year of target docs ending last month).
//
//	go run ./test/seed/cmd/seed --url http://127.0.0.1:5984 [--user u --password p] [--db medic] [--now 2026-11-22]
//
// The password may also come from the SEED_PASSWORD environment variable.
// The database is created when missing; a database created with --user gets
// a _security object naming that user as its only member, so anonymous reads
// are refused as on CHT's CouchDB. Loading twice fails with conflicts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		rawURL   = fs.String("url", "", "server base URL, without credentials (required)")
		user     = fs.String("user", "", "user name for basic auth")
		password = fs.String("password", os.Getenv("SEED_PASSWORD"), "password (default $SEED_PASSWORD)")
		db       = fs.String("db", "medic", "database")
		now      = fs.String("now", time.Now().Format("2006-01-02"), "today, YYYY-MM-DD: target docs end the month before")
		months   = fs.Int("months", 12, "months of target docs")
		seedNum  = fs.Uint64("seed", 1, "random seed")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *rawURL == "" {
		fmt.Fprintln(stderr, "seed: --url is required")
		fs.Usage()
		return 2
	}
	today, err := time.Parse("2006-01-02", *now)
	if err != nil {
		fmt.Fprintf(stderr, "seed: --now %q: want YYYY-MM-DD\n", *now)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := load(ctx, stdout, *rawURL, *user, *password, *db, today, *months, *seedNum); err != nil {
		fmt.Fprintf(stderr, "seed: %v\n", err)
		return 1
	}
	return 0
}

func load(ctx context.Context, stdout io.Writer, rawURL, user, password, db string, now time.Time, months int, seedNum uint64) error {
	c, err := couchdb.NewClient(rawURL, user, password)
	if err != nil {
		return err
	}
	exists, err := c.DBExists(ctx, db)
	if err != nil {
		return err
	}
	if !exists {
		// Creating needs a server admin; an anonymous PUT /<db> would even
		// crash pouchdb-server once its admin party is over.
		if err := requireAdmin(ctx, c); err != nil {
			return fmt.Errorf("create db %s: %w", db, err)
		}
		err := c.CreateDB(ctx, db)
		if err != nil && !errors.Is(err, couchdb.ErrExists) {
			return err
		}
		if err == nil && user != "" {
			sec := couchdb.Security{Members: couchdb.Members{Names: []string{user}, Roles: []string{"_admin"}}}
			if err := c.PutSecurity(ctx, db, sec); err != nil {
				return err
			}
		}
	} else {
		var se *couchdb.StatusError
		switch err := c.Do(ctx, http.MethodGet, "/"+url.PathEscape(db)+"/settings", nil, nil); {
		case err == nil:
			return fmt.Errorf("database %s already has a settings doc: seed a fresh database", db)
		case errors.As(err, &se) && se.StatusCode == http.StatusNotFound:
		default:
			return err
		}
	}
	end := seed.LastMonth(now)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{Seed: seedNum, End: end, Months: months})
	if err != nil {
		return err
	}
	docs, logs := seed.SplitLogs(docs)
	if err := c.BulkDocs(ctx, db, docs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d docs into %s/%s\n", len(docs), c.URL(), db)
	// CHT's replication logs (who synced when) live in <db>-logs.
	if err := c.CreateDB(ctx, db+"-logs"); err != nil && !errors.Is(err, couchdb.ErrExists) {
		return err
	}
	if err := c.BulkDocs(ctx, db+"-logs", logs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d replication logs into %s/%s-logs\n", len(logs), c.URL(), db)
	fmt.Fprintf(stdout, "data set %s, target docs %s..%s (%d CHWs), latest period %s\n",
		m.DataSet, m.Months[0], m.Months[len(m.Months)-1], len(m.CHWs), end.Period())
	for _, ou := range m.OrgUnits {
		scope := "all data sets"
		if ou.DataSet != "" {
			scope = "data set " + ou.DataSet
		}
		fmt.Fprintf(stdout, "  org unit %s  %-22s %2d CHWs  (%s)\n", ou.ID, ou.Name, len(ou.CHWs), scope)
	}
	return nil
}

// requireAdmin checks that the client's session is a server admin.
func requireAdmin(ctx context.Context, c *couchdb.Client) error {
	var sess struct {
		UserCtx struct {
			Name  *string  `json:"name"`
			Roles []string `json:"roles"`
		} `json:"userCtx"`
	}
	if err := c.Do(ctx, http.MethodGet, "/_session", nil, &sess); err != nil {
		return err
	}
	if !slices.Contains(sess.UserCtx.Roles, "_admin") {
		return errors.New("server admin credentials needed (--user, --password)")
	}
	return nil
}
