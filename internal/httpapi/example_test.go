package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/httpapi"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// exporter stands in for *export.Service: every export imports everything.
type exporter struct{}

func (exporter) DataSets(context.Context) ([]string, error) { return []string{"VMuFODsyWaO"}, nil }

func (exporter) Preview(context.Context, export.Request) (*export.Preview, error) {
	return &export.Preview{}, nil
}

func (exporter) Export(_ context.Context, req export.ExportRequest) (*export.Report, error) {
	return &export.Report{
		Status: export.StatusSuccessful, DataSet: req.DataSet, Period: req.Period.Period(),
		OrgUnits: []string{"ouDistrict1"}, DataValues: export.ValueCounts{Built: 2, Valid: 2},
		Problems: []export.Problem{}, Import: &export.ImportSummary{Status: "SUCCESS", Imported: 2, Conflicts: []export.Conflict{}},
	}, nil
}

// An OpenHIM polling channel sends GET /export with no query string: the
// mediator exports last month of every data set and answers with an
// envelope whose response.body lists one report per data set.
func Example() {
	h, err := httpapi.New(httpapi.Options{
		URN:      "urn:mediator:cht-dhis2",
		Version:  "1.0.0",
		Exporter: exporter{},
		Now:      func() time.Time { return time.Date(2024, time.July, 15, 9, 0, 0, 0, time.UTC) },
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/export", nil))

	var env openhim.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(env.Status, env.Response.Status, env.Properties["period"], env.Properties["imported"])
	fmt.Println(env.Response.Body)
	// Output:
	// 200 application/json+openhim
	// Successful 200 202406 2
	// {"status":"Successful","period":"202406","dryRun":false,"reports":[{"status":"Successful","dataSet":"VMuFODsyWaO","period":"202406","orgUnits":["ouDistrict1"],"dataValues":{"built":2,"valid":2,"rejected":0,"notSent":0},"problems":[],"import":{"status":"SUCCESS","imported":2,"updated":0,"ignored":0,"deleted":0,"chunks":0,"conflicts":[]},"dryRun":false,"forced":false}]}
}
