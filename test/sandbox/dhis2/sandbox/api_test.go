package sandbox

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAsync(t *testing.T) {
	for _, v := range []string{"2.36", "2.40", "2.41", "2.43"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v, func(o *Options) { o.AsyncDelay = 20 * time.Millisecond })
			r := e.push("?async=true", conflictPush)
			if r.status != http.StatusOK {
				t.Fatalf("status %d; want 200\n%s", r.status, r.body)
			}
			golden(t, "async_start_"+v, r.body)
			resp := r.json(t)["response"].(map[string]any)
			id := resp["id"].(string)
			endpoint := resp["relativeNotifierEndpoint"].(string)
			if endpoint != "/api/system/tasks/DATAVALUE_IMPORT/"+id {
				t.Errorf("relativeNotifierEndpoint %q", endpoint)
			}
			if loc := r.header.Get("Location"); (v >= "2.41") != (loc == "/api/system/tasks/DATAVALUE_IMPORT") {
				t.Errorf("Location header %q", loc)
			}
			// Not run yet: no notifications, empty summary.
			if s := e.get("/api/system/taskSummaries/DATAVALUE_IMPORT/" + id); s.status != 200 || len(s.body) != 0 {
				t.Errorf("summary before the job ran: %d %q; want 200 and an empty body", s.status, s.body)
			}
			deadline := time.Now().Add(5 * time.Second)
			var tasks response
			for {
				tasks = e.get(endpoint)
				if strings.Contains(string(tasks.body), `"completed":true`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("job not completed: %s", tasks.body)
				}
				time.Sleep(5 * time.Millisecond)
			}
			golden(t, "async_tasks_"+v, tasks.body)
			sum := e.get("/api/system/taskSummaries/DATAVALUE_IMPORT/" + id)
			golden(t, "async_summary_"+v, sum.body)

			// The job imports exactly what a synchronous push imports.
			stored := e.s.Stored()
			e.s.Reset()
			sync := e.push("", conflictPush)
			if got := summaryOf(t, sync); len(got) == 0 || counts(t, sync) != counts(t, sum) {
				t.Errorf("async counts %v; sync %v", counts(t, sum), counts(t, sync))
			}
			if !slices.Equal(stored, e.s.Stored()) {
				t.Errorf("async stored %v; sync stored %v", stored, e.s.Stored())
			}
			if got := e.get("/api/system/tasks/DATAVALUE_IMPORT/" + unknownUID); string(got.body) != "[]" {
				t.Errorf("unknown job: %s; want []", got.body)
			}
		})
	}
	t.Run("malformed body fails the job", func(t *testing.T) {
		e := newEnv(t, "2.40")
		r := e.push("?async=true", "{")
		id := r.json(t)["response"].(map[string]any)["id"].(string)
		tasks := e.get("/api/system/tasks/DATAVALUE_IMPORT/" + id)
		if !strings.Contains(string(tasks.body), `"level":"ERROR"`) || !strings.Contains(string(tasks.body), "Process failed: ") {
			t.Errorf("tasks %s", tasks.body)
		}
	})
}

