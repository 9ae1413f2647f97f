// Package stack starts, on loopback, everything the mediator talks to: a
// CouchDB-compatible server (pouchdb-server, in memory, with a server admin
// so that credentials are required as on CHT's CouchDB) seeded with the demo
// district, the DHIS2 sandbox with the district's metadata, and the OpenHIM
// core sandbox (API and router) with the repository's channels, routed to a
// mediator at a given address, and the demo client imported. "make demo" and
// "make sandbox" use it, and so does the end-to-end test of "make sandbox".
package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// Credentials of the stack. They are for a throw-away local stack only.
const (
	CHTUser         = "medic"
	CHTPassword     = "demo-password-not-for-production"
	Database        = "medic"
	DHIS2Token      = "d2p_demoTokenNotForProductionUse0000000000000000000"
	DHIS2Version    = "2.40.3"
	DHIS2User       = "admin"
	DHIS2Password   = "district"
	OpenHIMRoot     = "root@openhim.org"
	OpenHIMPassword = "demo-openhim-password"
	Client          = "cht-dhis2-operator"  // channels/demo-client.json
	ClientPassword  = "cht-dhis2-demo-only" // channels/demo-client.json
	MediatorURN     = "urn:mediator:cht-dhis2"
)

// Options configure Start.
type Options struct {
	// Root is the repository root (for channels/ and the DHIS2 metadata).
	Root string
	// Today dates the data: target docs end the month before.
	Today time.Time
	// MediatorAddr is the host:port the channels route to.
	MediatorAddr string
	// Progress, when set, receives one line per step.
	Progress io.Writer
	// AllStates gives the demo district CHWs in every readiness state for
	// the last month (seed.DemoOptions.AllStates): its export is held back
	// until they sync (Sync).
	AllStates bool
	// CoreNow is OpenHIM core's clock; time.Now when nil.
	CoreNow func() time.Time
}

// Stack is the running servers.
type Stack struct {
	CouchDB   *couchdb.Server
	DHIS2     *sandbox.Server
	DHIS2URL  string
	Core      *himsandbox.Server
	APIURL    string // OpenHIM core API
	RouterURL string // OpenHIM core router (where clients call channels)
	Manifest  *seed.Manifest
	Docs      int        // CHT documents loaded
	Month     seed.Month // the last month with target docs
	Mediator  string     // the address the channels route to

	closers []func()
}

// Start starts the stack; Close stops it. On error, what was started is
// stopped.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	s := &Stack{Mediator: opts.MediatorAddr}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	say := func(format string, a ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", a...)
		}
	}
	say("Starting a CouchDB-compatible server (pouchdb-server, in memory) with a server admin")
	if s.CouchDB, err = couchdb.Start(ctx, couchdb.Options{AdminUser: CHTUser, AdminPassword: CHTPassword}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { _ = s.CouchDB.Stop() })
	if err = s.CouchDB.CreateDB(ctx, Database); err != nil {
		return nil, err
	}
	s.Month = seed.LastMonth(opts.Today)
	all, m, err := seed.DemoDocs(seed.DemoOptions{End: s.Month, AllStates: opts.AllStates})
	if err != nil {
		return nil, err
	}
	docs, logs := seed.SplitLogs(all)
	if err = s.CouchDB.BulkDocs(ctx, Database, docs); err != nil {
		return nil, err
	}
	// CHT API records each user's last sync in <database>-logs.
	if err = s.CouchDB.CreateDB(ctx, Database+"-logs"); err != nil {
		return nil, err
	}
	if err = s.CouchDB.BulkDocs(ctx, Database+"-logs", logs); err != nil {
		return nil, err
	}
	s.Manifest, s.Docs = m, len(docs)

	say("Starting the DHIS2 sandbox (DHIS2 %s API, in memory) with the demo district's metadata", DHIS2Version)
	if err = s.startDHIS2(filepath.Join(opts.Root, "test", "sandbox", "dhis2", "testdata", "demo-metadata.json")); err != nil {
		return nil, err
	}

	say("Starting the OpenHIM core sandbox (API and router) with channels/ and the demo client imported")
	if s.Core, err = himsandbox.New(himsandbox.Options{RootUser: OpenHIMRoot, RootPassword: OpenHIMPassword, Now: opts.CoreNow}); err != nil {
		return nil, err
	}
	if s.APIURL, err = s.serve(s.Core.APIHandler()); err != nil {
		return nil, err
	}
	if s.RouterURL, err = s.serve(s.Core.RouterHandler()); err != nil {
		return nil, err
	}
	if err = s.importChannels(opts.Root, opts.MediatorAddr); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops every server.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Env is the mediator's configuration for this stack, as MEDIATOR_*
// variables.
func (s *Stack) Env() []string {
	return []string{
		"MEDIATOR_SERVER_ADDR=" + s.Mediator,
		"MEDIATOR_CHT_URL=" + s.CouchDB.URL(),
		"MEDIATOR_CHT_USERNAME=" + CHTUser,
		"MEDIATOR_CHT_PASSWORD=" + CHTPassword,
		"MEDIATOR_DHIS2_URL=" + s.DHIS2URL,
		"MEDIATOR_DHIS2_TOKEN=" + DHIS2Token,
		"MEDIATOR_OPENHIM_URL=" + s.APIURL,
		"MEDIATOR_OPENHIM_USERNAME=" + OpenHIMRoot,
		"MEDIATOR_OPENHIM_PASSWORD=" + OpenHIMPassword,
	}
}

