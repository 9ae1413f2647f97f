package dhis2

// Error paths with gock. gock swaps transports globally: these tests never
// run in parallel, always turn gock off, and check that every mock was used.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/h2non/gock"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

const gockBase = "http://dhis2.test"

// gockClient returns a client whose http.Client is intercepted by gock.
func gockClient(t *testing.T, mod func(cfg *config.DHIS2)) *Client {
	t.Helper()
	t.Cleanup(gock.Off)
	gock.DisableNetworking()
	hc := &http.Client{}
	gock.InterceptClient(hc)
	t.Cleanup(func() { gock.RestoreClient(hc) })
	cfg := testConfig(gockBase + "/dhis")
	if mod != nil {
		mod(&cfg)
	}
	c, _ := newTestClient(t, cfg, hc)
	return c
}

func gockDone(t *testing.T) {
	t.Helper()
	if !gock.IsDone() {
		t.Errorf("gock: %d mocks were not used", len(gock.Pending()))
	}
}

func gockSystemInfo(t *testing.T) {
	gock.New(gockBase).Get("/dhis/api/system/info").Reply(200).JSON(readTestdata(t, "systeminfo-2.40.json"))
}

func TestGock_pushErrors(t *testing.T) {
	tests := []struct {
		name    string
		reply   func(r *gock.Request)
		wantErr string
		status  int // >0: wraps a *StatusError with this status
		is      error
	}{
		{name: "401", reply: func(r *gock.Request) { r.Reply(401).JSON(readTestdata(t, "webmessage-401.json")) },
			wantErr: "dhis2: post data values: status 401: DHIS2 refused the username and password", status: 401, is: ErrUnauthorized},
		{name: "500", reply: func(r *gock.Request) { r.Reply(500).JSON(readTestdata(t, "webmessage-500.json")) },
			wantErr: "dhis2: post data values: status 500: Could not open JPA EntityManager for transaction", status: 500},
		{name: "502 html from a proxy", reply: func(r *gock.Request) {
			r.Reply(502).SetHeader("Content-Type", "text/html").BodyString("<html><h1>502 Bad Gateway</h1></html>")
		}, wantErr: "status 502: an HTML page, not a DHIS2 API answer", status: 502},
		{name: "413 from a proxy", reply: func(r *gock.Request) {
			r.Reply(413).SetHeader("Content-Type", "text/html").BodyString("<html>413 Request Entity Too Large</html>")
		}, wantErr: "lower dhis2.chunk_size", status: 413},
		{name: "200 not json", reply: func(r *gock.Request) { r.Reply(200).BodyString("Import done") },
			wantErr: `dhis2: post data values: status 200: not a JSON object: invalid character 'I' looking for beginning of value; body starts "Import done"`},
		{name: "200 html login page", reply: func(r *gock.Request) {
			r.Reply(200).SetHeader("Content-Type", "text/html;charset=UTF-8").BodyString("<!DOCTYPE html><html>DHIS 2 login</html>")
		}, wantErr: "dhis2: post data values: status 200: an HTML page instead of a DHIS2 API answer"},
		{name: "200 truncated", reply: func(r *gock.Request) {
			r.Reply(200).BodyString(`{"httpStatus":"OK","httpStatusCode":200,"status":"OK","response":{"responseType":"ImportSummary","status":"SUCC`)
		}, wantErr: `not a JSON object: unexpected end of JSON input; body starts "{\"httpStatus\":\"OK\"`},
		{name: "409 not a summary", reply: func(r *gock.Request) {
			r.Reply(409).JSON(`{"httpStatus":"Conflict","httpStatusCode":409,"status":"ERROR","message":"Invalid content type"}`)
		}, wantErr: "status 409: Invalid content type", status: 409},
		{name: "connection refused", reply: func(r *gock.Request) {
			r.ReplyError(errors.New("dial tcp 127.0.0.1:80: connect: connection refused"))
		}, wantErr: "dhis2: post data values: " + gockBase + "/dhis/api/dataValueSets: unreachable: dial tcp 127.0.0.1:80: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gockClient(t, nil)
			gockSystemInfo(t)
			tt.reply(gock.New(gockBase).Post("/dhis/api/dataValueSets").MatchParam("importStrategy", "CREATE_AND_UPDATE").
				MatchHeader("Content-Type", "application/json"))
			got, err := c.PushDataValues(context.Background(), values(3), PushOptions{})
			var pe *PushError
			if !errors.As(err, &pe) {
				t.Fatalf("PushDataValues() = %v (%T); want a *PushError", err, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q;\nwant it to contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "push stopped at chunk 1 of 1 (values 0-2): 0 of 3 values in 0 chunks were sent") {
				t.Errorf("error %q does not say what was sent", err)
			}
			var se *StatusError
			if tt.status > 0 && (!errors.As(err, &se) || se.StatusCode != tt.status) {
				t.Errorf("error %v; want a *StatusError with status %d", err, tt.status)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if got.Chunks != 0 || got.Written() != 0 {
				t.Errorf("result %+v; want nothing answered", got)
			}
			gockDone(t)
		})
	}
}

// TestGock_timeoutMidPush: chunks 1 and 2 are answered, chunk 3 times out.
// The result of the first two comes back with an error saying so.
func TestGock_timeoutMidPush(t *testing.T) {
	c := gockClient(t, func(cfg *config.DHIS2) {
		cfg.ChunkSize = 2
		cfg.Timeout = 50 * time.Millisecond
	})
	gockSystemInfo(t)
	gock.New(gockBase).Post("/dhis/api/dataValueSets").Times(2).Reply(200).JSON(readTestdata(t, "webmessage-200-success.json"))
	gock.New(gockBase).Post("/dhis/api/dataValueSets").Reply(200).Delay(5 * time.Second).JSON(readTestdata(t, "webmessage-200-success.json"))

	start := time.Now()
	got, err := c.PushDataValues(context.Background(), values(6), PushOptions{})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("push took %s; the 50ms timeout did not apply", d)
	}
	var pe *PushError
	if !errors.As(err, &pe) {
		t.Fatalf("PushDataValues() = %v; want a *PushError", err)
	}
	if pe.Chunk != 3 || pe.Chunks != 3 || pe.Sent != 4 || pe.Total != 6 || pe.First != 4 || pe.Last != 5 {
		t.Errorf("PushError %+v; want chunk 3 of 3, 4 of 6 sent, values 4-5", pe)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	want := "dhis2: post data values: " + gockBase + "/dhis/api/dataValueSets: timed out after 50ms: context deadline exceeded; " +
		"push stopped at chunk 3 of 3 (values 4-5): 4 of 6 values in 2 chunks were sent and answered before, the outcome of chunk 3 is unknown"
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if got.Chunks != 2 || got.Imported != 6 || got.Updated != 2 || got.Status != "SUCCESS" {
		t.Errorf("partial result %+v; want the two answered chunks summed (6 imported, 2 updated)", got)
	}
	gockDone(t)
}

func TestGock_metadataErrors(t *testing.T) {
	tests := []struct {
		name    string
		reply   func()
		wantErr string
		is      error
	}{
		{name: "401", reply: func() {
			gock.New(gockBase).Get("/dhis/api/dataSets/aB3dE5gH7jK").Reply(401).JSON(readTestdata(t, "webmessage-401.json"))
			gock.New(gockBase).Get("/dhis/api/categoryOptionCombos").Reply(401).JSON(readTestdata(t, "webmessage-401.json"))
		}, wantErr: "status 401: DHIS2 refused the API token", is: ErrUnauthorized},
		{name: "404", reply: func() {
			gock.New(gockBase).Get("/dhis/api/dataSets/aB3dE5gH7jK").Reply(404).JSON(readTestdata(t, "webmessage-404.json"))
			gock.New(gockBase).Get("/dhis/api/categoryOptionCombos").Reply(200).JSON(readTestdata(t, "default-coc.json"))
			gock.New(gockBase).Get("/dhis/api/system/info").Reply(200).JSON(readTestdata(t, "systeminfo-2.40.json"))
		}, wantErr: "dhis2: data set not found: aB3dE5gH7jK: dhis2: metadata aB3dE5gH7jK: status 404: DataSet with id aB3dE5gH7jK could not be found.", is: ErrDataSetNotFound},
		{name: "500 then nothing", reply: func() {
			gock.New(gockBase).Get("/dhis/api/dataSets/aB3dE5gH7jK").Reply(500).BodyString("oops")
			gock.New(gockBase).Get("/dhis/api/categoryOptionCombos").Reply(200).JSON(readTestdata(t, "default-coc.json"))
		}, wantErr: "dhis2: metadata aB3dE5gH7jK: status 500: oops"},
		{name: "truncated", reply: func() {
			gock.New(gockBase).Get("/dhis/api/dataSets/aB3dE5gH7jK").Reply(200).BodyString(`{"id":"aB3dE5gH7jK","dataSetElements":[`)
			gock.New(gockBase).Get("/dhis/api/categoryOptionCombos").Reply(200).JSON(readTestdata(t, "default-coc.json"))
		}, wantErr: "dhis2: metadata aB3dE5gH7jK: decode answer: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gockClient(t, func(cfg *config.DHIS2) {
				if tt.name == "401" {
					cfg.Token = config.Secret(testToken)
				}
			})
			tt.reply()
			_, err := c.Metadata(context.Background(), "aB3dE5gH7jK")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Metadata() = %v;\nwant an error containing %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			// Both requests run concurrently; one may be canceled by the
			// other's failure before gock sees it.
			gock.Off()
		})
	}
}

