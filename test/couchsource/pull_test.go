package couchsource_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/httpapi"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// 50 concurrent identical pulls through the HTTP API, with the real export
// service and CHT client over HTTP, read the month from CHT once; so do a
// pull and an export preview of the same data set and period.
func TestPull_fiftyPullsOneRead(t *testing.T) {
	src := start(t, couchsource.National(1000, "2024-06"))
	c, err := cht.New(config.CHT{URL: src.URL, Database: "medic", Timeout: 30 * time.Second, PageSize: 100, BatchSize: 100, Concurrency: 4, Locale: "en"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := export.New(c, export.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Options{URN: "urn:mediator:test", Exporter: svc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var entered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	src.Pause()
	var wg sync.WaitGroup
	// A preview (as an export does) starts the build...
	var previewErr error
	wg.Go(func() {
		_, previewErr = svc.Preview(context.Background(), export.Request{DataSet: couchsource.DataSet, Period: period(t, "202406")})
	})
	waitUntil(t, func() bool { return src.Stats().Requests > 0 })
	// ...and the pulls join it.
	const n = 50
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/dataValueSets?dataSet=" + couchsource.DataSet + "&period=202406")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	waitUntil(t, func() bool { return entered.Load() == n })
	src.Resume()
	wg.Wait()
	if previewErr != nil {
		t.Fatal(previewErr)
	}
	for i, code := range codes {
		if code != 200 {
			t.Errorf("pull %d = %d; want 200", i, code)
		}
	}
	if st := src.Stats(); st.TargetScans != 1 {
		t.Errorf("%d reads of the month for %d identical pulls and a preview; want 1 (stats %+v)", st.TargetScans, n, st)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