func (s *Stack) startDHIS2(metadataPath string) error {
	f, err := os.Open(metadataPath)
	if err != nil {
		return fmt.Errorf("DHIS2 metadata: %w", err)
	}
	defer f.Close()
	md, err := sandbox.LoadMetadata(f)
	if err != nil {
		return fmt.Errorf("DHIS2 metadata %s: %w", metadataPath, err)
	}
	s.DHIS2, err = sandbox.New(sandbox.Options{Version: DHIS2Version, Metadata: md, Token: DHIS2Token, Username: DHIS2User, Password: DHIS2Password})
	if err != nil {
		return err
	}
	s.DHIS2URL, err = s.serve(s.DHIS2)
	return err
}

// serve serves h on a free loopback port until Close.
func (s *Stack) serve(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }() // ends with Close
	s.closers = append(s.closers, func() { _ = hs.Close() })
	return "http://" + l.Addr().String(), nil
}

// importChannels imports channels/ as an operator would, with the routes'
// host and port set to the mediator at addr, and the demo client.
func (s *Stack) importChannels(root, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("mediator address %q: %w", addr, err)
	}
	channels, err := os.ReadFile(filepath.Join(root, "channels", "channels.json"))
	if err != nil {
		return err
	}
	channels = bytes.ReplaceAll(channels, []byte(`"host": "cht-dhis2-mediator"`), []byte(`"host": "`+host+`"`))
	channels = bytes.ReplaceAll(channels, []byte(`"port": 8544`), []byte(`"port": `+port))
	client, err := os.ReadFile(filepath.Join(root, "channels", "demo-client.json"))
	if err != nil {
		return err
	}
	for _, doc := range [][]byte{channels, client} {
		res, err := s.Core.ImportMetadata(doc)
		if err != nil {
			return fmt.Errorf("import channels: %w", err)
		}
		for _, r := range res {
			if r.Status != "Inserted" && r.Status != "Updated" {
				return fmt.Errorf("import channels: %s %s: %s", r.Model, r.Status, r.Message)
			}
		}
	}
	return nil
}

// Sync records a sync of each user at at, as CHT API does when a device
// replicates: it writes (or rewrites) replication-count-<user> in
// <database>-logs.
func (s *Stack) Sync(ctx context.Context, at time.Time, users ...string) error {
	db := Database + "-logs"
	var docs []any
	for _, u := range users {
		doc := map[string]any(seed.ReplicationLog(u, at, 40))
		var cur struct {
			Rev string `json:"_rev"`
		}
		if err := s.CouchDB.Do(ctx, http.MethodGet, "/"+db+"/"+url.PathEscape(doc["_id"].(string)), nil, &cur); err == nil {
			doc["_rev"] = cur.Rev
		}
		docs = append(docs, doc)
	}
	return s.CouchDB.BulkDocs(ctx, db, docs)
}

// WaitRegistered waits until the mediator registered with core and sent a
// heartbeat.
func (s *Stack) WaitRegistered(ctx context.Context, within time.Duration) (himsandbox.Mediator, error) {
	deadline := time.Now().Add(within)
	for {
		if med, ok := s.Core.Mediator(MediatorURN); ok && med.Heartbeats > 0 {
			return med, nil
		}
		if time.Now().After(deadline) {
			return himsandbox.Mediator{}, fmt.Errorf("the mediator did not register with OpenHIM within %v", within)
		}
		select {
		case <-ctx.Done():
			return himsandbox.Mediator{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Call sends a request through core's router as the demo client.
func (s *Stack) Call(ctx context.Context, method, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.RouterURL+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.SetBasicAuth(Client, ClientPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("call OpenHIM: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// ShellExports is Env as shell export lines, quoted for sh.
func (s *Stack) ShellExports() string {
	var b strings.Builder
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	return b.String()
}

// Instructions tells how to point a mediator run by hand at the stack,
// and commands to try: what "make sandbox" prints.
func (st *Stack) Instructions(mediator string) string {
	m := st.Manifest
	p := st.Month.Period()
	var b bytes.Buffer
	fmt.Fprintf(&b, `
Sandboxes up:
  CHT (CouchDB API)   %s/%s   %d documents: %d CHWs, target docs %s..%s, data sets %s and %s
  DHIS2 %s sandbox %s   token or %s/%s
  OpenHIM core API    %s   %s / %s
  OpenHIM router      %s   client %s / %s; channels route to %s

In another shell, from the repository root, set:

%s
Then try:
  %s check
  %s readiness --data-set %s --period %s
  %s preview --data-set %s --period %s
  %s export  --data-set %s --period %s --dry-run

and, through OpenHIM: run "%s serve" (it registers with the core sandbox), then
  curl -u %s:%s -X POST '%s/cht-dhis2/export?dataSet=%s&period=%s'

Ctrl-C stops the sandboxes (data is in memory and is lost).
`,
		st.CouchDB.URL(), Database, st.Docs, len(m.CHWs), m.Months[0], m.Months[len(m.Months)-1], m.DataSet, m.OtherDataSet,
		DHIS2Version, st.DHIS2URL, DHIS2User, DHIS2Password,
		st.APIURL, OpenHIMRoot, OpenHIMPassword,
		st.RouterURL, Client, ClientPassword, st.Mediator,
		st.ShellExports(),
		mediator, mediator, m.DataSet, p, mediator, m.DataSet, p, mediator, m.DataSet, p,
		mediator, Client, ClientPassword, st.RouterURL, m.DataSet, p)
	return b.String()
}
