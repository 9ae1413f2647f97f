package test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

const asyncChannelPath = "/cht-dhis2/export/async"

// txByID is the transaction core holds under id.
func (st *himStack) txByID(t *testing.T, id string) himsandbox.Transaction {
	t.Helper()
	for _, tx := range st.core.Transactions() {
		if tx.ID == id {
			return tx
		}
	}
	t.Fatalf("core has no transaction %s", id)
	return himsandbox.Transaction{}
}

// An export through the asynchronous channel is answered at once (202,
// "Processing") while DHIS2 is still slow to take the push; the
// transaction later shows the final status, the report as its response
// body, and the orchestrations of every CHT and DHIS2 call, set by the
// mediator through core's API.
func TestAsync_exportThroughAsynchronousChannel(t *testing.T) {
	st := startHIMStack(t, false)
	st.registered(t)
	st.dhis.SetDelay(1500 * time.Millisecond)

	start := time.Now()
	code, body := st.call(t, http.MethodGet, asyncChannelPath+"?dataSet="+seed.DemoDataSet+"&period="+st.month.Period())
	if code != http.StatusAccepted {
		t.Fatalf("async export: %d %s; want 202", code, body)
	}
	if took := time.Since(start); took > 1400*time.Millisecond {
		t.Errorf("the answer took %v: it waited for the push (1.5 s)", took)
	}
	var answer struct{ Status, TransactionID, Message string }
	if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.Status != "Processing" || answer.TransactionID == "" {
		t.Fatalf("answer %s: %v; want status Processing and the transaction id", body, err)
	}
	tx := st.txByID(t, answer.TransactionID)
	if tx.Status != "Processing" || tx.Response == nil || tx.Response.Status != http.StatusAccepted {
		t.Errorf("right after the answer: transaction status %q response %+v; want Processing (the mediator's status) and 202", tx.Status, tx.Response)
	}
	if len(st.stored()) != 0 {
		t.Fatal("DHIS2 already holds values: the answer did not come before the push")
	}

	eventually(t, 60*time.Second, "the transaction's final status", func() bool {
		return st.txByID(t, answer.TransactionID).Status != "Processing"
	})
	tx = st.txByID(t, answer.TransactionID)
	if tx.Status != "Successful" || tx.AutoRetry || tx.Error != nil {
		t.Errorf("final transaction status %q autoRetry %t error %+v; want Successful, no retry", tx.Status, tx.AutoRetry, tx.Error)
	}
	var rep export.Report
	if tx.Response == nil || tx.Response.Status != http.StatusOK || json.Unmarshal([]byte(tx.Response.Body), &rep) != nil {
		t.Fatalf("final response %+v; want 200 with the report", tx.Response)
	}
	if rep.Status != export.StatusSuccessful || rep.DataSet != seed.DemoDataSet || rep.DataValues.Built != len(st.want) {
		t.Errorf("report status %q data set %q built %d; want Successful, %s, %d", rep.Status, rep.DataSet, rep.DataValues.Built, seed.DemoDataSet, len(st.want))
	}
	diff(t, "stored", st.stored(), st.want)
	var cht, dhis, push int
	for _, o := range tx.Orchestrations {
		switch {
		case strings.HasPrefix(o.Name, "CHT"):
			cht++
		case strings.HasPrefix(o.Name, "DHIS2"):
			dhis++
			if o.Request != nil && o.Request.Method == http.MethodPost && strings.Contains(o.Request.Path, "dataValueSets") {
				push++
			}
		}
	}
	if cht == 0 || dhis == 0 || push == 0 {
		t.Errorf("orchestrations: %d CHT, %d DHIS2 (%d pushes); want the calls of the export", cht, dhis, push)
	}
	if props, _ := tx.Properties.(map[string]any); props["dataSet"] != seed.DemoDataSet {
		t.Errorf("properties %v; want the export's", tx.Properties)
	}
	// The update went through core's API with the mediator's credentials.
	var puts int
	for _, r := range st.core.Requests() {
		if r.Method == http.MethodPut && r.Path == "/transactions/"+answer.TransactionID {
			puts++
		}
	}
	if puts != 1 {
		t.Errorf("%d PUT /transactions/%s; want 1", puts, answer.TransactionID)
	}
	noSecrets(t, "the transaction", fmt.Sprintf("%+v", tx))
}

