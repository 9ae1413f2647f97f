package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Server.
type Options struct {
	// Version is the DHIS2 version to behave as: "2.36" … "2.43", or a full
	// version such as "2.40.3". A short version means patch 0. It selects
	// the response family (dhis2-core DataValueSetController and WebMessageUtils) and the version-specific behaviour.
	Version string
	// Metadata is what the server knows: data sets, data elements,
	// category combos and option combos, org units. Required.
	Metadata *Metadata
	// Username and Password are the basic-auth credentials. Username is
	// required.
	Username, Password string
	// Token, when set, is a personal access token accepted as
	// "Authorization: ApiToken <token>" from 2.38 (2.37 has tokens switched
	// off by default, 2.36 has none; both answer 401).
	Token string
	// Now is the server clock; default time.Now.
	Now func() time.Time
	// User describes the authenticated user; default: a superuser whose
	// data capture org units are the roots of the hierarchy.
	User *User
	// ContextPath is the path DHIS2 is deployed under, such as "/dhis"
	// (default: served at the root, "/api/…").
	ContextPath string
	// AsyncDelay is how long an async import job takes before it runs
	// (default 50ms; negative: run at once).
	AsyncDelay time.Duration
	// Logger receives one line per request; default: discard.
	Logger *slog.Logger
}

// DataValue is a stored data value, exactly as the server holds it.
type DataValue struct {
	DataElement          string
	Period               string // canonical ISO period
	OrgUnit              string
	CategoryOptionCombo  string
	AttributeOptionCombo string
	Value                string
	Comment              string
	FollowUp             bool
	StoredBy             string
	Created              time.Time
	LastUpdated          time.Time
	Deleted              bool // soft-deleted
}

type valueKey struct{ de, pe, ou, coc, aoc string }

func (v *DataValue) key() valueKey {
	return valueKey{v.DataElement, v.Period, v.OrgUnit, v.CategoryOptionCombo, v.AttributeOptionCombo}
}

// Registration is a data set completion (CompleteDataSetRegistration).
type Registration struct {
	DataSet, Period, OrgUnit, AttributeOptionCombo string
	CompleteDate                                   time.Time
	StoredBy                                       string
	Completed                                      bool
}

// RecordedRequest is a request as it arrived, for tests to assert on.
type RecordedRequest struct {
	Method string
	Path   string     // URL path as sent, API version included
	Query  url.Values // parsed query
	Header http.Header
	Body   []byte
}

// Fault makes matching requests fail or slow down. Path is matched as a
// prefix of the path after the context path and API version ("/api/
// dataValueSets"); empty matches every path. Method empty matches any.
type Fault struct {
	Method string
	Path   string
	Count  int           // how many matching requests it applies to; <0 forever
	Status int           // answer this status (0: answer normally)
	Delay  time.Duration // wait before answering
}

// Server is an in-memory DHIS2 server. It implements http.Handler.
type Server struct {
	v      version
	opts   Options
	md     *Metadata
	x      *index
	g      *graph
	user   *User
	now    func() time.Time
	log    *slog.Logger
	prefix string

	mu             sync.Mutex
	values         map[valueKey]*DataValue
	registrations  map[string]*Registration
	approvals      map[string]bool
	lockExceptions map[string]bool
	requests       []RecordedRequest
	faults         []*Fault
	jobs           map[string]*job
	timers         map[*time.Timer]bool
	rng            *rand.Rand
	closed         bool
}

