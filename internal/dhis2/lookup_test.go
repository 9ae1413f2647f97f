package dhis2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// lookupServer serves GET /api/<collection> with filter=id:in:[…] over
// known (id → name), recording each asked batch.
func lookupServer(t *testing.T, collection string, known map[string]string) (*httptest.Server, func() [][]string) {
	t.Helper()
	var (
		mu      sync.Mutex
		batches [][]string
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/"+collection, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("paging") != "false" || q.Get("fields") != "id,name" {
			t.Errorf("query = %v; want fields=id,name and paging=false", q)
		}
		f, ok := strings.CutPrefix(q.Get("filter"), "id:in:[")
		if !ok || !strings.HasSuffix(f, "]") {
			t.Errorf("filter = %q; want id:in:[…]", q.Get("filter"))
			http.Error(w, "bad filter", http.StatusBadRequest)
			return
		}
		ids := strings.Split(strings.TrimSuffix(f, "]"), ",")
		mu.Lock()
		batches = append(batches, ids)
		mu.Unlock()
		var items []string
		for _, id := range ids {
			if name, ok := known[id]; ok {
				items = append(items, fmt.Sprintf(`{"id":%q,"name":%q}`, id, name))
			}
		}
		writeJSON(w, 200, []byte(fmt.Sprintf(`{%q:[%s]}`, collection, strings.Join(items, ","))))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return batches
	}
}

func TestClient_OrgUnits(t *testing.T) {
	srv, batches := lookupServer(t, "organisationUnits", map[string]string{"ouHcMbuyu01": "Mbuyu Health Centre", "ouHcKanji02": "Kanji"})
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	got, err := c.OrgUnits(context.Background(), []string{"ouHcMbuyu01", "ouMissing01", "not a uid", "ouHcMbuyu01", "ouHcKanji02"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ouHcMbuyu01": "Mbuyu Health Centre", "ouHcKanji02": "Kanji"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OrgUnits = %v; want %v", got, want)
	}
	if b := batches(); len(b) != 1 || !reflect.DeepEqual(b[0], []string{"ouHcKanji02", "ouHcMbuyu01", "ouMissing01"}) {
		t.Errorf("asked %v; want one batch of the distinct uids, sorted", b)
	}
}

func TestClient_DataElementsBatches(t *testing.T) {
	known := map[string]string{}
	var ids []string
	for i := range 250 {
		id := fmt.Sprintf("de%09d", i)
		ids = append(ids, id)
		if i%2 == 0 {
			known[id] = "DE " + id
		}
	}
	srv, batches := lookupServer(t, "dataElements", known)
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	got, err := c.DataElements(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, known) {
		t.Errorf("DataElements returned %d; want %d", len(got), len(known))
	}
	var sizes []int
	for _, b := range batches() {
		sizes = append(sizes, len(b))
	}
	if !reflect.DeepEqual(sizes, []int{100, 100, 50}) {
		t.Errorf("batch sizes = %v; want [100 100 50]", sizes)
	}
}

func TestClient_CategoryOptionCombosNone(t *testing.T) {
	c, _ := newTestClient(t, testConfig("http://127.0.0.1:1"), nil)
	got, err := c.CategoryOptionCombos(context.Background(), []string{"bad", ""})
	if err != nil || len(got) != 0 {
		t.Errorf("with no uid to ask: %v, %v; want an empty map and no call", got, err)
	}
}

func TestClient_lookupErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantIs  error
		wantErr string
	}{
		{"unauthorized", 401, `{"httpStatusCode":401,"status":"ERROR","message":"Unauthorized"}`, ErrUnauthorized, "status 401"},
		{"no list", 200, `{"pager":{}}`, nil, `no "organisationUnits" list`},
		{"list of the wrong shape", 200, `{"organisationUnits":{}}`, nil, "decode answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, []byte(tt.body))
			}))
			defer srv.Close()
			c, _ := newTestClient(t, testConfig(srv.URL), nil)
			_, err := c.OrgUnits(context.Background(), []string{"ouHcMbuyu01"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want it to contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}
