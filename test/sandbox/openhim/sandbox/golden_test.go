package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var (
	goldenID   = regexp.MustCompile(`\b[0-9a-f]{24}\b`)
	goldenAddr = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	goldenPort = regexp.MustCompile(`"port": "\d{5}"`) // ephemeral test ports
	goldenDate = regexp.MustCompile(`"date": "[^"]*"`)
)

// normalise replaces ids, ports and Date headers by stable placeholders.
func normalise(b []byte) []byte {
	ids := map[string]string{}
	b = goldenID.ReplaceAllFunc(b, func(id []byte) []byte {
		if _, ok := ids[string(id)]; !ok {
			ids[string(id)] = fmt.Sprintf("<id-%d>", len(ids)+1)
		}
		return []byte(ids[string(id)])
	})
	b = goldenAddr.ReplaceAll(b, []byte("127.0.0.1:<port>"))
	b = goldenPort.ReplaceAll(b, []byte(`"port": "<port>"`))
	return goldenDate.ReplaceAll(b, []byte(`"date": "<date>"`))
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(normalise(got), '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stored transaction differs from %s (go test -update to accept):\n%s", path, got)
	}
}

// exportEnvelope is what the mediator answers for an export.
const exportEnvelope = `{
  "x-mediator-urn": "urn:mediator:cht-dhis2",
  "status": "Completed with error(s)",
  "response": {
    "status": 200,
    "headers": {"Content-Type": "application/json"},
    "body": "{\"dataSet\":\"QX4ZTUbOt3a\",\"period\":\"202401\",\"dataValues\":{\"built\":3,\"valid\":2,\"rejected\":1}}",
    "timestamp": "2025-01-10T09:15:04.000Z"
  },
  "orchestrations": [
    {"name": "CHT target docs", "group": "cht",
     "request": {"host": "cht", "port": "5984", "path": "/medic/_all_docs", "querystring": "include_docs=true&limit=1000",
                 "method": "GET", "headers": {"Accept": "application/json"}, "body": "", "timestamp": "2025-01-10T09:15:01.000Z"},
     "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": "{\"rows\":[]}", "timestamp": "2025-01-10T09:15:02.000Z"}},
    {"name": "DHIS2 dataValueSets", "group": "dhis2",
     "request": {"host": "dhis2", "port": "8080", "path": "/api/dataValueSets", "querystring": "importStrategy=CREATE_AND_UPDATE",
                 "method": "POST", "headers": {"Content-Type": "application/json"}, "body": "{\"dataValues\":[]}", "timestamp": "2025-01-10T09:15:03.000Z"},
     "response": {"status": 409, "headers": {"Content-Type": "application/json"}, "body": "{\"status\":\"WARNING\"}", "timestamp": "2025-01-10T09:15:03.500Z"}}
  ],
  "properties": {"dataSet": "QX4ZTUbOt3a", "period": "202401", "rejected": "1"}
}`

func TestGolden_storedTransactions(t *testing.T) {
	t.Run("export", func(t *testing.T) {
		e := newEnv(t)
		u := newUpstream(t, envelope(exportEnvelope))
		host, port := u.hostPort()
		if err := e.s.AddClient(ClientWithPassword("cht-scheduler", "Scheduler", "pw", "dhis2-export")); err != nil {
			t.Fatal(err)
		}
		if err := e.s.AddChannel(Channel{Name: "CHT to DHIS2 export", URLPattern: "^/export$", Methods: []string{"POST"},
			Allow: []string{"dhis2-export"}, Routes: []Route{{Name: "cht-dhis2-mediator", Host: host, Port: port, Primary: true,
				Username: "openhim", Password: "route-secret"}}}); err != nil {
			t.Fatal(err)
		}
		r := call(t, "POST", e.router.URL+"/export?dataSet=QX4ZTUbOt3a&period=202401", "", "Authorization", basic("cht-scheduler", "pw"),
			"User-Agent", "scheduler/1.0", "Accept-Encoding", "identity")
		if r.status != 200 {
			t.Fatalf("client got %d %q", r.status, r.body)
		}
		checkGolden(t, "export", e.onlyTx())
	})
	t.Run("mediator-down", func(t *testing.T) {
		e := newEnv(t)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		port, _ := strconv.Atoi(p)
		if err := e.s.AddChannel(Channel{Name: "CHT to DHIS2 pull", URLPattern: "^/dataValueSets$", Methods: []string{"GET"},
			AuthType: "public", Routes: []Route{{Name: "cht-dhis2-mediator", Host: "127.0.0.1", Port: port, Primary: true}}}); err != nil {
			t.Fatal(err)
		}
		r := call(t, "GET", e.router.URL+"/dataValueSets?period=202401", "", "User-Agent", "dhis2/2.40", "Accept-Encoding", "identity")
		if r.status != 500 {
			t.Fatalf("client got %d %q", r.status, r.body)
		}
		checkGolden(t, "mediator-down", e.onlyTx())
	})
}
