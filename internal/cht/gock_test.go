package cht

// Error paths against gock mocks. gock swaps transports globally, so these
// tests never call t.Parallel, always gock.Off, and check gock.IsDone.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/h2non/gock"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

const gockURL = "http://cht.test"

// newGockClient returns a client whose injected http.Client is intercepted
// by gock.
func newGockClient(t *testing.T, adjust func(cfg *config.CHT)) *Client {
	t.Helper()
	hc := &http.Client{}
	gock.InterceptClient(hc)
	t.Cleanup(func() {
		gock.RestoreClient(hc)
		gock.Off()
	})
	cfg := testConfig()
	cfg.URL = gockURL
	cfg.Username, cfg.Password = "reader", testPassword
	if adjust != nil {
		adjust(&cfg)
	}
	c, err := New(cfg, hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func assertGockDone(t *testing.T) {
	t.Helper()
	if !gock.IsDone() {
		t.Errorf("gock has pending mocks: %d", len(gock.Pending()))
	}
}

func noDocs(aggregate.TargetDoc) error { return nil }

func TestGock_unauthorized(t *testing.T) {
	c := newGockClient(t, nil)
	gock.New(gockURL).Get("/medic/_all_docs").
		MatchParam("startkey", `"target~2024-06~"`).
		Reply(401).
		SetHeader("WWW-Authenticate", `Basic realm="server"`).
		JSON(map[string]string{"error": "unauthorized", "reason": "Name or password is incorrect."})

	_, err := c.TargetDocs(context.Background(), "2024-06", noDocs)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("error = %v; want ErrUnauthorized", err)
	}
	want := "cht: fetch target docs 2024-06: status 401: unauthorized: Name or password is incorrect. (check cht.username and cht.password)"
	if err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != "unauthorized" || se.StatusCode != 401 {
		t.Errorf("StatusError = %+v", se)
	}
	assertNoSecret(t, err)
	assertGockDone(t)
}

func TestGock_forbiddenViewDoesNotFallBack(t *testing.T) {
	c := newGockClient(t, nil)
	gock.New(gockURL).Get("/medic/_design/medic-admin/_view/contacts_by_dhis_orgunit").
		Reply(403).JSON(map[string]string{"error": "forbidden", "reason": "You are not allowed to access this db."})

	err := c.Contacts(context.Background(), func(aggregate.Contact) error { return nil })
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("error = %v; want ErrUnauthorized", err)
	}
	want := "cht: fetch contacts: status 403: forbidden: You are not allowed to access this db. (the user may not read this database: use an online CHT user)"
	if err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	assertGockDone(t)
}

func TestGock_serverErrorJSON(t *testing.T) {
	c := newGockClient(t, nil)
	gock.New(gockURL).Get("/api/v1/settings").
		Reply(500).JSON(map[string]string{"error": "internal_server_error", "reason": "No DB shards could be opened."})

	_, err := c.Settings(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 500 {
		t.Fatalf("error = %v; want a 500 StatusError", err)
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnreachable) {
		t.Errorf("a 500 matches a sentinel: %v", err)
	}
	want := "cht: fetch settings: status 500: internal_server_error: No DB shards could be opened."
	if err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	assertGockDone(t) // no fallback to the settings doc on a 500
}

func TestGock_nonJSON(t *testing.T) {
	t.Run("error status with an html body", func(t *testing.T) {
		c := newGockClient(t, nil)
		html := "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" +
			strings.Repeat("<!-- padding -->\r\n", 100)
		gock.New(gockURL).Get("/medic/_all_docs").Reply(502).Type("text/html").BodyString(html)

		_, err := c.TargetDocs(context.Background(), "2024-06", noDocs)
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 502 {
			t.Fatalf("error = %v; want a 502 StatusError", err)
		}
		if !strings.HasPrefix(se.Body, "<html> <head><title>502 Bad Gateway</title></head>") || len(se.Body) > maxErrorBody+len("…") {
			t.Errorf("Body = %q (%d bytes)", se.Body, len(se.Body))
		}
		assertGockDone(t)
	})
	t.Run("2xx with an html body", func(t *testing.T) {
		c := newGockClient(t, nil)
		gock.New(gockURL).Get("/medic/_all_docs").Reply(200).Type("text/html").BodyString("<!DOCTYPE html><html><body>Login</body></html>")

		_, err := c.TargetDocs(context.Background(), "2024-06", noDocs)
		want := "cht: fetch target docs 2024-06: decode rows: invalid character '<' looking for beginning of value"
		if err == nil || err.Error() != want {
			t.Fatalf("error = %v; want %q", err, want)
		}
		assertGockDone(t)
	})
}

func TestGock_truncatedPage(t *testing.T) {
	c := newGockClient(t, func(cfg *config.CHT) { cfg.PageSize = 10 })
	body := `{"total_rows":40,"offset":12,"rows":[
{"id":"target~2024-06~a~u","key":"target~2024-06~a~u","value":{"rev":"1-a"},"doc":{"_id":"target~2024-06~a~u","owner":"a","targets":[]}},
{"id":"target~2024-06~b~u","key":"target~2024-06~b~u","value":{"rev":"1-b"},"doc":{"_id":"target~2024-06~b~u","owner":"b","targets":[]}},
{"id":"target~2024-06~c~u","key":"target~2024-06~c~u","value":{"rev":"1-c"},"doc":{"_id":"target~2024-06~c~u","owner":"c","tar`
	gock.New(gockURL).Get("/medic/_all_docs").Reply(200).Type("application/json").BodyString(body)

	var got []string
	n, err := c.TargetDocs(context.Background(), "2024-06", func(d aggregate.TargetDoc) error {
		got = append(got, d.Owner)
		return nil
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error = %v; want io.ErrUnexpectedEOF", err)
	}
	if want := "cht: fetch target docs 2024-06: decode rows: unexpected EOF"; err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	if n != 2 || strings.Join(got, ",") != "a,b" {
		t.Errorf("before the cut: n = %d, owners %q; want 2, a,b", n, got)
	}
	assertGockDone(t)
}

func TestGock_connectionRefused(t *testing.T) {
	c := newGockClient(t, nil)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	gock.New(gockURL).Get("/api/v1/settings").ReplyError(refused)

	_, err := c.Settings(context.Background())
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error = %v; want ErrUnreachable wrapping ECONNREFUSED", err)
	}
	want := "cht: fetch settings: http://cht.test/api/v1/settings: unreachable: dial tcp: connect: connection refused"
	if err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Op != "fetch settings" || ue.URL != "http://cht.test/api/v1/settings" {
		t.Errorf("UnreachableError = %+v", ue)
	}
	assertGockDone(t)
}

// A server that never answers: the per-call timeout ends the call, and the
// error says so. (An httptest server, not gock, whose Delay ignores the
// request's context.)
func TestClient_slowAnswer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	cfg := testConfig()
	cfg.URL = srv.URL
	cfg.Timeout = 50 * time.Millisecond
	c, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Owners(context.Background(), []string{"p1"})
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v; want ErrUnreachable wrapping DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "unreachable: no answer within 50ms") {
		t.Errorf("error = %q", err)
	}
}

