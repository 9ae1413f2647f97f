package redirect

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestPolicy(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		body, _ := io.ReadAll(r.Body)
		if len(body) > 0 {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer other.Close()
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, origin.URL+"/final", http.StatusFound)
		case "/final":
			if r.Header.Get("Authorization") == "" {
				t.Error("a same-origin redirect lost the credentials")
			}
			_, _ = io.WriteString(w, "ok")
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/post":
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
		default:
			http.Redirect(w, r, other.URL+"/elsewhere?x=1", http.StatusFound)
		}
	}))
	defer origin.Close()
	hc := &http.Client{CheckRedirect: Policy("cht")}

	tests := []struct {
		name, method, path, wantErr string
	}{
		{"same origin followed", "GET", "/same", ""},
		{"another port refused", "GET", "/other", "cht: redirect refused: GET " + origin.URL + "/other answered 302 to " + other.URL + "/elsewhere, another port"},
		{"307 on a push refused", "POST", "/post", "answered 307 to " + other.URL + "/elsewhere, another port"},
		{"a loop ends", "GET", "/loop", "after 10 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, origin.URL+tt.path, strings.NewReader("values and token"))
			req.SetBasicAuth("medic", "password")
			resp, err := hc.Do(req)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("Do followed the redirect; want %q", tt.wantErr)
			}
			var re *Error
			if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || re.Upstream() != "cht" {
				t.Fatalf("error %v is not a refused redirect", err)
			}
			if !strings.Contains(re.Error(), tt.wantErr) {
				t.Errorf("error %q; want it to contain %q", re.Error(), tt.wantErr)
			}
		})
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("the other server received credentials or a body %d times", n)
	}
}

func TestPolicySchemeDowngrade(t *testing.T) {
	check := Policy("dhis2")
	first, _ := http.NewRequest("GET", "https://dhis2.example.org/api/me", nil)
	next, _ := http.NewRequest("GET", "http://dhis2.example.org/api/me", nil)
	next.Response = &http.Response{StatusCode: 301}
	err := check(next, []*http.Request{first})
	if err == nil || !strings.Contains(err.Error(), "another scheme (http, not https)") ||
		!strings.Contains(err.Error(), "only to https://dhis2.example.org:443") {
		t.Fatalf("https→http redirect: %v", err)
	}
	same, _ := http.NewRequest("GET", "https://DHIS2.example.org:443/api/me/", nil)
	if err := check(same, []*http.Request{first}); err != nil {
		t.Errorf("same origin with the default port written out: %v", err)
	}
}
