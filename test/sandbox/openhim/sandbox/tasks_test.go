package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

func TestPoll(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, envelope(envl("Successful", res("200", `"{}"`), "")))
	host, port := u.hostPort()
	res, err := e.s.ImportMetadata([]byte(`{"Channels":[{"name":"Monthly export","type":"polling","pollingSchedule":"0 6 1 * *",
		"urlPattern":"^/poll-placeholder$","methods":["GET"],"routes":[{"name":"Export","host":"` + host + `","port":` +
		jsonString(port) + `,"path":"/export","primary":true}]},
		{"name":"Transformed","type":"polling","urlPattern":"^/x$","routes":[{"name":"T","host":"` + host + `","port":` +
		jsonString(port) + `,"pathTransform":"s/trigger/export/","primary":true}]}]}`))
	if err != nil || res[0].Status != "Inserted" {
		t.Fatalf("import: %v %+v", err, res)
	}
	tx, err := e.s.Poll("Monthly export")
	if err != nil {
		t.Fatal(err)
	}
	got := u.last(t)
	if got.Method != "GET" || got.Path != "/export" || got.RawQuery != "" || got.Body != "" {
		t.Errorf("route got %s %s?%s %q; want GET /export without a query string", got.Method, got.Path, got.RawQuery, got.Body)
	}
	ch := e.s.Channels()[0]
	if got.Header.Get("channel-id") != ch.ID || got.Header.Get("X-OpenHIM-LastRunAt") != "Fri Jan 10 2025 09:15:00 GMT+0000 (Coordinated Universal Time)" ||
		got.Header.Get("X-OpenHIM-TransactionID") != tx.ID {
		t.Errorf("route headers %v", got.Header)
	}
	if tx.Status != "Successful" || tx.Request.Path != "/trigger" || tx.Request.Method != "GET" || tx.ChannelID != ch.ID {
		t.Errorf("poll transaction %s %+v", tx.Status, tx.Request)
	}

	if _, err := e.s.Poll("Transformed"); err != nil || u.last(t).Path != "/export" {
		t.Errorf("pathTransform poll: %v, path %q", err, u.last(t).Path)
	}
	if _, err := e.s.Poll("nope"); err == nil {
		t.Error("Poll of an unknown channel: no error")
	}
	e.publicChannel("HTTP", "^/h$", u)
	if _, err := e.s.Poll("HTTP"); err == nil {
		t.Error("Poll of an http channel: no error")
	}

	// The console's manual trigger.
	n := len(u.requests())
	r := e.apiCall("POST", "/channels/"+ch.ID+"/trigger", "")
	if r.status != 200 || len(u.requests()) != n+1 {
		t.Errorf("POST trigger = %d %q; route calls %d → %d", r.status, r.body, n, len(u.requests()))
	}
	if r := e.apiCall("POST", "/channels/000000000000000000000000/trigger", ""); r.status != 404 {
		t.Errorf("trigger unknown = %d", r.status)
	}
}

func TestRerun(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, envelope(envl("", res("200", `"{}"`), "")))
	e.publicChannel("Export", "^/export$", u, func(c *Channel) { c.AuthType = "private"; c.Allow = []string{"emr"} })
	if err := e.s.AddClient(ClientWithPassword("emr", "EMR", "pw")); err != nil {
		t.Fatal(err)
	}
	call(t, "POST", e.router.URL+"/export?period=202401", `{"dataSet":"a"}`, "Authorization", basic("emr", "pw"), "X-Custom", "c")
	orig := e.onlyTx()

	child, err := e.s.Rerun(orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	first, again := u.requests()[0], u.last(t)
	if again.Method != "POST" || again.Path != "/export" || again.RawQuery != "period=202401" || again.Body != `{"dataSet":"a"}` ||
		again.Header.Get("X-Custom") != "c" {
		t.Errorf("rerun sent %+v; want the original %+v", again, first)
	}
	if again.Header.Get("parentid") != orig.ID || again.Header.Get("taskid") == "" || again.Header.Get("clientid") != orig.ClientID ||
		again.Header.Get("Authorization") != "" {
		t.Errorf("rerun headers %v", again.Header)
	}
	if child.ParentID != orig.ID || child.TaskID == "" || child.ClientID != orig.ClientID || child.Status != "Successful" {
		t.Errorf("child %+v", child)
	}
	p, _ := e.s.Transaction(orig.ID)
	if !p.WasRerun || len(p.ChildIDs) != 1 || p.ChildIDs[0] != child.ID {
		t.Errorf("parent after rerun %+v", p)
	}

	// A PATCH body is not resent.
	e.publicChannel("Patch", "^/patch$", u)
	call(t, "PATCH", e.router.URL+"/patch", "patch-body")
	txs := e.s.Transactions()
	if _, err := e.s.Rerun(txs[len(txs)-1].ID); err != nil || u.last(t).Body != "" || u.last(t).Method != "PATCH" {
		t.Errorf("PATCH rerun: %v, body %q", err, u.last(t).Body)
	}

	// POST /tasks reruns through the API.
	r := e.apiCall("POST", "/tasks", `{"tids":["`+orig.ID+`"]}`)
	if r.status != 201 || !strings.HasPrefix(r.body, "User root@openhim.org created task with id ") {
		t.Errorf("POST /tasks = %d %q", r.status, r.body)
	}
	if p, _ := e.s.Transaction(orig.ID); len(p.ChildIDs) != 2 {
		t.Errorf("after the task: children %v", p.ChildIDs)
	}
	for _, tt := range []struct {
		body string
		want int
		text string
	}{
		{`{}`, 500, "Could not add Task via the API: TypeError: Cannot read properties of undefined (reading 'length')"},
		{`{"tids":["` + orig.ID + `"],"batchSize":0}`, 400, "Invalid batch size specified"},
	} {
		if r := e.apiCall("POST", "/tasks", tt.body); r.status != tt.want || r.body != tt.text {
			t.Errorf("POST /tasks %s = %d %q; want %d %q", tt.body, r.status, r.body, tt.want, tt.text)
		}
	}

	// Disabled channel: refused.
	if _, err := e.s.ImportMetadata([]byte(`{"Channels":[{"name":"Export","status":"disabled"}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Rerun(orig.ID); err == nil {
		t.Error("rerun through a disabled channel succeeded")
	}
	if r := e.apiCall("POST", "/tasks", `{"tids":["`+orig.ID+`"]}`); r.status != http.StatusBadRequest ||
		r.body != "Cannot queue task as there are transactions with disabled or deleted channels" {
		t.Errorf("POST /tasks disabled = %d %q", r.status, r.body)
	}
}

func TestTransactionsAPI(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, answer(200, "text/plain", "ok"))
	e.publicChannel("Export", "^/export$", u)
	call(t, "GET", e.router.URL+"/export", "")
	tx := e.onlyTx()
	r := e.apiCall("GET", "/transactions", "")
	if r.status != 200 || !strings.Contains(r.body, tx.ID) {
		t.Errorf("GET /transactions = %d %s", r.status, r.body)
	}
	if r := e.apiCall("GET", "/transactions/"+tx.ID, ""); r.status != 200 || mustJSON(t, r.body).(map[string]any)["status"] != "Successful" {
		t.Errorf("GET /transactions/:id = %d %s", r.status, r.body)
	}
	if r := e.apiCall("GET", "/transactions/nope", ""); r.status != 404 {
		t.Errorf("GET unknown transaction = %d", r.status)
	}
}