// A failing asynchronous export ends Failed with an error, which makes core
// mark the transaction for auto-retry and queue it, as for a synchronous
// export. With core unreachable when the export ends, the mediator retries
// the update until core is back.
func TestAsync_failingExportIsRetriedByCore(t *testing.T) {
	st := startHIMStack(t, false)
	st.registered(t)
	st.dhis.Fail(100, http.StatusInternalServerError) // every push and its retries
	st.dhis.SetDelay(500 * time.Millisecond)

	code, body := st.call(t, http.MethodPost, asyncChannelPath+"?dataSet="+seed.DemoDataSet+"&period="+st.month.Period())
	if code != http.StatusAccepted {
		t.Fatalf("async export: %d %s; want 202", code, body)
	}
	var answer struct{ TransactionID string }
	if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.TransactionID == "" {
		t.Fatalf("answer %s: %v", body, err)
	}
	st.core.SetDown(true) // core's API stops answering while the export runs
	time.Sleep(2 * time.Second)
	if tx := st.txByID(t, answer.TransactionID); tx.Status != "Processing" {
		t.Fatalf("with core's API down the transaction is %q; want still Processing", tx.Status)
	}
	st.core.SetDown(false)
	eventually(t, 60*time.Second, "the transaction's final status once core is back", func() bool {
		return st.txByID(t, answer.TransactionID).Status != "Processing"
	})
	tx := st.txByID(t, answer.TransactionID)
	if tx.Status != "Failed" || !tx.AutoRetry || tx.Error == nil || !strings.Contains(tx.Error.Message, "values not sent") {
		t.Errorf("transaction status %q autoRetry %t error %+v; want Failed, marked for auto-retry, naming the values not sent", tx.Status, tx.AutoRetry, tx.Error)
	}
	if tx.Response == nil || tx.Response.Status != http.StatusBadGateway {
		t.Errorf("response %+v; want the 502 the synchronous export answers", tx.Response)
	}
	if !strings.Contains(st.logs.String(), "OpenHIM core cannot be reached: retrying the transaction update") {
		t.Error("the mediator did not log that it retries the update")
	}

	// A bad parameter is still refused at once, synchronously.
	code, _ = st.call(t, http.MethodGet, asyncChannelPath+"?dataSet=notAUid")
	if code != http.StatusBadRequest {
		t.Errorf("bad parameter through the asynchronous channel: %d; want 400 at once", code)
	}
}

// A mediator stopped during an asynchronous export while core cannot be
// reached leaves the transaction Processing (its update is abandoned after
// the answer window); the next process of the mediator on the same host
// fails it with an error once core answers, so core auto-retries it
// instead of leaving it Processing for ever.
func TestAsync_restartFailsTheOrphanedTransaction(t *testing.T) {
	st := startHIMStack(t, false)
	st.registered(t)
	st.dhis.SetDelay(5 * time.Second)
	code, body := st.call(t, http.MethodGet, asyncChannelPath+"?dataSet="+seed.DemoDataSet+"&period="+st.month.Period())
	if code != http.StatusAccepted {
		t.Fatalf("async export: %d %s; want 202", code, body)
	}
	var answer struct{ TransactionID string }
	if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.TransactionID == "" {
		t.Fatalf("answer %s: %v", body, err)
	}

	st.core.SetDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := st.mediator.Stop(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), answer.TransactionID) || !strings.Contains(err.Error(), "stay Processing") {
		t.Errorf("Stop with core down = %v; want it to name transaction %s as staying Processing", err, answer.TransactionID)
	}
	if tx := st.txByID(t, answer.TransactionID); tx.Status != "Processing" {
		t.Fatalf("after the stop the transaction is %q; want Processing (core was down)", tx.Status)
	}
	if len(st.stored()) != 0 {
		t.Error("DHIS2 stored values of the stopped export")
	}

	st.core.SetDown(false)
	cfg := st.mediator.Config()
	next, err := app.New(cfg, slog.New(slog.NewJSONHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.mediator = next // stopped by the stack's cleanup
	eventually(t, 30*time.Second, "the orphaned transaction failed by the next process", func() bool {
		return st.txByID(t, answer.TransactionID).Status != "Processing"
	})
	tx := st.txByID(t, answer.TransactionID)
	if tx.Status != "Failed" || !tx.AutoRetry || tx.Error == nil || !strings.Contains(tx.Error.Message, "restarted") {
		t.Errorf("transaction status %q autoRetry %t error %+v; want Failed with an error naming the restart, marked for auto-retry", tx.Status, tx.AutoRetry, tx.Error)
	}
}