// New returns a server with no data values.
func New(opts Options) (*Server, error) {
	v, err := parseVersion(opts.Version)
	if err != nil {
		return nil, err
	}
	if opts.Metadata == nil {
		return nil, errors.New("metadata is required")
	}
	if opts.Username == "" {
		return nil, errors.New("username is required")
	}
	md := opts.Metadata
	if md.idx.de == nil {
		if err := md.resolve(); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
	}
	for _, ds := range md.DataSets {
		if !knownPeriodType(ds.PeriodType, v.minor) {
			return nil, fmt.Errorf("metadata: dataSet %s: period type %s does not exist in %s", ds.ID, ds.PeriodType, v.full)
		}
	}
	u := User{ID: "xE7jOejl9FI", FirstName: "Sandbox", Surname: "Admin", Authorities: []string{"ALL"}}
	if opts.User != nil {
		u = *opts.User
		u.ID = cmp.Or(u.ID, "xE7jOejl9FI")
		if u.Authorities == nil {
			u.Authorities = []string{"ALL"}
		}
	}
	u.Username = opts.Username
	if u.OrgUnits == nil {
		for _, ou := range md.idx.ouIx {
			if ou.Parent == nil {
				u.OrgUnits = append(u.OrgUnits, ou.ID)
			}
		}
	}
	for _, id := range u.OrgUnits {
		if md.idx.ou[id] == nil {
			return nil, fmt.Errorf("user: unknown org unit %q", id)
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.AsyncDelay == 0 {
		opts.AsyncDelay = 50 * time.Millisecond
	}
	s := &Server{
		v: v, opts: opts, md: md, x: &md.idx, user: &u, now: now, log: log,
		prefix: strings.TrimRight(opts.ContextPath, "/"),
	}
	s.g = buildGraph(md, s.user)
	s.reset()
	return s, nil
}

func (s *Server) reset() {
	s.values = map[valueKey]*DataValue{}
	s.registrations = map[string]*Registration{}
	s.approvals = map[string]bool{}
	s.lockExceptions = map[string]bool{}
	s.requests = nil
	s.faults = nil
	for t := range s.timers {
		t.Stop()
	}
	s.timers = map[*time.Timer]bool{}
	s.jobs = map[string]*job{}
	s.rng = rand.New(rand.NewPCG(2, 43))
}

// Reset forgets all data values, registrations, approvals, lock exceptions, recorded
// requests, faults and jobs.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// Close stops pending async jobs. The server answers 503 afterwards.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for t := range s.timers {
		t.Stop()
	}
	s.timers = map[*time.Timer]bool{}
}

// Version is the DHIS2 version the server reports.
func (s *Server) Version() string { return s.v.full }

// Stored returns every stored data value (soft-deleted ones included),
// sorted by period, org unit, data element, category option combo and
// attribute option combo.
func (s *Server) Stored() []DataValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DataValue, 0, len(s.values))
	for _, v := range s.values {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b DataValue) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.OrgUnit, b.OrgUnit),
			cmp.Compare(a.DataElement, b.DataElement), cmp.Compare(a.CategoryOptionCombo, b.CategoryOptionCombo),
			cmp.Compare(a.AttributeOptionCombo, b.AttributeOptionCombo))
	})
	return out
}

// Put stores data values directly (no validation), to set up a test.
// Created and LastUpdated default to Now.
func (s *Server) Put(values ...DataValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	for _, v := range values {
		if v.Created.IsZero() {
			v.Created = now
		}
		if v.LastUpdated.IsZero() {
			v.LastUpdated = now
		}
		if v.CategoryOptionCombo == "" {
			v.CategoryOptionCombo = s.x.defaultCOC
		}
		if v.AttributeOptionCombo == "" {
			v.AttributeOptionCombo = s.x.defaultCOC
		}
		s.values[v.key()] = &v
	}
}

// Registrations returns the data set completions, sorted.
func (s *Server) Registrations() []Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedRegistrations()
}

// Approve marks data as approved for a workflow, period, org unit and
// attribute option combo (empty: default), so that values there conflict
// (E7642; E8033 in 2.43).
func (s *Server) Approve(workflow, period, orgUnit, aoc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approvals[approvalKey(workflow, period, orgUnit, cmp.Or(aoc, s.x.defaultCOC))] = true
}

func approvalKey(wf, pe, ou, aoc string) string { return wf + "/" + pe + "/" + ou + "/" + aoc }

