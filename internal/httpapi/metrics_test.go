package httpapi

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func TestMetricsEndpoint(t *testing.T) {
	scrape := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("up 1\n"))
	})
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte("route:Route-Pass-1"))
	bad := "Basic " + base64.StdEncoding.EncodeToString([]byte("route:wrong"))
	tests := []struct {
		name        string
		metrics     http.Handler
		auth        bool
		credentials bool
		header      string
		want        int
	}{
		{"no handler: not served", nil, true, true, good, http.StatusNotFound},
		{"auth on, no credentials configured: open", scrape, true, false, "", http.StatusOK},
		{"auth on, credentials given", scrape, true, true, good, http.StatusOK},
		{"auth on, credentials missing", scrape, true, true, "", http.StatusUnauthorized},
		{"auth on, credentials wrong", scrape, true, true, bad, http.StatusUnauthorized},
		{"auth off: open even with server credentials", scrape, false, true, "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := testServer(t, &fakeExporter{}, func(o *Options) {
				o.Metrics, o.MetricsAuth = tt.metrics, tt.auth
				if tt.credentials {
					o.Username, o.Password = "route", "Route-Pass-1"
				}
			})
			hdr := map[string]string{}
			if tt.header != "" {
				hdr["Authorization"] = tt.header
			}
			rec := do(h, http.MethodGet, "/metrics", nil, hdr)
			if rec.Code != tt.want {
				t.Fatalf("GET /metrics: %d; want %d", rec.Code, tt.want)
			}
			if tt.want == http.StatusOK && rec.Body.String() != "up 1\n" {
				t.Errorf("body %q; want the metrics handler's", rec.Body.String())
			}
			if tt.want == http.StatusOK && strings.Contains(logs.String(), `"level":"INFO","msg":"request"`) {
				t.Error("a successful scrape is logged at INFO; want DEBUG")
			}
		})
	}
}
