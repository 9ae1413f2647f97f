package cht

import (
	"context"
	"net/http"
	"testing"
)

// captureTransport records the requests and answers with an empty page.
type captureTransport struct {
	answerTransport
	reqs []*http.Request
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.reqs = append(c.reqs, req)
	return c.answerTransport.RoundTrip(req)
}

// The owners batch, POST _all_docs with keys, is a read: marked idempotent
// for the retry transport (an Idempotency-Key header with no value, which
// net/http never sends).
func TestClient_readsMarkedIdempotent(t *testing.T) {
	tr := &captureTransport{answerTransport: answerTransport{status: 200, body: []byte(`{"rows":[]}`)}}
	c := answersClient(t, tr)
	if _, err := c.Owners(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if len(tr.reqs) == 0 {
		t.Fatal("no request")
	}
	for _, r := range tr.reqs {
		v, ok := r.Header["Idempotency-Key"]
		if r.Method == http.MethodPost && (!ok || v != nil) {
			t.Errorf("%s %s: Idempotency-Key = %v, %t; want present with no value", r.Method, r.URL.Path, v, ok)
		}
	}
}

func TestMarkIdempotent(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/medic/_all_docs", true},
		{"POST", "/medic/_find", true},
		{"POST", "/medic/_bulk_get", true},
		{"POST", "/medic/_design/medic-client/_view/contacts_by_type", true},
		{"POST", "/medic/_bulk_docs", false},
		{"POST", "/medic", false},
		{"PUT", "/medic/_all_docs", false},
		{"GET", "/medic/_all_docs", false}, // a GET needs no mark
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://cht.test"+tt.path, nil)
		markIdempotent(req)
		if _, got := req.Header["Idempotency-Key"]; got != tt.want {
			t.Errorf("markIdempotent(%s %s) marked %t; want %t", tt.method, tt.path, got, tt.want)
		}
	}
}
