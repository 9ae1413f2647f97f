package dhis2

// Robustness of the client against answers of unknown shape from whatever
// answers at dhis2.url: no call may panic or hang, and a push that got an
// answer it cannot read never claims an import.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// answerTransport answers every request with the same status and body.
type answerTransport struct {
	status int
	body   []byte
}

func (a answerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{
		StatusCode:    a.status,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)),
		Request:       req,
	}, nil
}

const answersToken = "d2pat_answersTestToken0000000000000000001"

func answersClient(t testing.TB, status int, body []byte) *Client {
	t.Helper()
	cfg := config.Default().DHIS2
	cfg.URL = "http://dhis2.test"
	cfg.Token = answersToken
	cfg.ChunkSize = 2
	cfg.Timeout = 5 * time.Second
	c, err := New(cfg, &http.Client{Transport: answerTransport{status: status, body: body}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var answersValues = []validate.Value{
	{DataElement: "deAAAAAAAA1", Period: "202406", OrgUnit: "ouAAAAAAAA1", Value: "1"},
	{DataElement: "deAAAAAAAA2", Period: "202406", OrgUnit: "ouAAAAAAAA1", Value: "2"},
	{DataElement: "deAAAAAAAA1", Period: "202406", OrgUnit: "ouAAAAAAAA2", Value: "3"},
}

// FuzzClientAnswers gives every call of the client the same arbitrary
// answer: no call may panic, every call must end, and a push never reports
// negative counts.
func FuzzClientAnswers(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		code := uint16(200)
		switch base := filepath.Base(name); {
		case strings.Contains(base, "409"):
			code = 409
		case strings.Contains(base, "401"):
			code = 401
		case strings.Contains(base, "404"):
			code = 404
		case strings.Contains(base, "500"):
			code = 500
		}
		f.Add(b, code)
		f.Add(b[:len(b)/2], code) // truncated
	}
	for _, s := range []string{``, `null`, `[]`, `{}`, `"x"`, `<!DOCTYPE html><html><body>Login</body></html>`,
		`{"response":{"importCount":{"imported":-5,"updated":1e308}}}`, `{"importCount":{"imported":"7"}}`,
		`{"status":"OK","response":{"responseType":"ImportSummary","conflicts":[null,1,{"object":{}}]}}`,
		`{"dataSets":[{"id":"dsAAAAAAAA1","periodType":7,"dataSetElements":[null,{"dataElement":null}],"organisationUnits":"x"}]}`,
		`{"version":2}`, `{"version":"2.999.999"}`} {
		f.Add([]byte(s), uint16(200))
	}
	f.Fuzz(func(t *testing.T, body []byte, status uint16) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		c := answersClient(t, code, body)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var (
			res  ImportResult
			err  error
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			_, _ = c.SystemInfo(ctx)
			_, _ = c.Metadata(ctx, "dsAAAAAAAA1")
			_, _ = c.OrgUnits(ctx, []string{"ouAAAAAAAA1", "ouAAAAAAAA2"})
			_, _ = c.DataElements(ctx, []string{"deAAAAAAAA1"})
			res, err = c.PushDataValues(ctx, answersValues, PushOptions{DataSet: "dsAAAAAAAA1"})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the calls ignore their context: still running 10s on status %d and body %q", code, body)
		}
		if ctx.Err() != nil {
			t.Fatalf("a call did not end within 3s on status %d and body %q", code, body)
		}
		if err == nil && (res.Imported < 0 || res.Updated < 0 || res.Ignored < 0 || res.Deleted < 0) {
			t.Errorf("PushDataValues counted %+v for %d values sent", res, len(answersValues))
		}
		if err != nil && strings.Contains(err.Error(), answersToken) {
			t.Errorf("error holds the token: %v", err)
		}
	})
}
