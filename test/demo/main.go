// Command demo is what "make demo" runs: it starts a CouchDB-compatible
// server (pouchdb-server, in memory, on a free loopback port) that demands
// credentials like CHT's CouchDB, loads a CHT-shaped demo district into its
// medic database, starts the DHIS2 sandbox (test/sandbox/dhis2) with the
// matching metadata, runs the real mediator binary to export last month for
// the demo data set, and prints the export report and what DHIS2 stored. It
// stops both servers on exit.
//
//	go run ./test/demo --mediator bin/mediator
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

const (
	chtUser     = "medic"
	chtPassword = "demo-password-not-for-production"
	database    = "medic"
	dhis2Token  = "d2p_demoTokenNotForProductionUse0000000000000000000"
	dhis2Ver    = "2.40.3"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mediator := fs.String("mediator", "bin/mediator", "path of the built mediator binary")
	metadata := fs.String("dhis2-metadata", "test/sandbox/dhis2/testdata/demo-metadata.json", "DHIS2 metadata of the demo district")
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
	if err := demo(ctx, stdout, stderr, *mediator, *metadata, today); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, stdout, stderr io.Writer, mediator, metadata string, today time.Time) error {
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

	step(stdout, "Starting the DHIS2 sandbox (DHIS2 "+dhis2Ver+" API, in memory) with the demo district's metadata")
	dhis, dhisURL, err := startDHIS2(metadata)
	if err != nil {
		return err
	}
	defer dhis.Close()
	fmt.Fprintf(stdout, "  %s: data sets %s and %s, personal access token auth\n", dhisURL, m.DataSet, m.OtherDataSet)

	args := []string{"export", "--data-set", m.DataSet, "--period", month.Period()}
	step(stdout, "Running: mediator "+strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, mediator, args...)
	cmd.Env = append(os.Environ(),
		"MEDIATOR_CHT_URL="+srv.URL(),
		"MEDIATOR_CHT_USERNAME="+chtUser,
		"MEDIATOR_CHT_PASSWORD="+chtPassword,
		"MEDIATOR_DHIS2_URL="+dhisURL,
		"MEDIATOR_DHIS2_TOKEN="+dhis2Token,
		"MEDIATOR_LOG_FORMAT=text",
	)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("mediator export exited with %d", ee.ExitCode())
		}
		return fmt.Errorf("run mediator: %w", err)
	}

	stored := dhis.Stored()
	step(stdout, fmt.Sprintf("What DHIS2 stored: %d data values for %s", len(stored), month.Period()))
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  period\torg unit\tdata element\tcategory option combo\tvalue")
	for _, v := range stored {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", v.Period, v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.Value)
	}
	tw.Flush()
	step(stdout, "Done (stopping both servers)")
	return nil
}

// dhis2Server is the DHIS2 sandbox served on a free loopback port.
type dhis2Server struct {
	*sandbox.Server
	http *http.Server
}

func (d *dhis2Server) Close() { _ = d.http.Close() }

func startDHIS2(metadataPath string) (*dhis2Server, string, error) {
	f, err := os.Open(metadataPath)
	if err != nil {
		return nil, "", fmt.Errorf("DHIS2 metadata: %w", err)
	}
	defer f.Close()
	md, err := sandbox.LoadMetadata(f)
	if err != nil {
		return nil, "", fmt.Errorf("DHIS2 metadata %s: %w", metadataPath, err)
	}
	sb, err := sandbox.New(sandbox.Options{Version: dhis2Ver, Metadata: md, Token: dhis2Token, Username: "admin", Password: "district"})
	if err != nil {
		return nil, "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	hs := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l) //nolint:errcheck // ends with Close
	return &dhis2Server{Server: sb, http: hs}, "http://" + l.Addr().String(), nil
}

func step(w io.Writer, msg string) { fmt.Fprintf(w, "\n==> %s\n", msg) }
