package openhim

// Error paths with gock. gock swaps transports globally: these tests never
// run in parallel, always turn gock off, and check that every mock was used.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/h2non/gock"
)

const gockCore = "https://core.test:8080"

func gockClient(t *testing.T) *Client {
	t.Helper()
	t.Cleanup(gock.Off)
	gock.DisableNetworking()
	hc := &http.Client{}
	gock.InterceptClient(hc)
	t.Cleanup(func() { gock.RestoreClient(hc) })
	c, err := New(testCfg(gockCore), hc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gockDone(t *testing.T) {
	t.Helper()
	if !gock.IsDone() {
		t.Errorf("gock: %d mocks were not used", len(gock.Pending()))
	}
}

// Core answers 502, 503 and 500 before it accepts the registration; then a
// heartbeat answers malformed JSON, which is logged, and the next one works.
func TestGock_agentThroughCoreErrors(t *testing.T) {
	c := gockClient(t)
	for _, status := range []int{502, 503, 500} {
		gock.New(gockCore).Post("/mediators").Reply(status).BodyString("<html>Bad Gateway</html>")
	}
	gock.New(gockCore).Post("/mediators").MatchHeader("Content-Type", "^application/json$").Reply(201)
	gock.New(gockCore).Post("/mediators/urn:mediator:test/heartbeat").
		Reply(200).SetHeader("Content-Type", "application/json").BodyString(`{"cht":`)
	gock.New(gockCore).Post("/mediators/urn:mediator:test/heartbeat").
		Reply(200).SetHeader("Content-Type", "application/json").BodyString(`{"cht":{"url":"https://cht.console"}}`)
	gock.New(gockCore).Post("/mediators/urn:mediator:test/heartbeat").Persist().Reply(200).BodyString("")

	logs := &logRecorder{}
	configs := make(chan map[string]any, 1)
	a := NewAgent(c, Registration{URN: "urn:mediator:test", Version: "1.0.0"}, AgentOptions{
		Interval: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		Logger:   slog.New(logs),
		OnConfig: func(m map[string]any) error { configs <- m; return nil },
	})
	a.Start(context.Background())
	defer func() { _ = a.Stop(context.Background()) }()
	select {
	case m := <-configs:
		if m["cht"].(map[string]any)["url"] != "https://cht.console" {
			t.Errorf("config = %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no config delivered")
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := logs.count(slog.LevelWarn, "cannot register with OpenHIM core; retrying"); n != 3 {
		t.Errorf("%d Warn records for 502, 503, 500; want 3 (one per kind)", n)
	}
	if n := logs.count(slog.LevelWarn, "heartbeat to OpenHIM core failed"); n != 1 {
		t.Errorf("%d Warn records for the malformed heartbeat; want 1", n)
	}
	for _, m := range gock.Pending() {
		if !m.Request().Persisted {
			t.Errorf("gock: mock %s %s was not used", m.Request().Method, m.Request().URLStruct)
		}
	}
}

func TestGock_heartbeatErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply func(r *gock.Request)
		want  string
		is    error
	}{
		{name: "malformed JSON", reply: func(r *gock.Request) {
			r.Reply(200).SetHeader("Content-Type", "application/json").BodyString(`{"cht": {"url": `)
		}, want: `openhim: heartbeat: the answer is neither empty, OK nor a JSON object: {"cht": {"url":`},
		{name: "null", reply: func(r *gock.Request) { r.Reply(200).BodyString("null") },
			want: "openhim: heartbeat: the answer is neither empty, OK nor a JSON object: null"},
		{name: "400 no uptime", reply: func(r *gock.Request) { r.Reply(400).BodyString("Bad Request") },
			want: "openhim: heartbeat: status 400: Bad Request"},
		{name: "403", reply: func(r *gock.Request) {
			r.Reply(403).BodyString("User root@openhim.org is not an admin, API access to heartbeat denied.")
		}, want: "openhim: heartbeat: status 403: User root@openhim.org is not an admin", is: ErrForbidden},
		{name: "404", reply: func(r *gock.Request) { r.Reply(404) }, want: "openhim: heartbeat: status 404", is: ErrNotRegistered},
		{name: "long 500 with the password echoed", reply: func(r *gock.Request) {
			r.Reply(500).BodyString("Could not process mediator heartbeat: " + testPassword + " " + strings.Repeat("x", 3000))
		}, want: "openhim: heartbeat: status 500: Could not process mediator heartbeat: <redacted> xxx"},
		{name: "network", reply: func(r *gock.Request) { r.ReplyError(errors.New("connection reset by peer")) },
			want: "openhim: heartbeat: Post \"https://core.test:8080/mediators/urn:x/heartbeat\": connection reset by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gockClient(t)
			tt.reply(gock.New(gockCore).Post("/mediators/urn:x/heartbeat"))
			_, err := c.Heartbeat(context.Background(), "urn:x", time.Second, true)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Heartbeat() error = %v; want %q", err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), testPassword) || len(err.Error()) > 1200) {
				t.Errorf("Heartbeat() error shows the password or is not cut: %d bytes", len(err.Error()))
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			gockDone(t)
		})
	}
}
