package dhis2

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/h2non/gock"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

// TestNoSecretInErrors drives every failure we know with a known password
// and token, and fails if either shows in an error or a log line, even when
// the server echoes them back.
func TestNoSecretInErrors(t *testing.T) {
	echo := "you sent " + testPassword + " and " + testToken
	answers := map[string]func(w http.ResponseWriter, r *http.Request){
		"401": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, readTestdata(t, "webmessage-401.json"))
		},
		"401 echo": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, []byte(`{"httpStatusCode":401,"message":"`+echo+`"}`))
		},
		"500 echo": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500); _, _ = w.Write([]byte(echo)) },
		"200 echo": func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, []byte(echo)) },
		"409 echo": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 409, []byte(`{"httpStatusCode":409,"message":"`+echo+`"}`))
		},
		"bad status echo": func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				writeJSON(w, 409, []byte(`{"responseType":"ImportSummary","status":"`+echo+`"}`))
				return
			}
			writeJSON(w, 200, readTestdata(t, "systeminfo-2.40.json"))
		},
		"302 to login": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login?p="+testPassword, http.StatusFound)
		},
		"task echo": func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				writeJSON(w, 200, []byte(`{"httpStatusCode":200,"response":{"id":"Rt5Yu6Io7Pa","jobType":"DATAVALUE_IMPORT","note":"`+echo+`"}}`))
				return
			}
			writeJSON(w, 200, []byte(`{"`+echo+`":1}`))
		},
	}
	for name, answer := range answers {
		for _, token := range []bool{false, true} {
			secrets := []string{testPassword}
			if token {
				secrets = append(secrets, testToken)
			}
			t.Run(name, func(t *testing.T) {
				mux := http.NewServeMux()
				mux.HandleFunc("GET /api/system/info", func(w http.ResponseWriter, r *http.Request) {
					if name == "task echo" || name == "bad status echo" {
						writeJSON(w, 200, readTestdata(t, "systeminfo-2.40.json"))
						return
					}
					answer(w, r)
				})
				mux.HandleFunc("/", answer)
				srv := httptest.NewServer(mux)
				t.Cleanup(srv.Close)
				cfg := testConfig(srv.URL)
				cfg.Async = name == "task echo"
				if token {
					cfg.Token = config.Secret(testToken)
				}
				c, logs := newTestClient(t, cfg, nil)
				var errs []error
				_, err := c.SystemInfo(context.Background())
				errs = append(errs, err)
				_, err = c.Metadata(context.Background(), "aB3dE5gH7jK")
				errs = append(errs, err)
				_, err = c.PushDataValues(context.Background(), values(2), PushOptions{})
				errs = append(errs, err)
				for _, err := range errs {
					if err == nil {
						continue
					}
					assertNoSecret(t, "error", err.Error(), secrets...)
					var se *StatusError
					if errors.As(err, &se) {
						assertNoSecret(t, "StatusError.Body", se.Body, secrets...)
					}
				}
				if errs[2] == nil {
					t.Errorf("PushDataValues() succeeded; want an error")
				}
				assertNoSecret(t, "logs", logs.String(), secrets...)
				if strings.Contains(logs.String(), `"path":"api`) {
					t.Errorf("logged path without its leading slash")
				}
			})
		}
	}
}

func TestNoSecretInTransportErrors(t *testing.T) {
	c := gockClient(t, func(cfg *config.DHIS2) { cfg.Token = config.Secret(testToken) })
	gock.New(gockBase).Get("/dhis/api/system/info").ReplyError(errors.New("proxy refused " + testToken + " for admin:" + testPassword))
	_, err := c.SystemInfo(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unreachable: proxy refused <redacted> for admin:<redacted>") {
		t.Fatalf("SystemInfo() = %v; want a redacted transport error", err)
	}
	assertNoSecret(t, "error", err.Error(), testPassword, testToken)
	gockDone(t)
}

func assertNoSecret(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret: %s", what, s)
		}
	}
}