// Reads for the diff and completeness fail loudly, naming DHIS2's answer:
// an org unit outside the user's hierarchy (409 E2012), a user whose
// credentials DHIS2 refuses, a 500 on the registration.
func TestGock_dataManagementErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("read values: 409 E2012", func(t *testing.T) {
		c := gockClient(t, nil)
		gock.New(gockBase).Get("/dhis/api/dataValueSets").MatchParam("orgUnit", "ouA00000001").
			Reply(409).JSON(`{"httpStatus":"Conflict","httpStatusCode":409,"status":"ERROR","message":"User is not allowed to view org unit: ` + "`ouA00000001`" + `","errorCode":"E2012"}`)
		_, err := c.DataValues(ctx, "dsA00000001", "202610", DataScope{OrgUnits: []string{"ouA00000001"}})
		if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "not allowed to view org unit") {
			t.Errorf("err = %v; want the 409 and DHIS2's message", err)
		}
		gockDone(t)
	})
	t.Run("me: 401", func(t *testing.T) {
		c := gockClient(t, nil)
		gock.New(gockBase).Get("/dhis/api/me").Reply(401).JSON(`{"httpStatus":"Unauthorized","httpStatusCode":401,"status":"ERROR","message":"Unauthorized"}`)
		if _, err := c.Me(ctx); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("err = %v; want ErrUnauthorized", err)
		}
		gockDone(t)
	})
	t.Run("register: 500", func(t *testing.T) {
		c := gockClient(t, nil)
		gock.New(gockBase).Post("/dhis/api/completeDataSetRegistrations").Reply(500).JSON(`{"httpStatus":"Internal Server Error","httpStatusCode":500,"status":"ERROR","message":"boom"}`)
		_, err := c.RegisterComplete(ctx, []Registration{{DataSet: "dsA00000001", Period: "202610", OrgUnit: "ouA00000001"}}, false)
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Errorf("err = %v; want the 500", err)
		}
		gockDone(t)
	})
}
