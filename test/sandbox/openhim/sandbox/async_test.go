package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// An asynchronous channel (isAsynchronousProcess) as core 8.5.0 handles it
// (src/middleware/messageStore.js storeTransaction, storeResponse,
// setFinalStatus; src/api/transactions.js updateTransaction).
func TestAsyncChannel(t *testing.T) {
	e := newEnv(t)
	var reply http.HandlerFunc
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { reply(w, r) })
	e.publicChannel("Async", "^/async$", u, func(c *Channel) {
		c.IsAsynchronousProcess = true
		c.AutoRetryEnabled = true
		c.AutoRetryPeriodMinutes = 1
	})

	tests := []struct {
		name       string
		reply      http.HandlerFunc
		wantClient int
		wantTx     string
	}{
		{"2xx without a mediator status: Pending Async, 202", answer(200, "text/plain", "ok"), 202, "Pending Async"},
		{"the mediator's status wins", envelope(`{"x-mediator-urn":"urn:x","status":"Processing","response":{"status":202,"body":"later","timestamp":"2026-01-01T00:00:00Z"}}`), 202, "Processing"},
		{"5xx: Failed, not turned into 202", answer(500, "text/plain", "boom"), 500, "Failed"},
		{"4xx: Completed, kept", answer(404, "text/plain", "no"), 404, "Completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply = tt.reply
			r := call(t, "GET", e.router.URL+"/async", "")
			txs := e.s.Transactions()
			tx := txs[len(txs)-1]
			if r.status != tt.wantClient || tx.Status != tt.wantTx || tx.Response == nil || tx.Response.Status != tt.wantClient {
				t.Errorf("client %d, transaction %q response %+v; want %d, %q", r.status, tx.Status, tx.Response, tt.wantClient, tt.wantTx)
			}
		})
	}

	txs := e.s.Transactions()
	id := txs[1].ID // the Processing one
	// Only admins may update; a missing transaction throws (500).
	if r := e.apiCall("PUT", "/transactions/0123456789abcdef01234567", `{"status":"Successful"}`); r.status != 500 || !strings.HasPrefix(r.body, "Could not update transaction via the API: ") {
		t.Errorf("PUT of a missing transaction: %d %q; want 500", r.status, r.body)
	}
	filters := url.QueryEscape(`{"status":"Processing"}`)
	var listed []Transaction
	if r := e.apiCall("GET", "/transactions?filters="+filters, ""); r.status != 200 || json.Unmarshal([]byte(r.body), &listed) != nil || len(listed) != 1 || listed[0].ID != id {
		t.Errorf("GET /transactions filtered on Processing: %d %s; want only %s", r.status, r.body, id)
	}

	// An update without error sets the fields as given.
	r := e.apiCall("PUT", "/transactions/"+id, `{"status":"Successful","response":{"status":200,"headers":{"Content-Type":"application/json"},"body":"{\"done\":true}","timestamp":"2026-01-01T00:01:00Z"},"orchestrations":[{"name":"DHIS2 push","request":{"method":"POST","path":"/api/dataValueSets","timestamp":"2026-01-01T00:00:30Z"},"response":{"status":200,"timestamp":"2026-01-01T00:00:40Z"}}],"properties":{"dataSet":"ds1"}}`)
	if r.status != 200 || r.body != "Transaction with ID: "+id+" successfully updated" {
		t.Fatalf("PUT: %d %q", r.status, r.body)
	}
	tx := e.s.Transactions()[1]
	if tx.Status != "Successful" || tx.Response.Status != 200 || tx.Response.Body != `{"done":true}` || len(tx.Orchestrations) != 1 || tx.AutoRetry {
		t.Errorf("after the update: %+v", tx)
	}

	// An update with an error marks the transaction for auto-retry and
	// queues it: core's auto-retry job reruns it.
	r = e.apiCall("PUT", "/transactions/"+id, `{"status":"Failed","error":{"message":"DHIS2 down"}}`)
	if r.status != 200 {
		t.Fatalf("PUT with error: %d %q", r.status, r.body)
	}
	tx = e.s.Transactions()[1]
	if tx.Status != "Failed" || !tx.AutoRetry || tx.Error == nil || tx.Error.Message != "DHIS2 down" {
		t.Errorf("after the failed update: status %q autoRetry %t error %+v", tx.Status, tx.AutoRetry, tx.Error)
	}
	e.clock.Advance(2 * time.Minute)
	reply = answer(200, "text/plain", "ok")
	if reruns := e.s.RunAutoRetry(); len(reruns) != 1 || reruns[0].ParentID != id {
		t.Errorf("auto-retry reran %+v; want the failed transaction", reruns)
	}
}
