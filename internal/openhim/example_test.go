package openhim_test

import (
	"context"
	"fmt"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// How the app wires registration, heartbeats and console config: the
// configuration loaded at start-up is the base every console delivery is
// applied to.
func ExampleAgent() {
	base := config.Default() // in the app: config.LoadFile(…)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	reg, err := openhim.LoadRegistrationFile("../../mediator-config/mediator.json", "1.2.0")
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := openhim.New(base.OpenHIM, nil, log)
	if err != nil {
		fmt.Println(err) // openhim.password is not set in the defaults
		return
	}
	var current atomic.Pointer[config.Config] // what the handlers read
	current.Store(&base)
	agent := openhim.NewAgent(client, reg, openhim.AgentOptions{
		Interval: base.OpenHIM.HeartbeatInterval,
		Start:    time.Now(),
		Logger:   log,
		OnConfig: func(m map[string]any) error {
			c, err := base.ApplyConsole(m)
			if err != nil {
				return err // logged; the current config stays
			}
			current.Store(&c) // and rebuild the CHT and DHIS2 clients from it
			return nil
		},
	})
	agent.Start(context.Background())
	defer agent.Stop(context.Background())
	// Output: openhim: password: required (set openhim.password or MEDIATOR_OPENHIM_PASSWORD)
}

// Each upstream's http.Client records through NewTransport; a handler puts
// a Recorder in the request's context and returns its orchestrations.
func ExampleNewTransport() {
	cht := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"rows":[]}`)
	}))
	defer cht.Close()
	hc := &http.Client{Transport: openhim.NewTransport(http.DefaultTransport, "CHT", 16384, redact.Credential{Username: "medic", Secret: "cht-password"})}

	rec := openhim.NewRecorder()
	ctx := openhim.WithRecorder(context.Background(), rec)
	req, _ := http.NewRequestWithContext(ctx, "GET", cht.URL+"/medic/_all_docs?limit=2&password=x", nil)
	req.SetBasicAuth("reader", "cht-password")
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()

	o := rec.Orchestrations()[0]
	fmt.Println(o.Name)
	fmt.Println(o.Request.QueryString, o.Request.Headers["Authorization"])
	fmt.Println(o.Response.Status, o.Response.Body)
	// Output:
	// CHT: GET /medic/_all_docs
	// limit=2&password=<redacted> <redacted>
	// 200 {"rows":[]}
}
