package cht

// Robustness of the client against answers CHT (or whatever answers at
// cht.url) should never give: truncated, not JSON, shaped wrongly, endless
// or huge. None may panic, hang or be read whole into memory.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

// answerTransport answers every request with the same status and body.
type answerTransport struct {
	status int
	body   []byte
	calls  atomic.Int64
}

func (a *answerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	a.calls.Add(1)
	return &http.Response{
		StatusCode:    a.status,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)),
		Request:       req,
	}, nil
}

// answersClient is a client whose every request gets status and body, with
// pages and batches small enough that paging is exercised.
func answersClient(t testing.TB, tr http.RoundTripper) *Client {
	t.Helper()
	cfg := config.Default().CHT
	cfg.URL = "http://cht.test"
	cfg.Username, cfg.Password = "reader", "answers-Test-Pw-1"
	cfg.PageSize, cfg.BatchSize, cfg.Concurrency = 2, 2, 2
	cfg.Timeout = 5 * time.Second
	c, err := New(cfg, &http.Client{Transport: tr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// callAll makes every call of the client, ignoring results and errors.
func callAll(ctx context.Context, c *Client) {
	_, _ = c.Settings(ctx)
	_, _ = c.TargetDocs(ctx, "2024-06", func(aggregate.TargetDoc) error { return nil })
	_ = c.Contacts(ctx, func(aggregate.Contact) error { return nil })
	_, _ = c.Owners(ctx, []string{"a", "b", "c", "d", "e"})
	_, _ = c.Translations(ctx, "en")
}

// FuzzClientAnswers gives every call of the client the same arbitrary
// answer: no call may panic, and every call must end (paging that makes no
// progress is an error, not a loop).
func FuzzClientAnswers(f *testing.F) {
	for _, name := range []string{"app_settings.json", "target_docs.json", "contacts.json", "messages-en.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(200))
		f.Add(b[:len(b)/2], uint16(200)) // truncated
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"x"`, `<html><body>Bad Gateway</body></html>`,
		`{"rows":[`, `{"rows":{}}`, `{"rows":null}`, `{"rows":[1,"x",null,[]]}`,
		`{"total_rows":2,"offset":0,"rows":[{"id":"a","key":"a","value":{"rev":"1"},"doc":{"_id":"a"}},{"id":"b","key":"b"}]}`,
		// A full page (page size 2, limit 3) answered to every request.
		`{"total_rows":3,"offset":0,"rows":[{"id":"a","key":"a","value":{"rev":"1"},"doc":{"_id":"a"}},{"id":"b","key":"b"},{"id":"c","key":"c"}]}`,
		`{"total_rows":3,"rows":[{"id":"a","key":["x",1],"doc":{}},{"id":"a","key":["x",1],"doc":{}},{"id":"a","key":["x",1],"doc":{}}]}`,
		`{"rows":[{"key":"a","error":"not_found"},{"id":"b","doc":null,"value":{"deleted":true}}]}`,
		`{"settings":{"dhis_data_sets":[{"id":"ds"}],"tasks":{"targets":{"items":[{"id":"t","dhis":{"dataElement":"d"}}]}}}}`,
		`{"error":"unauthorized","reason":"You are not a server admin."}`,
	} {
		f.Add([]byte(s), uint16(200))
	}
	f.Add([]byte(`{"error":"not_found","reason":"missing"}`), uint16(404))
	f.Add([]byte(`{"error":"internal"}`), uint16(500))
	f.Fuzz(func(t *testing.T, body []byte, status uint16) {
		code := int(status)
		if code < 100 || code > 599 {
			code = 200
		}
		c := answersClient(t, &answerTransport{status: code, body: body})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			callAll(ctx, c)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the calls ignore their context: still running 10s on status %d and body %q", code, body)
		}
		if ctx.Err() != nil {
			t.Fatalf("a call did not end within 3s on status %d and body %q", code, body)
		}
	})
}

// A server that answers every page with the same full page (it ignores
// startkey: a caching proxy that drops the query string, a broken
// rewrite) must not make the client page forever: paging that makes no
// progress is an error. FuzzClientAnswers found this loop; rows.go now
// guards against it.
func TestClient_repeatedPageEnds(t *testing.T) {
	page := []byte(`{"total_rows":3,"offset":0,"rows":[{"id":"a","key":"a","value":{"rev":"1"},"doc":{"_id":"a"}},{"id":"b","key":"b"},{"id":"c","key":"c"}]}`)
	calls := map[string]func(context.Context, *Client) error{
		"TargetDocs": func(ctx context.Context, c *Client) error {
			_, err := c.TargetDocs(ctx, "2024-06", func(aggregate.TargetDoc) error { return nil })
			return err
		},
		"Contacts": func(ctx context.Context, c *Client) error {
			return c.Contacts(ctx, func(aggregate.Contact) error { return nil })
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			tr := &answerTransport{status: 200, body: page}
			c := answersClient(t, tr)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err := call(ctx, c)
			if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "no progress") {
				t.Errorf("%s = %v after %d requests; want an error saying paging made no progress", name, err, tr.calls.Load())
			}
		})
	}
}

// Wrongly shaped answers are errors that say what was wrong, not panics
// and not empty successes.
func TestClient_wronglyShapedAnswers(t *testing.T) {
	tests := []struct {
		name string
		body string
		call func(context.Context, *Client) error
	}{
		{"settings is an array", `[1,2]`, func(ctx context.Context, c *Client) error { _, err := c.Settings(ctx); return err }},
		{"settings is not JSON", `<html>Bad Gateway</html>`, func(ctx context.Context, c *Client) error { _, err := c.Settings(ctx); return err }},
		{"settings truncated", `{"settings":{"dhis_data_sets":[{"id":"ds"`, func(ctx context.Context, c *Client) error { _, err := c.Settings(ctx); return err }},
		{"target docs rows is an object", `{"rows":{"id":"a"}}`, func(ctx context.Context, c *Client) error {
			_, err := c.TargetDocs(ctx, "2024-06", func(aggregate.TargetDoc) error { return nil })
			return err
		}},
		{"target docs truncated", `{"total_rows":9,"rows":[{"id":"target~2024-06~u~o","doc":{"owner":"o","targ`, func(ctx context.Context, c *Client) error {
			_, err := c.TargetDocs(ctx, "2024-06", func(aggregate.TargetDoc) error { return nil })
			return err
		}},
		{"contacts not JSON", `Service Unavailable`, func(ctx context.Context, c *Client) error {
			return c.Contacts(ctx, func(aggregate.Contact) error { return nil })
		}},
		{"owners is a string", `"nope"`, func(ctx context.Context, c *Client) error { _, err := c.Owners(ctx, []string{"a"}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := answersClient(t, &answerTransport{status: 200, body: []byte(tt.body)})
			err := tt.call(context.Background(), c)
			if err == nil {
				t.Fatalf("no error for %q", tt.body)
			}
			if !strings.HasPrefix(err.Error(), "cht: ") {
				t.Errorf("error %q; want it to start with cht: ", err)
			}
			if strings.Contains(err.Error(), "answers-Test-Pw-1") {
				t.Errorf("error %q holds the password", err)
			}
		})
	}
}

// endlessReader yields a JSON prefix, then filler forever, counting bytes.
type endlessReader struct {
	prefix []byte
	fill   byte
	read   atomic.Int64
}

func (r *endlessReader) Read(p []byte) (int, error) {
	n := 0
	if off := r.read.Load(); off < int64(len(r.prefix)) {
		n = copy(p, r.prefix[off:])
	}
	for i := n; i < len(p); i++ {
		p[i] = r.fill
	}
	r.read.Add(int64(len(p)))
	return len(p), nil
}

// A settings answer larger than maxSettingsSize is refused with an error
// that says so, after reading at most the limit: never read whole.
func TestClient_hugeSettingsRefused(t *testing.T) {
	body := &endlessReader{prefix: []byte(`{"settings":{"x":"`), fill: 'a'}
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// 4 × the limit, streamed: nothing this size is ever held.
		n, _ := io.Copy(w, io.LimitReader(body, 4*maxSettingsSize))
		sent.Add(n)
	}))
	t.Cleanup(srv.Close)
	cfg := config.Default().CHT
	cfg.URL = srv.URL
	cfg.Timeout = 30 * time.Second
	c, err := New(cfg, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Settings(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cht: fetch settings") || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Settings() = %v; want a clear error: the answer is larger than the limit", err)
	}
	srv.Close() // waits for the handler: sent is final
	// The client stops at the limit, plus what sat in socket buffers: on
	// loopback Linux autotunes the receive buffer up to tcp_rmem's maximum
	// (32 MiB here) and the send buffer up to tcp_wmem's (4 MiB). Reading
	// the answer whole would produce 4 × the limit.
	if got := body.read.Load(); got > maxSettingsSize+drainLimit+(48<<20) {
		t.Errorf("the server produced %d bytes; want the client to stop reading after about %d", got, maxSettingsSize)
	}
}

// An answer that never ends (a page streaming filler forever) ends with
// the call's timeout; the client does not hang.
func TestClient_endlessAnswerEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, &endlessReader{prefix: []byte(`{"total_rows":1,"rows":[{"id":"target~2024-06~u~o","doc":{"owner":"o","pad":"`), fill: ' '})
	}))
	t.Cleanup(srv.Close)
	cfg := config.Default().CHT
	cfg.URL = srv.URL
	cfg.Timeout = 300 * time.Millisecond
	c, err := New(cfg, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.TargetDocs(context.Background(), "2024-06", func(aggregate.TargetDoc) error { return nil })
	if err == nil {
		t.Fatal("TargetDocs() read an endless answer without error")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "within") && !strings.Contains(err.Error(), "larger than") {
		t.Errorf("TargetDocs() = %v; want the timeout or a size limit", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("TargetDocs() took %v; want it to end at the timeout (300ms)", d)
	}
}
