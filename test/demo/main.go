// Command demo is what "make demo" and "make sandbox" run.
//
// "make demo" starts the stack (package test/stack: a seeded
// CouchDB-compatible server with a server admin, the DHIS2 sandbox, the
// OpenHIM core sandbox with channels/ and the demo client imported) and the
// real mediator binary ("mediator serve"). The demo district has CHWs in
// every readiness state for last month (final, no activity, pending, never
// synced). Once the mediator has registered the demo shows who has synced
// (mediator readiness), sends the export of last month through the OpenHIM
// channel (held back: not every CHW has synced, so core flags it for
// auto-retry), lets the missing CHWs sync, runs core's auto-retry, and
// prints the report of the retry, the transaction OpenHIM recorded and what
// DHIS2 stored. Everything stops on exit.
//
//	go run ./test/demo --mediator bin/mediator
//
// "make sandbox" (--sandbox) starts the same stack with the channels routed
// to a mediator at --mediator-addr (127.0.0.1:8544), prints the MEDIATOR_*
// variables for it and commands to try, and stays up until Ctrl-C: the
// mediator is for you to run.
//
//	go run ./test/demo --sandbox [--mediator-addr 127.0.0.1:8544]
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

	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/stack"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mediator := fs.String("mediator", "bin/mediator", "path of the built mediator binary")
	now := fs.String("now", time.Now().Format(time.DateOnly), "today, YYYY-MM-DD: the data ends the month before")
	stay := fs.Bool("sandbox", false, "start the servers only, print the mediator's settings and stay up until Ctrl-C")
	addr := fs.String("mediator-addr", "127.0.0.1:8544", "with --sandbox: the address the OpenHIM channels route to")
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
	if *stay {
		err = sandboxMode(ctx, stdout, *mediator, *addr, today)
	} else {
		err = demo(ctx, stdout, stderr, *mediator, today)
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	return 0
}

// sandboxMode starts the stack for a mediator run by hand and waits for
// ctx to end.
func sandboxMode(ctx context.Context, stdout io.Writer, mediator, addr string, today time.Time) error {
	st, err := stack.Start(ctx, stack.Options{Root: ".", Today: today, MediatorAddr: addr, Progress: stdout})
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprint(stdout, st.Instructions(mediator))
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nStopping the sandboxes.")
	return nil
}

func demo(ctx context.Context, stdout, stderr io.Writer, mediator string, today time.Time) error {
	if _, err := os.Stat(mediator); err != nil {
		return fmt.Errorf("mediator binary: %w (run make build)", err)
	}
	mediatorAddr, err := freeAddr()
	if err != nil {
		return err
	}
	step(stdout, "Starting the servers")
	var skew atomic.Int64 // core's clock runs ahead by this much
	st, err := stack.Start(ctx, stack.Options{Root: ".", Today: today, MediatorAddr: mediatorAddr, Progress: stdout, AllStates: true,
		CoreNow: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if err != nil {
		return err
	}
	defer st.Close()
	m, month := st.Manifest, st.Month
	fmt.Fprintf(stdout, "  %s/%s: %d CHT documents: 1 district, %d health centres, %d clinics, %d CHWs, %d months of target docs (%s..%s)\n",
		st.CouchDB.URL(), stack.Database, st.Docs, len(m.HealthCenters), len(m.Clinics), len(m.CHWs), len(m.Months), m.Months[0], m.Months[len(m.Months)-1])
	for _, ou := range m.OrgUnits {
		scope := "every data set"
		if ou.DataSet != "" {
			scope = "data set " + ou.DataSet
		}
		fmt.Fprintf(stdout, "  org unit %s on %-22s %2d CHWs roll up (%s)\n", ou.ID, ou.Name, len(ou.CHWs), scope)
	}
	fmt.Fprintf(stdout, "  DHIS2 %s: data sets %s and %s, personal access token auth\n", st.DHIS2URL, m.DataSet, m.OtherDataSet)
	fmt.Fprintf(stdout, "  OpenHIM core API %s, router %s; channels routed to the mediator at %s\n", st.APIURL, st.RouterURL, mediatorAddr)

	step(stdout, "Starting: mediator serve (registers with core, heartbeats every 10 s)")
	cmd := exec.Command(mediator, "serve")
	cmd.Env = append(append(os.Environ(), st.Env()...), "MEDIATOR_LOG_FORMAT=text", "MEDIATOR_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mediator: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	med, err := st.WaitRegistered(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  registered: %s %s (%s), heartbeat received\n", med.Name, med.Version, med.URN)

	pending, never := m.CHWs[5].Username, m.NeverSynced
	step(stdout, "Who has synced "+month.Period()+"? mediator readiness --data-set "+m.DataSet+" --period "+month.Period())
	rd := exec.CommandContext(ctx, mediator, "readiness", "--data-set", m.DataSet, "--period", month.Period())
	rd.Env = append(append(os.Environ(), st.Env()...), "MEDIATOR_LOG_LEVEL=error")
	var table bytes.Buffer
	rd.Stdout, rd.Stderr = &table, stderr
	err = rd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		return fmt.Errorf("mediator readiness: %w", err)
	}
	fmt.Fprint(stdout, indent(table.String()))

	path := "/cht-dhis2/export?dataSet=" + m.DataSet + "&period=" + month.Period()
	step(stdout, "Client "+stack.Client+" → OpenHIM: POST "+path)
	status, _, err := st.Call(ctx, http.MethodPost, path)
	if err != nil {
		return err
	}
	held, err := lastTx(st)
	if err != nil {
		return err
	}
	msg := ""
	if held.Error != nil {
		msg = held.Error.Message
	}
	fmt.Fprintf(stdout, "  HTTP %d; transaction %q, flagged for auto-retry: %t\n  %s\n  DHIS2 holds %d values: nothing was pushed\n",
		status, held.Status, held.AutoRetry, msg, len(st.DHIS2.Stored()))

	step(stdout, "The missing CHWs sync: CHT API rewrites replication-count-"+pending+" and writes replication-count-"+never+" in "+stack.Database+"-logs")
	if err := st.Sync(ctx, time.Now(), pending, never); err != nil {
		return err
	}
	step(stdout, "An hour later OpenHIM's auto-retry reruns the transaction (the demo moves core's clock ahead)")
	skew.Store(int64(61 * time.Minute))
	retried := st.Core.RunAutoRetry()
	if len(retried) != 1 || retried[0].Response == nil {
		return fmt.Errorf("auto-retry reran %d transactions; want 1", len(retried))
	}
	body := retried[0].Response.Body
	fmt.Fprintf(stdout, "  rerun of %s: HTTP %d; the export report:\n", held.ID, retried[0].Response.Status)
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(body), "  ", "  ") == nil {
		body = pretty.String()
	}
	fmt.Fprintln(stdout, "  "+body)

	tx, err := lastTx(st)
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

	stored := st.DHIS2.Stored()
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

func lastTx(st *stack.Stack) (himsandbox.Transaction, error) {
	txs := st.Core.Transactions()
	if len(txs) == 0 {
		return himsandbox.Transaction{}, errors.New("OpenHIM recorded no transaction")
	}
	return txs[len(txs)-1], nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