func TestAuth(t *testing.T) {
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	tests := []struct {
		version, auth string
		status        int
	}{
		{"2.40", basic(testUser, testPass), 200},
		{"2.40", basic(testUser, "wrong"), 401},
		{"2.40", basic("nobody", testPass), 401},
		{"2.40", "", 401},
		{"2.40", "ApiToken " + testToken, 200},
		{"2.40", "ApiToken d2pat_wrong", 401},
		{"2.40", "Bearer " + testToken, 401},
		{"2.38", "ApiToken " + testToken, 200},
		{"2.37", "ApiToken " + testToken, 401}, // switched off by default in 2.37
		{"2.36", "ApiToken " + testToken, 401}, // no tokens before 2.37
		{"2.36", basic(testUser, testPass), 200},
		{"2.43", "ApiToken " + testToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.version+" "+strings.Split(tt.auth, " ")[0], func(t *testing.T) {
			e := newEnv(t, tt.version)
			for _, path := range []string{"/api/me", "/api/system/info", "/api/dataSets/" + dsCHW} {
				r := e.do(http.MethodGet, path, "", "Authorization", tt.auth)
				if r.status != tt.status {
					t.Errorf("%s: status %d; want %d", path, r.status, tt.status)
				}
				if r.status == 401 {
					golden(t, "auth_401", r.body)
				}
			}
			r := e.do(http.MethodPost, "/api/dataValueSets", validPush, "Authorization", tt.auth)
			if r.status == 401 != (tt.status == 401) {
				t.Errorf("push: status %d", r.status)
			}
			if tt.status == 401 && len(e.s.Stored()) != 0 {
				t.Errorf("unauthenticated push stored values")
			}
		})
	}
	t.Run("ping", func(t *testing.T) {
		e := newEnv(t, "2.40")
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, tt := range []struct {
			auth   string
			status int
		}{{"", 302}, {basic(testUser, "x"), 401}, {basic(testUser, testPass), 200}} {
			req, _ := http.NewRequest(http.MethodGet, e.url+"/api/system/ping", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Errorf("ping with %q: %d; want %d", tt.auth, res.StatusCode, tt.status)
			}
		}
	})
	t.Run("credentials are redacted", func(t *testing.T) {
		e := newEnv(t, "2.40")
		e.push("", validPush)
		e.do(http.MethodGet, "/api/me", "", "Authorization", "ApiToken "+testToken)
		reqs := e.s.Requests()
		if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "Basic <redacted>" || reqs[1].Header.Get("Authorization") != "ApiToken <redacted>" {
			t.Errorf("recorded Authorization headers: %q, %q", reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"))
		}
		if string(reqs[0].Body) != validPush || reqs[0].Method != http.MethodPost || reqs[0].Path != "/api/dataValueSets" {
			t.Errorf("recorded push %+v", reqs[0])
		}
	})
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, "2.41")
	// The data set query of DHIS2 Web API docs, metadata.
	fields := "id,name,code,periodType,openFuturePeriods,expiryDays,timelyDays," +
		"categoryCombo[id,name,isDefault,categoryOptionCombos[id,name,code]]," +
		"dataSetElements[dataElement[id,name,code,valueType,zeroIsSignificant,aggregationType,domainType," +
		"optionSet[id,options[code]],categoryCombo[id,categoryOptionCombos[id,name,code]]]," +
		"categoryCombo[id,categoryOptionCombos[id,name,code]]]," +
		"organisationUnits[id,code,path],dataInputPeriods[period,openingDate,closingDate],workflow[id]"
	tests := []struct {
		name, path string
		status     int
	}{
		{"dataset_fields", "/api/dataSets/" + dsCHW + "?fields=" + fields, 200},
		{"dataset_default", "/api/41/dataSets/" + dsCHW + ".json", 200},
		{"dataset_404", "/api/dataSets/" + unknownUID, 404},
		{"dataelements_by_dataset", "/api/dataElements?filter=dataSetElements.dataSet.id:eq:" + dsCHW + "&fields=id,code,valueType,zeroIsSignificant,categoryCombo[id]&paging=false", 200},
		{"orgunits_by_dataset", "/api/organisationUnits?filter=dataSets.id:eq:" + dsCHW + "&fields=id,code,path,openingDate,closedDate&paging=false", 200},
		{"orgunits_paged", "/api/organisationUnits?pageSize=4&page=2", 200},
		{"cocs", "/api/categoryOptionCombos?fields=id,name,code,categoryCombo[id]&paging=false", 200},
		{"cocs_filter_in", "/api/categoryOptionCombos?filter=id:in:[" + cocMale + "," + cocFemale + "]&fields=id,name&paging=false", 200},
		{"me", "/api/me?fields=id,username,organisationUnits[id,path],authorities", 200},
		{"me_default", "/api/me", 200},
		{"system_info", "/api/system/info", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(tt.path)
			if r.status != tt.status {
				t.Fatalf("status %d; want %d\n%s", r.status, tt.status, r.body)
			}
			body := r.body
			if tt.name == "system_info" {
				body = []byte(strings.ReplaceAll(string(body), `"userAgent":"Go-http-client/1.1",`, ""))
			}
			golden(t, "metadata_"+tt.name, body)
		})
	}
	if r := e.get("/api/dataSets?filter=id:bogus:x"); r.status != http.StatusBadRequest {
		t.Errorf("bad filter operator: status %d; want 400", r.status)
	}
	if r := e.get("/api/dataSets/" + dsCHW + ".xml"); r.status != http.StatusNotAcceptable {
		t.Errorf(".xml: status %d; want 406", r.status)
	}
}

