package dhis2

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// metadataServer serves the data set and default COC of testdata, and
// counts the data set fetches.
func metadataServer(t *testing.T, dataSet, defaults []byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var fetches atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dhis/api/dataSets/{id}", func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if r.PathValue("id") != "aB3dE5gH7jK" {
			writeJSON(w, 404, []byte(`{"httpStatus":"Not Found","httpStatusCode":404,"status":"ERROR","message":"DataSet with id `+r.PathValue("id")+` could not be found."}`))
			return
		}
		if f := r.URL.Query().Get("fields"); f != dataSetFields {
			t.Errorf("fields = %q; want the field list of DHIS2 Web API docs, metadata", f)
		}
		if !strings.Contains(dataSetFields, "dataSetElements[dataElement[") || !strings.Contains(dataSetFields, "]],categoryCombo[id,categoryOptionCombos") {
			t.Errorf("fields do not ask for the dataSetElement's category combo override")
		}
		writeJSON(w, 200, dataSet)
	})
	mux.HandleFunc("GET /dhis/api/system/info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, readTestdata(t, "systeminfo-2.40.json"))
	})
	mux.HandleFunc("GET /dhis/api/categoryOptionCombos", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("filter") != "name:eq:default" || q.Get("paging") != "false" {
			t.Errorf("default COC query = %v; want filter=name:eq:default&paging=false", q)
		}
		writeJSON(w, 200, defaults)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &fetches
}

func TestClient_Metadata(t *testing.T) {
	srv, _ := metadataServer(t, readTestdata(t, "dataset.json"), readTestdata(t, "default-coc.json"))
	c, _ := newTestClient(t, testConfig(srv.URL+"/dhis"), nil)
	got, err := c.Metadata(context.Background(), "aB3dE5gH7jK")
	if err != nil {
		t.Fatal(err)
	}
	def := map[string]bool{"HllvX50cXC0": true}
	want := validate.Metadata{
		DataSet: validate.DataSet{ID: "aB3dE5gH7jK", Name: "CHW monthly activity", PeriodType: "Monthly",
			AttributeOptionCombos: def, OpenFuturePeriods: 1, ExpiryDays: 15,
			DataInputPeriods: []validate.DataInputPeriod{
				{Period: "202401", OpeningDate: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), ClosingDate: time.Date(2024, 2, 15, 0, 0, 0, 0, time.UTC)},
				{Period: "202402"},
			},
			Workflow: "Wf1Wf2Wf3Wf"},
		DataElements: map[string]validate.DataElement{
			"Qw1Er2Ty3Ui": {ID: "Qw1Er2Ty3Ui", Name: "Households visited", ValueType: "INTEGER_ZERO_OR_POSITIVE", CategoryOptionCombos: def, AggregationType: "SUM"},
			// The dataSetElement's category combo overrides the element's own.
			"Jk7Lz8Xc9Vb": {ID: "Jk7Lz8Xc9Vb", Name: "Deliveries", ValueType: "NUMBER",
				CategoryOptionCombos: map[string]bool{"Op4As5Df6Gh": true, "Op7As8Df9Gh": true}, ZeroIsSignificant: true, AggregationType: "SUM"},
			"Mn2Bv3Cx4Za": {ID: "Mn2Bv3Cx4Za", Name: "Referral reason", ValueType: "TEXT", CategoryOptionCombos: def, HasOptionSet: true, AggregationType: "NONE"},
		},
		OrgUnits:                   map[string]bool{"Zx9Yw8Vu7Ts": true, "Nm1Qa2Ws3Ed": true},
		DefaultCategoryOptionCombo: "HllvX50cXC0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata() =\n%+v\nwant\n%+v", got, want)
	}
}