// Requests returns the requests received so far, oldest first, with the
// Authorization header's credentials redacted.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordedRequest, len(s.requests))
	for i, r := range s.requests {
		out[i] = RecordedRequest{Method: r.Method, Path: r.Path, Query: cloneValues(r.Query), Header: r.Header.Clone(), Body: bytes.Clone(r.Body)}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Fail makes the next n pushes (POST …/dataValueSets) answer status with
// a WebMessage body, without importing anything.
func (s *Server) Fail(n int, status int) {
	s.AddFault(Fault{Method: http.MethodPost, Path: "/api/dataValueSets", Count: n, Status: status})
}

// SetDelay makes every push (POST …/dataValueSets) wait d before it is
// answered (0 removes the delay); it combines with Fail. The wait ends
// early when the client gives up.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.faults = slices.DeleteFunc(s.faults, func(f *Fault) bool { return f.Status == 0 && f.Count < 0 })
	s.mu.Unlock()
	if d > 0 {
		s.AddFault(Fault{Method: http.MethodPost, Path: "/api/dataValueSets", Count: -1, Delay: d})
	}
}

// AddFault registers a fault. A request gets the delays of all matching
// delay-only faults and the status of the first matching failing fault;
// each fault used is counted down.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count == 0 {
		f.Count = 1
	}
	s.faults = append(s.faults, &f)
}

