package export

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
)

// fakeCHT is an in-memory CHTSource.
type fakeCHT struct {
	settings     cht.Settings
	contacts     []aggregate.Contact
	docs         map[string][]aggregate.TargetDoc // by doc month
	owners       map[string]aggregate.Owner
	translations map[string]string
	fail         map[string]error // by method name

	mu          sync.Mutex
	askedOwners []string // every id asked for, in order of the calls
	calls       map[string]int
	gate        chan struct{} // when set, TargetDocs waits for it to close
}

func (f *fakeCHT) called(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[method]++
}

func (f *fakeCHT) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fakeCHT) Settings(context.Context) (cht.Settings, error) {
	f.called("Settings")
	return f.settings, f.fail["Settings"]
}

func (f *fakeCHT) TargetDocs(ctx context.Context, month string, fn func(aggregate.TargetDoc) error) (int, error) {
	f.called("TargetDocs")
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if err := f.fail["TargetDocs"]; err != nil {
		return 0, err
	}
	for _, d := range f.docs[month] {
		if err := fn(d); err != nil {
			return 0, err
		}
	}
	return len(f.docs[month]), nil
}

func (f *fakeCHT) Contacts(_ context.Context, fn func(aggregate.Contact) error) error {
	f.called("Contacts")
	if err := f.fail["Contacts"]; err != nil {
		return err
	}
	for _, c := range f.contacts {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeCHT) Owners(_ context.Context, ids []string) ([]aggregate.Owner, error) {
	if err := f.fail["Owners"]; err != nil {
		return nil, err
	}
	f.called("Owners")
	f.mu.Lock()
	f.askedOwners = append(f.askedOwners, ids...)
	f.mu.Unlock()
	var out []aggregate.Owner
	for _, id := range ids {
		if o, ok := f.owners[id]; ok {
			out = append(out, o)
		}
	}
	return out, nil
}

func (f *fakeCHT) Translations(context.Context, string) (map[string]string, error) {
	return f.translations, f.fail["Translations"]
}

// specExample is a composed example of CHT's DHIS2 export.
func specExample() *fakeCHT {
	return &fakeCHT{
		settings: cht.Settings{
			DataSets: []aggregate.DataSet{{ID: "dsMonthly01", TranslationKey: "dhis.ds.monthly"}},
			Targets: []aggregate.TargetDef{
				{ID: "births", DHIS: []aggregate.Mapping{{DataElement: "deBirths001"}}},
				{ID: "fac-deliv", DHIS: []aggregate.Mapping{{DataSet: "dsMonthly01", DataElement: "deFacDel001", CategoryOptionCombo: "cocUnder5aa"}}},
			},
		},
		contacts: []aggregate.Contact{
			{ID: "d1", Name: "District One", OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouDistrict1"}}},
			{ID: "h1", Name: "Health Centre One", Lineage: []string{"d1"}, OrgUnits: []aggregate.OrgUnitMapping{
				{OrgUnit: "ouHc0000001", DataSet: "dsMonthly01"}, {OrgUnit: "ouHcOther01", DataSet: "dsOther0001"}}},
		},
		docs: map[string][]aggregate.TargetDoc{"2024-06": {{
			ID: "target~2024-06~p1~org.couchdb.user:amina", Owner: "p1", UpdatedDate: 1,
			Targets: []aggregate.Target{{ID: "births", Total: 3}, {ID: "fac-deliv", Total: 5}},
		}}},
		owners:       map[string]aggregate.Owner{"p1": {ID: "p1", Lineage: []string{"h1", "d1"}}},
		translations: map[string]string{"dhis.ds.monthly": "Monthly CHW report"},
	}
}

func newService(t *testing.T, src CHTSource) *Service {
	t.Helper()
	s, err := New(src, Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return time.Date(2024, 7, 2, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func june(t *testing.T) aggregate.Month {
	t.Helper()
	m, err := aggregate.ParseMonth("202406")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestService_Preview_specExample(t *testing.T) {
	s := newService(t, specExample())
	p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
	if err != nil {
		t.Fatalf("Preview = %v", err)
	}
	got, err := json.Marshal(p.Set)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"dataSet":"dsMonthly01","completeDate":"2024-07-02","period":"202406","dataValues":[` +
		`{"dataElement":"deBirths001","period":"202406","orgUnit":"ouDistrict1","value":"3"},` +
		`{"dataElement":"deFacDel001","period":"202406","orgUnit":"ouDistrict1","categoryOptionCombo":"cocUnder5aa","value":"5"},` +
		`{"dataElement":"deBirths001","period":"202406","orgUnit":"ouHc0000001","value":"3"},` +
		`{"dataElement":"deFacDel001","period":"202406","orgUnit":"ouHc0000001","categoryOptionCombo":"cocUnder5aa","value":"5"}]}`
	if string(got) != want {
		t.Errorf("Preview =\n%s\nwant\n%s", got, want)
	}
	if len(p.Problems) != 0 {
		t.Errorf("Preview problems = %v; want none", p.Problems)
	}
}

func TestService_Preview_humanReadable(t *testing.T) {
	s := newService(t, specExample())
	p, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t), OrgUnit: "ouHc0000001", HumanReadable: true})
	if err != nil {
		t.Fatalf("Preview = %v", err)
	}
	if p.Set.DataSet != "Monthly CHW report" {
		t.Errorf("dataSet = %q; want the translated label", p.Set.DataSet)
	}
	var got []string
	for _, dv := range p.Set.DataValues {
		got = append(got, dv.OrgUnit+"/"+dv.DataElement+"="+dv.Value)
	}
	want := "Health Centre One/births=3 Health Centre One/fac-deliv=5"
	if strings.Join(got, " ") != want {
		t.Errorf("values = %v; want %s", got, want)
	}
}

func TestService_Preview_errors(t *testing.T) {
	boom := errors.New("connection refused")
	tests := []struct {
		name      string
		req       Request
		fail      string
		wantErr   string
		wantInput bool
	}{
		{name: "unknown data set", req: Request{DataSet: "dsNope"}, wantErr: `"dsNope"`, wantInput: true},
		{name: "unmapped org unit", req: Request{DataSet: "dsMonthly01", OrgUnit: "ouNowhere01"}, wantErr: `org unit "ouNowhere01" is not mapped on any CHT contact for data set "dsMonthly01"`, wantInput: true},
		{name: "settings down", req: Request{DataSet: "dsMonthly01"}, fail: "Settings", wantErr: "read CHT settings: connection refused"},
		{name: "contacts down", req: Request{DataSet: "dsMonthly01"}, fail: "Contacts", wantErr: "read CHT contacts: connection refused"},
		{name: "target docs down", req: Request{DataSet: "dsMonthly01"}, fail: "TargetDocs", wantErr: "read CHT target docs 2024-06: connection refused"},
		{name: "owners down", req: Request{DataSet: "dsMonthly01"}, fail: "Owners", wantErr: "read CHT owners: connection refused"},
		{name: "translations down", req: Request{DataSet: "dsMonthly01", HumanReadable: true}, fail: "Translations", wantErr: "read CHT translations en: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := specExample()
			src.fail = map[string]error{tt.fail: boom}
			tt.req.Period = june(t)
			_, err := newService(t, src).Preview(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Preview = %v; want an error containing %q", err, tt.wantErr)
			}
			if IsInputError(err) != tt.wantInput {
				t.Errorf("IsInputError(%v) = %v; want %v", err, IsInputError(err), tt.wantInput)
			}
			if tt.fail != "" && !errors.Is(err, boom) {
				t.Errorf("Preview error %v does not wrap the upstream error", err)
			}
		})
	}
}

func TestNew_requires(t *testing.T) {
	if _, err := New(nil, Options{Logger: slog.Default()}); err == nil {
		t.Error("New(nil source) = nil error")
	}
	if _, err := New(specExample(), Options{}); err == nil {
		t.Error("New(no logger) = nil error")
	}
}

func TestDataValue_JSONRoundTrip(t *testing.T) {
	in := `{"dataElement":"deA","period":"202406","orgUnit":"ouB","categoryOptionCombo":"cocC","value":"12","comment":"from CHT","followup":false}`
	var dv DataValue
	if err := json.Unmarshal([]byte(in), &dv); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(dv)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"dataElement":"deA","period":"202406","orgUnit":"ouB","categoryOptionCombo":"cocC","value":"12","comment":"from CHT","followup":false}`
	if string(out) != want {
		t.Errorf("round trip = %s; want %s", out, want)
	}
	// CHT's own export writes numbers; they are read as strings.
	if err := json.Unmarshal([]byte(`{"dataElement":"deA","orgUnit":"ouB","value":7}`), &dv); err != nil || dv.Value != "7" {
		t.Errorf("numeric value = %q, %v; want \"7\"", dv.Value, err)
	}
	// A copied attribute never overrides a named field.
	dv = DataValue{DataElement: "deA", OrgUnit: "ouB", Value: "1", Attributes: map[string]json.RawMessage{"value": json.RawMessage(`"999"`), "orgUnit": json.RawMessage(`"x"`)}}
	out, _ = json.Marshal(dv)
	if string(out) != `{"dataElement":"deA","orgUnit":"ouB","value":"1"}` {
		t.Errorf("reserved attributes leaked: %s", out)
	}
}

func TestService_DataSets(t *testing.T) {
	src := specExample()
	src.settings.DataSets = append(src.settings.DataSets, aggregate.DataSet{ID: "dsOther0001"})
	got, err := newService(t, src).DataSets(context.Background())
	if err != nil || strings.Join(got, ",") != "dsMonthly01,dsOther0001" {
		t.Errorf("DataSets = %v, %v", got, err)
	}
	src.fail = map[string]error{"Settings": errors.New("down")}
	if _, err := newService(t, src).DataSets(context.Background()); err == nil {
		t.Error("DataSets with CHT down = nil error")
	}
}