// A data set missing from a real DHIS2 is ErrDataSetNotFound; a dhis2.url
// that leads to no DHIS2 (a missing context path) says so instead.
func TestClient_Metadata_wrongURL(t *testing.T) {
	srv, _ := metadataServer(t, readTestdata(t, "dataset.json"), readTestdata(t, "default-coc.json"))
	c, _ := newTestClient(t, testConfig(srv.URL), nil) // no /dhis
	_, err := c.Metadata(context.Background(), "aB3dE5gH7jK")
	if err == nil || errors.Is(err, ErrDataSetNotFound) || !strings.Contains(err.Error(), "check dhis2.url, including any context path") {
		t.Fatalf("Metadata(wrong URL) = %v; want an error pointing at dhis2.url", err)
	}
}

func TestClient_Metadata_notFound(t *testing.T) {
	srv, _ := metadataServer(t, readTestdata(t, "dataset.json"), readTestdata(t, "default-coc.json"))
	c, _ := newTestClient(t, testConfig(srv.URL+"/dhis/"), nil)
	_, err := c.Metadata(context.Background(), "Zz9Zz9Zz9Zz")
	if !errors.Is(err, ErrDataSetNotFound) {
		t.Fatalf("Metadata(unknown) = %v; want ErrDataSetNotFound", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || !strings.Contains(err.Error(), "Zz9Zz9Zz9Zz could not be found") {
		t.Errorf("Metadata(unknown) = %v; want a wrapped 404 *StatusError with DHIS2's message", err)
	}

	_, err = c.Metadata(context.Background(), "../me")
	if err == nil || !strings.Contains(err.Error(), `data set id "../me" is not a DHIS2 uid`) {
		t.Errorf("Metadata(../me) = %v; want a uid error", err)
	}
}

func TestClient_Metadata_bad(t *testing.T) {
	ds := string(readTestdata(t, "dataset.json"))
	defaults := string(readTestdata(t, "default-coc.json"))
	tests := []struct {
		name, dataSet, defaults, wantErr string
	}{
		{name: "other id", dataSet: strings.Replace(ds, `"id": "aB3dE5gH7jK"`, `"id": "Other123456"`, 1), defaults: defaults,
			wantErr: `DHIS2 answered with data set "Other123456"`},
		{name: "no period type", dataSet: strings.Replace(ds, `"periodType": "Monthly",`, ``, 1), defaults: defaults,
			wantErr: "no periodType"},
		{name: "element without id", dataSet: strings.Replace(ds, `"dataElement": { "id": "Qw1Er2Ty3Ui",`, `"dataElement": {`, 1),
			defaults: defaults, wantErr: "dataSetElements[0] has no data element id"},
		{name: "no default coc", dataSet: ds, defaults: `{"categoryOptionCombos":[]}`, wantErr: `no category option combo named "default"`},
		{name: "data set html", dataSet: `<html>`, defaults: defaults, wantErr: "an HTML page instead of a DHIS2 API answer"},
		{name: "data set not json", dataSet: `{"id":`, defaults: defaults, wantErr: "decode answer: unexpected end of JSON input"},
		{name: "defaults not json", dataSet: ds, defaults: `{"categoryOptionCombos":{}}`, wantErr: "default category option combo: decode answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := metadataServer(t, []byte(tt.dataSet), []byte(tt.defaults))
			c, _ := newTestClient(t, testConfig(srv.URL+"/dhis"), nil)
			_, err := c.Metadata(context.Background(), "aB3dE5gH7jK")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Metadata() = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestClient_Metadata_severalDefaults(t *testing.T) {
	tests := []struct {
		name, defaults, want string
	}{
		{name: "one in the default combo",
			defaults: `{"categoryOptionCombos":[{"id":"Aa1Aa1Aa1Aa","name":"default","categoryCombo":{"id":"Cc1","name":"old"}},
				{"id":"HllvX50cXC0","name":"default","categoryCombo":{"id":"bjDvmb4bfuf","name":"default","isDefault":true}}]}`,
			want: "HllvX50cXC0"},
		{name: "none in the default combo, one used by the data set",
			defaults: `{"categoryOptionCombos":[{"id":"Aa1Aa1Aa1Aa","name":"default"},{"id":"HllvX50cXC0","name":"default"}]}`,
			want:     "HllvX50cXC0"},
		{name: "none used: the first by id",
			defaults: `{"categoryOptionCombos":[{"id":"Zz1Aa1Aa1Aa","name":"default"},{"id":"Bb1Bb1Bb1Bb","name":"default"}]}`,
			want:     "Bb1Bb1Bb1Bb"},
		{name: "names other than default are ignored",
			defaults: `{"categoryOptionCombos":[{"id":"Zz1Aa1Aa1Aa","name":"Default"},{"id":"Bb1Bb1Bb1Bb","name":"default"}]}`,
			want:     "Bb1Bb1Bb1Bb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := metadataServer(t, readTestdata(t, "dataset.json"), []byte(tt.defaults))
			c, logs := newTestClient(t, testConfig(srv.URL+"/dhis"), nil)
			md, err := c.Metadata(context.Background(), "aB3dE5gH7jK")
			if err != nil {
				t.Fatal(err)
			}
			if md.DefaultCategoryOptionCombo != tt.want {
				t.Errorf("DefaultCategoryOptionCombo = %q; want %q", md.DefaultCategoryOptionCombo, tt.want)
			}
			if strings.Count(tt.defaults, `"name":"default"`) > 1 && !strings.Contains(logs.String(), "several category option combos named default") {
				t.Errorf("no warning about several defaults in the logs: %s", logs)
			}
		})
	}
}

func TestClient_Metadata_cache(t *testing.T) {
	srv, fetches := metadataServer(t, readTestdata(t, "dataset.json"), readTestdata(t, "default-coc.json"))
	cfg := testConfig(srv.URL + "/dhis")
	cfg.MetadataCacheTTL = 10 * time.Minute
	c, _ := newTestClient(t, cfg, nil)
	now := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	ctx := context.Background()

	md, err := c.Metadata(ctx, "aB3dE5gH7jK")
	if err != nil {
		t.Fatal(err)
	}
	md.OrgUnits["Hacked12345"] = true // a caller's change must not reach the cache
	md.DataElements["Qw1Er2Ty3Ui"].CategoryOptionCombos["Hacked12345"] = true

	now = now.Add(9 * time.Minute)
	md, err = c.Metadata(ctx, "aB3dE5gH7jK")
	if err != nil {
		t.Fatal(err)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("after 9 minutes: %d fetches; want 1 (cached)", n)
	}
	if md.OrgUnits["Hacked12345"] || md.DataElements["Qw1Er2Ty3Ui"].CategoryOptionCombos["Hacked12345"] {
		t.Errorf("a caller's change reached the cache")
	}

	now = now.Add(time.Minute)
	if _, err := c.Metadata(ctx, "aB3dE5gH7jK"); err != nil {
		t.Fatal(err)
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("after 10 minutes: %d fetches; want 2 (expired)", n)
	}

	// TTL 0: no cache.
	cfg.MetadataCacheTTL = 0
	c, _ = newTestClient(t, cfg, nil)
	for range 2 {
		if _, err := c.Metadata(ctx, "aB3dE5gH7jK"); err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches.Load(); n != 4 {
		t.Errorf("with TTL 0: %d fetches in all; want 4", n)
	}
}

func TestClient_Metadata_concurrent(t *testing.T) {
	release := make(chan struct{})
	var fetches atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/dataSets/{id}", func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		<-release
		writeJSON(w, 200, readTestdata(t, "dataset.json"))
	})
	mux.HandleFunc("GET /api/categoryOptionCombos", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, readTestdata(t, "default-coc.json"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.MetadataCacheTTL = time.Minute
	c, _ := newTestClient(t, cfg, nil)

	// A caller that gives up does not fail the others.
	quitter, cancel := context.WithCancel(context.Background())
	quitErr := make(chan error, 1)
	go func() {
		_, err := c.Metadata(quitter, "aB3dE5gH7jK")
		quitErr <- err
	}()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = c.Metadata(context.Background(), "aB3dE5gH7jK")
		})
	}
	for fetches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-quitErr; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled caller got %v; want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for 9 concurrent callers; want 1", n)
	}
}
