package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// fakeCore records transaction updates; it fails the first failures ones.
type fakeCore struct {
	mu       sync.Mutex
	failures int
	calls    int
	updates  map[string]transactionUpdate
}

func (f *fakeCore) UpdateTransaction(_ context.Context, id string, update any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failures > 0 {
		f.failures--
		return errors.New("dial tcp: connection refused")
	}
	f.updates[id] = update.(transactionUpdate)
	return nil
}

func (f *fakeCore) update(id string) (transactionUpdate, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.updates[id]
	return u, ok
}

func TestAsyncExport(t *testing.T) {
	pushFailed := func(ctx context.Context, req export.ExportRequest) (*export.Report, error) {
		return nil, fmt.Errorf("export: push to DHIS2: %w", errors.New("dhis2: status 503"))
	}
	tests := []struct {
		name       string
		target     string
		txID       string
		noCore     bool
		exportFn   func(context.Context, export.ExportRequest) (*export.Report, error)
		wantCode   int
		wantStatus string // of the update
		wantHTTP   int    // response.status of the update
		wantError  bool
	}{
		{"async path, success", "/export/async?dataSet=dsAAAAAAAAA&period=202406", "tx1", false, nil, 202, "Successful", 200, false},
		{"async=true, success", "/export?dataSet=dsAAAAAAAAA&period=202406&async=true", "tx2", false, nil, 202, "Successful", 200, false},
		{"upstream failure carries the error", "/export/async?dataSet=dsAAAAAAAAA&period=202406", "tx3", false, pushFailed, 202, "Failed", 502, true},
		{"async=false is synchronous", "/export?dataSet=dsAAAAAAAAA&period=202406&async=false", "tx4", false, nil, 200, "", 0, false},
		{"bad parameter: 400 at once", "/export/async?dataSet=dsAAAAAAAAA&period=2024-13", "tx5", false, nil, 400, "", 0, false},
		{"bad async value", "/export?dataSet=dsAAAAAAAAA&async=yes", "tx6", false, nil, 400, "", 0, false},
		{"no transaction id", "/export/async?dataSet=dsAAAAAAAAA", "", false, nil, 400, "", 0, false},
		{"no OpenHIM core", "/export/async?dataSet=dsAAAAAAAAA", "tx8", true, nil, 503, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := &fakeCore{failures: 1, updates: map[string]transactionUpdate{}}
			jobs := NewJobs()
			jobs.Host, jobs.Started = "host-a", "2024-07-15T10:00:00Z"
			exp := &fakeExporter{exportFn: tt.exportFn}
			h, _ := testServer(t, exp, func(o *Options) {
				o.Jobs = jobs
				if !tt.noCore {
					o.Updater = core
				}
			})
			hdr := map[string]string{}
			if tt.txID != "" {
				hdr[TransactionHeader] = tt.txID
			}
			rec := do(h, http.MethodGet, tt.target, nil, hdr)
			env := checkEnvelope(t, rec)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d; want %d: %s", rec.Code, tt.wantCode, rec.Body.String())
			}
			if tt.wantStatus == "" {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := jobs.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if _, ok := core.update(tt.txID); ok {
					t.Error("a transaction was updated for a request answered synchronously")
				}
				return
			}
			if env.Status != openhim.StatusProcessing || env.Properties[PropertyAsyncHost] != "host-a" || env.Properties[PropertyAsyncStarted] != "2024-07-15T10:00:00Z" ||
				!strings.Contains(env.Response.Body, tt.txID) {
				t.Errorf("immediate answer %+v; want Processing naming the transaction and the process", env)
			}
			// The first update fails (core unreachable): it is retried.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := jobs.Wait(ctx); err != nil {
				t.Fatalf("the background export did not end: %v", err)
			}
			u, ok := core.update(tt.txID)
			if !ok || core.calls != 2 {
				t.Fatalf("update %+v after %d calls; want one after a retry", u, core.calls)
			}
			if u.Status != tt.wantStatus || u.Response.Status != tt.wantHTTP || (u.Error != nil) != tt.wantError || u.Orchestrations == nil {
				t.Errorf("update status %q response %d error %+v; want %q %d error %t", u.Status, u.Response.Status, u.Error, tt.wantStatus, tt.wantHTTP, tt.wantError)
			}
			if tt.wantStatus == "Successful" {
				var rep export.Report
				if err := json.Unmarshal([]byte(u.Response.Body), &rep); err != nil || rep.DataSet != "dsAAAAAAAAA" || rep.Period != "202406" {
					t.Errorf("update body %q: want the report of dsA 202406", u.Response.Body)
				}
			}
			if calls := exp.exportCalls(); len(calls) != 1 || calls[0].DataSet != "dsAAAAAAAAA" {
				t.Errorf("exports %+v; want one of dsA", calls)
			}
		})
	}
}
