// Command demo is what "make demo" runs: it starts a CouchDB-compatible
// server (pouchdb-server, in memory, credentials required like CHT's
// CouchDB) with a CHT-shaped demo district, the DHIS2 sandbox with the
// matching metadata, the OpenHIM core sandbox with channels/ and the demo
// client imported, and the real mediator binary ("mediator serve"). The
// district has CHWs in every readiness state for last month (final, no
// activity, pending, never synced). Once the mediator has registered the
// demo shows who has synced (mediator readiness), sends the export through
// the OpenHIM channel (held back: not every CHW has synced, so core flags
// it for auto-retry), lets the missing CHWs sync, runs core's auto-retry,
// and prints the report, the transactions OpenHIM recorded and what DHIS2
// stored. Everything stops on exit.
//
//	go run ./test/demo --mediator bin/mediator
package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

const (
	chtUser     = "medic"
	chtPassword = "demo-password-not-for-production"
	database    = "medic"
	dhis2Token  = "d2p_demoTokenNotForProductionUse0000000000000000000"
	dhis2Ver    = "2.40.3"

	openhimRoot     = "root@openhim.org"
	openhimPassword = "demo-openhim-password"
	demoClient      = "cht-dhis2-operator"
	demoClientPass  = "cht-dhis2-demo-only" // channels/demo-client.json
	mediatorURN     = "urn:mediator:cht-dhis2"
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
	all, m, err := seed.DemoDocs(seed.DemoOptions{End: month, AllStates: true})
	if err != nil {
		return err
	}
	docs, logs := seed.SplitLogs(all)
	if err := srv.BulkDocs(ctx, database, docs); err != nil {
		return err
	}
	// CHT API records each user's last sync in <database>-logs.
	if err := srv.CreateDB(ctx, database+"-logs"); err != nil {
		return err
	}
	if err := srv.BulkDocs(ctx, database+"-logs", logs); err != nil {
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

	step(stdout, "Starting the OpenHIM core sandbox (API and router) with channels/ and the demo client imported")
	hc, err := startOpenHIM()
	if err != nil {
		return err
	}
	defer hc.Close()
	mediatorAddr, err := freeAddr()
	if err != nil {
		return err
	}
	if err := hc.importChannels(mediatorAddr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  core API %s, router %s; channels routed to the mediator at %s\n", hc.apiURL, hc.routerURL, mediatorAddr)

	step(stdout, "Starting: mediator serve (registers with core, heartbeats every 10 s)")
	cmd := exec.Command(mediator, "serve")
	cmd.Env = append(os.Environ(),
		"MEDIATOR_SERVER_ADDR="+mediatorAddr,
		"MEDIATOR_CHT_URL="+srv.URL(),
		"MEDIATOR_CHT_USERNAME="+chtUser,
		"MEDIATOR_CHT_PASSWORD="+chtPassword,
		"MEDIATOR_DHIS2_URL="+dhisURL,
		"MEDIATOR_DHIS2_TOKEN="+dhis2Token,
		"MEDIATOR_OPENHIM_URL="+hc.apiURL,
		"MEDIATOR_OPENHIM_USERNAME="+openhimRoot,
		"MEDIATOR_OPENHIM_PASSWORD="+openhimPassword,
		"MEDIATOR_LOG_FORMAT=text",
		"MEDIATOR_LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mediator: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	med, err := hc.waitRegistered(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  registered: %s %s (%s), heartbeat received\n", med.Name, med.Version, med.URN)

	pending, never := m.CHWs[5].Username, m.NeverSynced
	step(stdout, "Who has synced "+month.Period()+"? mediator readiness --data-set "+m.DataSet+" --period "+month.Period())
	rd := exec.CommandContext(ctx, mediator, "readiness", "--data-set", m.DataSet, "--period", month.Period())
	rd.Env = append(os.Environ(), "MEDIATOR_CHT_URL="+srv.URL(), "MEDIATOR_CHT_USERNAME="+chtUser,
		"MEDIATOR_CHT_PASSWORD="+chtPassword, "MEDIATOR_LOG_LEVEL=error")
	var table bytes.Buffer
	rd.Stdout, rd.Stderr = &table, stderr
	err = rd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		return fmt.Errorf("mediator readiness: %w", err)
	}
	fmt.Fprint(stdout, indent(table.String()))

	path := "/cht-dhis2/export?dataSet=" + m.DataSet + "&period=" + month.Period()
	step(stdout, "Client "+demoClient+" → OpenHIM: POST "+path)
	status, body, err := hc.call(ctx, http.MethodPost, path)
	if err != nil {
		return err
	}
	held, err := lastTx(hc)
	if err != nil {
		return err
	}
	msg := ""
	if held.Error != nil {
		msg = held.Error.Message
	}
	fmt.Fprintf(stdout, "  HTTP %d; transaction %q, flagged for auto-retry: %t\n  %s\n  DHIS2 holds %d values: nothing was pushed\n",
		status, held.Status, held.AutoRetry, msg, len(dhis.Stored()))

	step(stdout, "The missing CHWs sync: CHT API rewrites replication-count-"+pending+" and writes replication-count-"+never+" in "+database+"-logs")
	if err := syncUsers(ctx, srv, pending, never); err != nil {
		return err
	}
	step(stdout, "An hour later OpenHIM's auto-retry reruns the transaction (the demo moves core's clock ahead)")
	hc.skew.Store(int64(61 * time.Minute))
	retried := hc.core.RunAutoRetry()
	if len(retried) != 1 || retried[0].Response == nil {
		return fmt.Errorf("auto-retry reran %d transactions; want 1", len(retried))
	}
	body = retried[0].Response.Body
	fmt.Fprintf(stdout, "  rerun of %s: HTTP %d; the export report:\n", held.ID, retried[0].Response.Status)
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(body), "  ", "  ") == nil {
		body = pretty.String()
	}
	fmt.Fprintln(stdout, "  "+body)

	tx, err := lastTx(hc)
	if err != nil {
		return err
	}
	step(stdout, fmt.Sprintf("The transaction OpenHIM recorded: status %q (auto-retry attempt %d), %d orchestrations", tx.Status, tx.AutoRetryAttempt, len(tx.Orchestrations)))
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  orchestration\tstatus\tms")
	for _, o := range tx.Orchestrations {
		st, ms := "-", "-"
		if o.Response != nil {
			st = fmt.Sprint(o.Response.Status)
			if o.Request != nil {
				ms = fmt.Sprint(o.Response.Timestamp.Sub(o.Request.Timestamp).Milliseconds())
			}
		}
		if o.Error != nil {
			st = "error: " + o.Error.Message
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Name, st, ms)
	}
	tw.Flush()

	stored := dhis.Stored()
	step(stdout, fmt.Sprintf("What DHIS2 stored: %d data values for %s", len(stored), month.Period()))
	tw = tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  period\torg unit\tdata element\tcategory option combo\tvalue")
	for _, v := range stored {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", v.Period, v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.Value)
	}
	tw.Flush()
	step(stdout, "Done (stopping the mediator and the servers)")
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

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" && l != "\n" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "")
}

