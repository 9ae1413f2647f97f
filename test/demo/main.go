// Command demo is what "make demo" runs: it starts a CouchDB-compatible
// server (pouchdb-server, in memory, on a free loopback port) that demands
// credentials like CHT's CouchDB, loads a CHT-shaped demo district into its
// medic database, and runs the real mediator binary against it to preview
// last month's data value set for the demo data set. It stops the server on
// exit.
//
//	go run ./test/demo --mediator bin/mediator
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

const (
	chtUser     = "medic"
	chtPassword = "demo-password-not-for-production"
	database    = "medic"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mediator := fs.String("mediator", "bin/mediator", "path of the built mediator binary")
	now := fs.String("now", time.Now().Format(time.DateOnly), "today, YYYY-MM-DD: the demo previews the month before")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	today, err := time.Parse(time.DateOnly, *now)
	if err != nil {
		fmt.Fprintf(stderr, "demo: --now %q: want YYYY-MM-DD\n", *now)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, stdout, stderr, *mediator, today); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, stdout, stderr io.Writer, mediator string, today time.Time) error {
	if _, err := os.Stat(mediator); err != nil {
		return fmt.Errorf("mediator binary: %w (run make build)", err)
	}
	step(stdout, "Starting a CouchDB-compatible server (pouchdb-server, in memory)")
	srv, err := couchdb.Start(ctx, couchdb.Options{AdminUser: chtUser, AdminPassword: chtPassword})
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := srv.CreateDB(ctx, database); err != nil {
		return err
	}
	month := seed.LastMonth(today)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: month})
	if err != nil {
		return err
	}
	if err := srv.BulkDocs(ctx, database, docs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %s/%s: %d CHT documents: 1 district, %d health centres, %d clinics, %d CHWs, %d months of target docs (%s..%s)\n",
		srv.URL(), database, len(docs), len(m.HealthCenters), len(m.Clinics), len(m.CHWs), len(m.Months), m.Months[0], m.Months[len(m.Months)-1])
	for _, ou := range m.OrgUnits {
		scope := "every data set"
		if ou.DataSet != "" {
			scope = "data set " + ou.DataSet
		}
		fmt.Fprintf(stdout, "  org unit %s on %-22s %2d CHWs roll up (%s)\n", ou.ID, ou.Name, len(ou.CHWs), scope)
	}

	args := []string{"preview", "--data-set", m.DataSet, "--period", month.Period()}
	step(stdout, "Running: mediator "+join(args))
	cmd := exec.CommandContext(ctx, mediator, args...)
	cmd.Env = append(os.Environ(),
		"MEDIATOR_CHT_URL="+srv.URL(),
		"MEDIATOR_CHT_USERNAME="+chtUser,
		"MEDIATOR_CHT_PASSWORD="+chtPassword,
		"MEDIATOR_LOG_FORMAT=text",
	)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("mediator preview exited with %d", ee.ExitCode())
		}
		return fmt.Errorf("run mediator: %w", err)
	}
	step(stdout, "Done: the data value set above is what DHIS2 will receive for "+month.Period()+" (stopping the server)")
	return nil
}

func step(w io.Writer, msg string) { fmt.Fprintf(w, "\n==> %s\n", msg) }

func join(args []string) string {
	out := ""
	for i, a := range args {
		if i > 0 {
			out += " "
		}
		out += a
	}
	return out
}