// takeFault returns the delay and status to inject for a request: the
// delays of every matching delay-only fault plus the first matching
// failing fault. Matching faults are counted down.
func (s *Server) takeFault(method, path string) (delay time.Duration, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.faults[:0]
	for _, f := range s.faults {
		match := (f.Method == "" || f.Method == method) && strings.HasPrefix(path, f.Path)
		if match && (f.Status == 0 || status == 0) {
			delay += f.Delay
			if f.Status != 0 {
				status = f.Status
			}
			if f.Count > 0 {
				f.Count--
				if f.Count == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return delay, status
}

// uid returns a new DHIS2 uid from the server's seeded generator, so ids
// are the same from run to run.
func (s *Server) uid() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const alnum = letters + "0123456789"
	b := make([]byte, 11)
	b[0] = letters[s.rng.IntN(len(letters))]
	for i := 1; i < 11; i++ {
		b[i] = alnum[s.rng.IntN(len(alnum))]
	}
	return string(b)
}

// request is a routed API request.
type request struct {
	*http.Request
	path       string // after context path and API version, with .json removed: "/api/dataSets/X"
	apiVersion int    // NN of /api/NN/, 0 when absent
	body       []byte
	format     string // "json" or the suffix asked for ("xml", "csv", …)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.serve(rec, r)
	level := slog.LevelDebug
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		level = slog.LevelInfo
	}
	s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
		"status", rec.status, "duration", time.Since(start))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, webMessage(http.StatusBadRequest, "ERROR", "Could not read request body"))
		return
	}
	h := r.Header.Clone()
	if a := h.Get("Authorization"); a != "" {
		scheme, _, _ := strings.Cut(a, " ")
		h.Set("Authorization", scheme+" <redacted>")
	}
	s.mu.Lock()
	closed := s.closed
	s.requests = append(s.requests, RecordedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: h, Body: body})
	s.mu.Unlock()
	if closed {
		writeJSON(w, http.StatusServiceUnavailable, webMessage(http.StatusServiceUnavailable, "ERROR", "Server is shutting down"))
		return
	}

	req := &request{Request: r, body: body, format: "json"}
	p := r.URL.Path
	if s.prefix != "" {
		if !strings.HasPrefix(p, s.prefix+"/") {
			s.notFound(w)
			return
		}
		p = strings.TrimPrefix(p, s.prefix)
	}
	if !strings.HasPrefix(p, "/api/") && p != "/api" {
		s.notFound(w)
		return
	}
	rest := strings.TrimPrefix(p, "/api")
	if seg, tail, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/"); seg != "" {
		if n, err := strconv.Atoi(seg); err == nil {
			if !s.v.validAPIVersion(n) {
				s.notFound(w)
				return
			}
			if !s.v.newImporter() { // 2.43 strips the version (ApiVersionFilter)
				req.apiVersion = n
			}
			rest = "/" + tail
		}
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		if j := strings.LastIndexByte(rest[i:], '.'); j > 0 {
			req.format = rest[i+j+1:]
			rest = rest[:i+j]
		}
	}
	req.path = "/api" + strings.TrimRight(rest, "/")

	if delay, status := s.takeFault(r.Method, req.path); delay > 0 || status != 0 {
		if delay > 0 && !waitContext(r.Context(), delay) {
			return // the client gave up
		}
		if status != 0 {
			writeJSON(w, status, webMessage(status, "ERROR", "Injected failure"))
			return
		}
	}

	if req.path == "/api/system/ping" {
		s.ping(w, r)
		return
	}
	if msg, ok := s.authenticate(r); !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="DHIS2"`)
		writeJSON(w, http.StatusUnauthorized, webMessage(http.StatusUnauthorized, "ERROR", msg))
		return
	}
	s.route(w, req)
}

// authenticate checks basic auth and personal access tokens (DHIS2 Web API docs, authentication).
func (s *Server) authenticate(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(a, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return "Unauthorized", false
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		if equal(user, s.opts.Username) && equal(pass, s.opts.Password) {
			return "", true
		}
	case "apitoken":
		if s.v.tokenAuth() && s.opts.Token != "" && equal(strings.TrimSpace(cred), s.opts.Token) {
			return "", true
		}
	}
	return "Unauthorized", false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// ping: 200 when authenticated, 401 on bad credentials, 302 to the login
// page when none were sent (DHIS2 Web API docs, authentication).
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		http.Redirect(w, r, s.prefix+"/dhis-web-commons/security/login.action", http.StatusFound)
		return
	}
	if msg, ok := s.authenticate(r); !ok {
		writeJSON(w, http.StatusUnauthorized, webMessage(http.StatusUnauthorized, "ERROR", msg))
		return
	}
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	_, _ = io.WriteString(w, "pong")
}

var metadataCollections = []string{"dataSets", "dataElements", "organisationUnits", "categoryOptionCombos",
	"categoryCombos", "categories", "categoryOptions", "optionSets"}

func (s *Server) route(w http.ResponseWriter, r *request) {
	parts := strings.Split(strings.TrimPrefix(r.path, "/api/"), "/")
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	if get && r.format != "json" {
		writeJSON(w, http.StatusNotAcceptable, webMessage(http.StatusNotAcceptable, "ERROR",
			"The sandbox only serves JSON; ."+r.format+" is not supported"))
		return
	}
	switch {
	case r.path == "/api/system/info":
		s.requireGet(w, r, s.systemInfo)
	case r.path == "/api/system/id":
		s.requireGet(w, r, s.systemID)
	case r.path == "/api/me":
		s.requireGet(w, r, s.me)
	case r.path == "/api/completeDataSetRegistrations":
		s.completeDataSetRegistrations(w, r)
	case r.path == "/api/dataApprovals/approvals":
		s.requireGet(w, r, s.dataApprovals)
	case r.path == "/api/dataValueSets":
		switch r.Method {
		case http.MethodPost:
			s.postDataValueSets(w, r)
		case http.MethodGet, http.MethodHead:
			s.getDataValueSets(w, r)
		default:
			s.methodNotAllowed(w, r)
		}
	case len(parts) == 4 && parts[0] == "system" && parts[1] == "tasks":
		s.requireGet(w, r, func(w http.ResponseWriter, r *request) { s.task(w, parts[2], parts[3]) })
	case len(parts) == 4 && parts[0] == "system" && parts[1] == "taskSummaries":
		s.requireGet(w, r, func(w http.ResponseWriter, r *request) { s.taskSummary(w, parts[2], parts[3]) })
	case len(parts) <= 2 && slices.Contains(metadataCollections, parts[0]):
		s.requireGet(w, r, func(w http.ResponseWriter, r *request) {
			if len(parts) == 1 {
				s.metadataList(w, r, parts[0])
			} else {
				s.metadataObject(w, r, parts[0], parts[1])
			}
		})
	default:
		s.notFound(w)
	}
}

func (s *Server) requireGet(w http.ResponseWriter, r *request, h func(http.ResponseWriter, *request)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.methodNotAllowed(w, r)
		return
	}
	h(w, r)
}

func (s *Server) notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, webMessage(http.StatusNotFound, "ERROR", "Not Found"))
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *request) {
	writeJSON(w, http.StatusMethodNotAllowed, webMessage(http.StatusMethodNotAllowed, "ERROR",
		fmt.Sprintf("Request method '%s' not supported", r.Method)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Timestamp layouts used by DHIS2.
const (
	layoutServer = "2006-01-02T15:04:05.000"      // system info, jobs, notifications
	layoutData   = "2006-01-02T15:04:05.000-0700" // data value created/lastUpdated
)

func (s *Server) systemInfo(w http.ResponseWriter, r *request) {
	now := s.now().UTC()
	base := "http://" + r.Host + s.prefix
	writeJSON(w, http.StatusOK, obj{
		{"contextPath", base},
		{"userAgent", r.UserAgent()},
		{"calendar", "iso8601"},
		{"dateFormat", "yyyy-mm-dd"},
		{"serverDate", now.Format(layoutServer)},
		{"serverTimeZoneId", "Etc/UTC"},
		{"serverTimeZoneDisplayName", "Coordinated Universal Time"},
		{"version", s.v.full},
		{"revision", "sandbox"},
		{"buildTime", "2024-01-01T00:00:00.000"},
		{"environmentVariable", "DHIS2_HOME"},
		{"databaseInfo", obj{{"spatialSupport", true}}},
		{"encryption", false},
		{"emailConfigured", false},
		{"redisEnabled", false},
		{"systemId", "sandbox-0000-0000-0000-000000000000"},
		{"systemName", "DHIS2 sandbox"},
		{"instanceBaseUrl", base},
		{"clusterHostname", ""},
		{"isMetadataVersionEnabled", false},
	})
}

func (s *Server) systemID(w http.ResponseWriter, r *request) {
	n := min(max(atoiDefault(r.URL.Query().Get("limit"), 1), 1), 10000)
	s.mu.Lock()
	codes := make([]string, n)
	for i := range codes {
		codes[i] = s.uid()
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj{{"codes", codes}})
}

func (s *Server) me(w http.ResponseWriter, r *request) {
	var spec *fieldSpec
	if f := strings.Join(r.URL.Query()["fields"], ","); f != "" {
		var err error
		if spec, err = parseFields(f); err != nil {
			writeJSON(w, http.StatusBadRequest, webMessage(http.StatusBadRequest, "ERROR", err.Error()))
			return
		}
	}
	writeJSON(w, http.StatusOK, render(s.g.userNode(s.user), spec))
}

func (s *Server) metadataList(w http.ResponseWriter, r *request, coll string) {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	out, err := listQuery(s.g.collections[coll], coll, r.URL.Query(), &u)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, webMessage(http.StatusBadRequest, "ERROR", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) metadataObject(w http.ResponseWriter, r *request, coll, id string) {
	n := s.g.byID[id]
	if n == nil || !slices.Contains(s.g.collections[coll], n) {
		kind := s.g.kinds[coll]
		writeJSON(w, http.StatusNotFound, webMessage(http.StatusNotFound, "ERROR",
			fmt.Sprintf("%s with id %s could not be found.", kind, id)))
		return
	}
	var spec *fieldSpec
	if f := strings.Join(r.URL.Query()["fields"], ","); f != "" {
		var err error
		if spec, err = parseFields(f); err != nil {
			writeJSON(w, http.StatusBadRequest, webMessage(http.StatusBadRequest, "ERROR", err.Error()))
			return
		}
	}
	writeJSON(w, http.StatusOK, render(n, spec))
}

// parseDay parses yyyy-MM-dd (or a longer timestamp starting with it);
// the zero time when it is not a date.
func parseDay(s string) time.Time {
	if len(s) >= 10 {
		if t, err := time.Parse("2006-01-02", s[:10]); err == nil {
			return t
		}
	}
	return time.Time{}
}

var _ http.Handler = (*Server)(nil)

// waitContext sleeps d; false when ctx ended first.
func waitContext(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