func lastTx(hc *openhimCore) (himsandbox.Transaction, error) {
	txs := hc.core.Transactions()
	if len(txs) == 0 {
		return himsandbox.Transaction{}, errors.New("OpenHIM recorded no transaction")
	}
	return txs[len(txs)-1], nil
}

// syncUsers writes each user's replication-count doc, dated now, as CHT API
// does when a device syncs.
func syncUsers(ctx context.Context, srv *couchdb.Server, users ...string) error {
	db := database + "-logs"
	var docs []any
	for _, u := range users {
		doc := map[string]any(seed.ReplicationLog(u, time.Now(), 40))
		var cur struct {
			Rev string `json:"_rev"`
		}
		if err := srv.Do(ctx, http.MethodGet, "/"+db+"/"+seed.ReplicationLog(u, time.Now(), 0)["_id"].(string), nil, &cur); err == nil {
			doc["_rev"] = cur.Rev
		}
		docs = append(docs, doc)
	}
	return srv.BulkDocs(ctx, db, docs)
}

// openhimCore is the OpenHIM core sandbox: API and router on loopback.
type openhimCore struct {
	core              *himsandbox.Server
	skew              atomic.Int64 // core's clock runs ahead by this much
	api, router       *http.Server
	apiURL, routerURL string
}

func startOpenHIM() (*openhimCore, error) {
	hc := &openhimCore{}
	core, err := himsandbox.New(himsandbox.Options{RootUser: openhimRoot, RootPassword: openhimPassword,
		Now: func() time.Time { return time.Now().Add(time.Duration(hc.skew.Load())) }})
	if err != nil {
		return nil, err
	}
	hc.core = core
	if hc.api, hc.apiURL, err = listen(core.APIHandler()); err != nil {
		return nil, err
	}
	if hc.router, hc.routerURL, err = listen(core.RouterHandler()); err != nil {
		hc.api.Close()
		return nil, err
	}
	return hc, nil
}

func (h *openhimCore) Close() {
	_ = h.api.Close()
	_ = h.router.Close()
}

// importChannels imports channels/ as an operator would, routed to the
// mediator at addr, and the demo client.
func (h *openhimCore) importChannels(addr string) error {
	host, port, _ := strings.Cut(addr, ":")
	channels, err := os.ReadFile("channels/channels.json")
	if err != nil {
		return err
	}
	channels = bytes.ReplaceAll(channels, []byte(`"host": "cht-dhis2-mediator"`), []byte(`"host": "`+host+`"`))
	channels = bytes.ReplaceAll(channels, []byte(`"port": 8544`), []byte(`"port": `+port))
	client, err := os.ReadFile("channels/demo-client.json")
	if err != nil {
		return err
	}
	for _, doc := range [][]byte{channels, client} {
		res, err := h.core.ImportMetadata(doc)
		if err != nil {
			return fmt.Errorf("import channels: %w", err)
		}
		for _, r := range res {
			if r.Status != "Inserted" && r.Status != "Updated" {
				return fmt.Errorf("import channels: %s %s: %s", r.Model, r.Status, r.Message)
			}
		}
	}
	return nil
}

func (h *openhimCore) waitRegistered(ctx context.Context, within time.Duration) (himsandbox.Mediator, error) {
	deadline := time.Now().Add(within)
	for {
		if med, ok := h.core.Mediator(mediatorURN); ok && med.Heartbeats > 0 {
			return med, nil
		}
		if time.Now().After(deadline) {
			return himsandbox.Mediator{}, fmt.Errorf("the mediator did not register with OpenHIM within %v", within)
		}
		select {
		case <-ctx.Done():
			return himsandbox.Mediator{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// call sends a client request through core's router as the demo client.
func (h *openhimCore) call(ctx context.Context, method, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.routerURL+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.SetBasicAuth(demoClient, demoClientPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("call OpenHIM: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func listen(h http.Handler) (*http.Server, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l) //nolint:errcheck // ends with Close
	return hs, "http://" + l.Addr().String(), nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