// cancellingReader serves head, then cancels and serves tail.
type cancellingReader struct {
	head, tail string
	cancel     context.CancelFunc
	step       int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	r.step++
	switch r.step {
	case 1:
		return copy(p, r.head), nil
	case 2:
		r.cancel()
		return copy(p, r.tail), nil
	}
	return 0, io.EOF
}

func TestGock_cancelMidStream(t *testing.T) {
	c := newGockClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	head := `{"total_rows":3,"offset":0,"rows":[{"id":"target~2024-06~a~u","doc":{"owner":"a","targets":[]}},`
	tail := `{"id":"target~2024-06~b~u","doc":{"owner":"b","targets":[]}}]}`
	gock.New(gockURL).Get("/medic/_all_docs").Reply(200).
		Map(func(res *http.Response) *http.Response {
			res.Body = io.NopCloser(&cancellingReader{head: head, tail: tail, cancel: cancel})
			res.ContentLength = -1
			return res
		})

	var got []string
	_, err := c.TargetDocs(ctx, "2024-06", func(d aggregate.TargetDoc) error {
		got = append(got, d.Owner)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v; want context.Canceled", err)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Errorf("the caller's cancellation is reported as unreachable: %v", err)
	}
	if strings.Join(got, ",") != "a" {
		t.Errorf("docs handed over = %q; want only a", got)
	}
	assertGockDone(t)
}

func TestGock_ownersBatchFails(t *testing.T) {
	c := newGockClient(t, func(cfg *config.CHT) { cfg.BatchSize = 2; cfg.Concurrency = 1 })
	gock.New(gockURL).Post("/medic/_all_docs").MatchParam("include_docs", "true").
		BodyString(`{"keys":["a","b"]}`).
		Reply(200).JSON(map[string]any{"total_rows": 9, "rows": []any{
		map[string]any{"id": "a", "key": "a", "value": map[string]any{"rev": "1-a"}, "doc": map[string]any{"_id": "a"}},
		map[string]any{"key": "b", "error": "not_found"},
	}})
	gock.New(gockURL).Post("/medic/_all_docs").BodyString(`{"keys":["c","d"]}`).
		Reply(500).JSON(map[string]string{"error": "unknown_error", "reason": "function_clause"})

	got, err := c.Owners(context.Background(), []string{"a", "b", "c", "d"})
	if got != nil {
		t.Errorf("owners = %+v; want none on error", got)
	}
	if want := "cht: fetch owners: status 500: unknown_error: function_clause"; err == nil || err.Error() != want {
		t.Fatalf("error = %v; want %q", err, want)
	}
	assertGockDone(t)
}

func TestGock_rateLimited(t *testing.T) {
	c := newGockClient(t, nil)
	gock.New(gockURL).Get("/medic/messages-en").Reply(429).BodyString("Too Many Requests")

	_, err := c.Translations(context.Background(), "en")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 429 || se.Body != "Too Many Requests" {
		t.Fatalf("error = %v; want a 429 StatusError", err)
	}
	assertGockDone(t)
}