func TestPull(t *testing.T) {
	e := newEnv(t, "2.41")
	e.push("", validPush)
	e.push("", set("", dv(dePreg, "202401", ouBaraka, "", "3"), dv(dePreg, "202402", ouBaraka, "", "8")))
	e.push("", set("", dv(dePreg, "202402", ouBaraka, "", "0"))) // deletes
	tests := []struct {
		name, query string
		status      int
		values      int
	}{
		{"single", "dataSet=" + dsCHW + "&period=202402&orgUnit=" + ouAmani, 200, 4},
		{"children", "dataSet=" + dsCHW + "&period=202402&period=202401&orgUnit=" + ouDistrict + "&children=true", 200, 5},
		{"include_deleted", "dataSet=" + dsCHW + "&startDate=2024-01-01&endDate=2024-02-29&orgUnit=" + ouBaraka + "&includeDeleted=true", 200, 2},
		{"data_element", "dataElement=" + deU5 + "&period=202402&orgUnit=" + ouAmani + "&idScheme=CODE", 200, 2},
		{"E2001", "period=202402&orgUnit=" + ouAmani, 409, 0},
		{"E2001_unknown_dataset", "dataSet=" + unknownUID + "&period=202402&orgUnit=" + ouAmani, 409, 0},
		{"E2002", "dataSet=" + dsCHW + "&orgUnit=" + ouAmani, 409, 0},
		{"E2003", "dataSet=" + dsCHW + "&period=202402&startDate=2024-01-01&endDate=2024-02-01&orgUnit=" + ouAmani, 409, 0},
		{"E2006", "dataSet=" + dsCHW + "&period=202402", 409, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get("/api/dataValueSets?" + tt.query)
			if r.status != tt.status {
				t.Fatalf("status %d; want %d\n%s", r.status, tt.status, r.body)
			}
			golden(t, "pull_"+tt.name, r.body)
			if tt.status == 200 {
				if got := len(r.json(t)["dataValues"].([]any)); got != tt.values {
					t.Errorf("%d values; want %d", got, tt.values)
				}
			}
		})
	}
	// dataElement alone is not enough before 2.41.
	e40 := newEnv(t, "2.40")
	if r := e40.get("/api/dataValueSets?dataElement=" + deU5 + "&period=202402&orgUnit=" + ouAmani); r.status != 409 {
		t.Errorf("2.40 dataElement only: status %d; want 409", r.status)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, "2.40")
	e.s.Fail(2, http.StatusServiceUnavailable)
	for i, want := range []int{503, 503, 200} {
		if r := e.push("", validPush); r.status != want {
			t.Errorf("push %d: status %d; want %d", i, r.status, want)
		}
	}
	if got := len(e.s.Requests()); got != 3 {
		t.Errorf("%d requests recorded; want 3", got)
	}
	if r := e.get("/api/me"); r.status != 200 {
		t.Errorf("GET /api/me after faults: %d", r.status)
	}

	e.s.SetDelay(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/api/40/dataValueSets", strings.NewReader(validPush))
	req.SetBasicAuth(testUser, testPass)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delayed push: err %v; want deadline exceeded", err)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("client waited %v", time.Since(start))
	}
	e.s.SetDelay(0)
	if r := e.push("", validPush); r.status != 200 {
		t.Errorf("after SetDelay(0): %d", r.status)
	}

	// A delay and a failure combine.
	e.s.SetDelay(30 * time.Millisecond)
	e.s.Fail(1, http.StatusBadGateway)
	start = time.Now()
	if r := e.push("", validPush); r.status != http.StatusBadGateway || time.Since(start) < 30*time.Millisecond {
		t.Errorf("delayed failure: %d after %v", r.status, time.Since(start))
	}
	if r := e.push("", validPush); r.status != http.StatusOK {
		t.Errorf("after the failure: %d", r.status)
	}
	e.s.SetDelay(0)

	e.s.AddFault(Fault{Path: "/api/system/info", Status: http.StatusBadGateway})
	if r := e.get("/api/system/info"); r.status != http.StatusBadGateway {
		t.Errorf("system/info fault: %d", r.status)
	}
	e.s.Reset()
	if len(e.s.Requests()) != 0 || len(e.s.Stored()) != 0 {
		t.Errorf("Reset left requests or values")
	}
}

func TestContextPath(t *testing.T) {
	e := newEnv(t, "2.41", func(o *Options) { o.ContextPath = "/dhis" })
	if r := e.get("/dhis/api/me"); r.status != 200 {
		t.Errorf("/dhis/api/me: %d; want 200", r.status)
	}
	if r := e.get("/api/me"); r.status != 404 {
		t.Errorf("/api/me: %d; want 404", r.status)
	}
	r := e.do(http.MethodPost, "/dhis/api/41/dataValueSets?async=true", validPush)
	if r.status != 200 || r.header.Get("Location") != "/dhis/api/system/tasks/DATAVALUE_IMPORT" {
		t.Errorf("async under a context path: %d, Location %q", r.status, r.header.Get("Location"))
	}
	if len(e.s.Stored()) != 4 {
		t.Errorf("stored %v", storedValues(e.s))
	}
}
