package dhis2_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// A DHIS2 2.40 that stores the first value and rejects the second: it
// answers 409 with a WebMessage whose import summary has a conflict.
// PushDataValues reads that as a partial success, not as a failure.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/dhis/api/system/info":
			fmt.Fprint(w, `{"version":"2.40.3","calendar":"iso8601"}`)
		case "/dhis/api/dataValueSets":
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"httpStatus":"Conflict","httpStatusCode":409,"status":"WARNING",
				"message":"One more conflicts encountered, please check import summary.",
				"response":{"responseType":"ImportSummary","status":"WARNING",
					"description":"Import process completed successfully",
					"importCount":{"imported":1,"updated":0,"ignored":1,"deleted":0},
					"rejectedIndexes":[1],
					"conflicts":[{"object":"Qw1Er2Ty3Ui","objects":{"dataElement":"Qw1Er2Ty3Ui","value":"value_not_positive_integer"},
						"value":"Value must match value type of data element `+"`Qw1Er2Ty3Ui`"+`",
						"errorCode":"E7619","property":"value","indexes":[1]}]}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	c, err := dhis2.New(config.DHIS2{
		URL:       srv.URL + "/dhis/",
		Token:     config.Secret("d2pat_exampleexampleexampleexample1234567890"),
		Timeout:   30 * time.Second,
		ChunkSize: 5000,
	}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	values := []validate.Value{
		{DataElement: "Qw1Er2Ty3Ui", Period: "202401", OrgUnit: "Zx9Yw8Vu7Ts", Value: "42"},
		{DataElement: "Qw1Er2Ty3Ui", Period: "202401", OrgUnit: "Nm1Qa2Ws3Ed", Value: "0"},
	}
	res, err := c.PushDataValues(context.Background(), values, dhis2.PushOptions{DataSet: "aB3dE5gH7jK"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %d written, %d ignored\n", res.Status, res.Written(), res.Ignored)
	for _, cf := range res.Conflicts {
		for _, i := range cf.Indexes {
			fmt.Printf("value %d (org unit %s): %s %s\n", i, values[i].OrgUnit, cf.ErrorCode, cf.Objects["value"])
		}
	}
	// Output:
	// WARNING: 1 written, 1 ignored
	// value 1 (org unit Nm1Qa2Ws3Ed): E7619 value_not_positive_integer
}

// ParseImportResponse reads a DHIS2 answer of any version; here the bare
// import summary of a 2.36 server, which answers 200 even for conflicts.
func ExampleParseImportResponse() {
	res, err := dhis2.ParseImportResponse(200, []byte(`{"responseType":"ImportSummary","status":"WARNING",
		"importCount":{"imported":1,"updated":0,"ignored":1,"deleted":0},
		"conflicts":[{"object":"Xx1Xx2Xx3Xx","value":"Data element not found or not accessible"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.Imported, res.Ignored, res.Conflicts[0].Value)
	// Output: WARNING 1 1 Data element not found or not accessible
}
