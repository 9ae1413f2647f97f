package couchsource

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Stats counts the requests a Handler served.
type Stats struct {
	Requests    int64 // every request
	TargetScans int64 // GET _all_docs starting at the month's first target doc: one per read of the month
	UserScans   int64 // GET _all_docs starting at the first user-settings doc: one per read of the users
	LogScans    int64 // GET _all_docs of the logs database from its start or the replication-count- prefix
	Errors      int64 // answers with a status of 400 or more (401, 404, …)
	Bytes       int64 // bytes of the answers' bodies
	// Sent splits Bytes by what was read: "month" (_all_docs ranges of
	// target docs), "view" (the DHIS view), "keys" (POST _all_docs: owners,
	// contacts), "users" (user-settings ranges), "logs" (the logs
	// database), "docs" (single docs, settings), "other".
	Sent        map[string]int64
	AllDocsGets int64 // GET _all_docs pages
	KeysPosts   int64 // POST _all_docs with keys
	ViewGets    int64 // pages of the DHIS view
	DocGets     int64 // single doc GETs (settings, …)
	Rows        int64 // rows sent
}

// Handler serves d like CouchDB serves the database: GET / and /{db}, GET
// and POST /{db}/_all_docs, GET /{db}/_design/medic-admin/_view/
// contacts_by_dhis_orgunit and GET /{db}/{docid}. Anything else answers
// CouchDB's 404. It is safe for concurrent use.
type Handler struct {
	d *Data

	requests, errors, bytes, targetScans, userScans, logScans, allDocsGets, keysPosts, viewGets, docGets, rows atomic.Int64

	sent [nSentKinds]atomic.Int64

	mu     sync.Mutex
	paused chan struct{} // while not nil, requests wait for it to close
	user   string        // with pass, the basic auth every request must carry (RequireUser)
	pass   string
}

// RequireUser makes h answer 401 like CouchDB with require_valid_user (as
// CHT's CouchDB runs) to any request without these basic-auth
// credentials. Call it before serving.
func (h *Handler) RequireUser(user, pass string) { h.user, h.pass = user, pass }

// statusWriter remembers the status, size and kind of an answer.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
	kind  sentKind
}

// sentKind is what an answer holds, for Stats.Sent.
type sentKind int

const (
	sentOther sentKind = iota
	sentMonth
	sentView
	sentKeys
	sentUsers
	sentLogs
	sentDocs
	nSentKinds
)

var sentNames = [nSentKinds]string{"other", "month", "view", "keys", "users", "logs", "docs"}

// setKind records what the answer written to w holds.
func setKind(w http.ResponseWriter, k sentKind) {
	if sw, ok := w.(*statusWriter); ok {
		sw.kind = k
	}
}

// Unwrap lets http.ResponseController reach the connection's writer (to
// flush a chunk).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Pause makes requests wait until Resume, so that tests can line callers
// up behind one read.
func (h *Handler) Pause() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.paused == nil {
		h.paused = make(chan struct{})
	}
}

// Resume lets waiting and later requests through.
func (h *Handler) Resume() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.paused != nil {
		close(h.paused)
		h.paused = nil
	}
}

// NewHandler returns a handler serving d.
func NewHandler(d *Data) *Handler { return &Handler{d: d} }

// Stats returns what h served so far.
func (h *Handler) Stats() Stats {
	sent := make(map[string]int64, nSentKinds)
	for k := range nSentKinds {
		if n := h.sent[k].Load(); n > 0 {
			sent[sentNames[k]] = n
		}
	}
	return Stats{
		Sent:     sent,
		Requests: h.requests.Load(), Errors: h.errors.Load(), Bytes: h.bytes.Load(), TargetScans: h.targetScans.Load(), UserScans: h.userScans.Load(), LogScans: h.logScans.Load(),
		AllDocsGets: h.allDocsGets.Load(),
		KeysPosts:   h.keysPosts.Load(), ViewGets: h.viewGets.Load(), DocGets: h.docGets.Load(), Rows: h.rows.Load(),
	}
}

// Server is a running source: an httptest server over a Handler.
type Server struct {
	*httptest.Server
	*Handler
	Data *Data
}

// Start generates the data of opts and serves it on a loopback port. Close
// the server when done.
func Start(opts Options) (*Server, error) {
	d, err := New(opts)
	if err != nil {
		return nil, err
	}
	h := NewHandler(d)
	return &Server{Server: httptest.NewServer(h), Handler: h, Data: d}, nil
}

// couchError writes CouchDB's error body.
func couchError(w http.ResponseWriter, code int, errName, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": errName, "reason": reason})
	_, _ = w.Write(append(b, '\n'))
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if sw.code >= 400 {
			h.errors.Add(1)
		}
		h.bytes.Add(sw.bytes)
		h.sent[sw.kind].Add(sw.bytes)
	}()
	if h.user != "" {
		user, pass, ok := r.BasicAuth()
		if !ok || user != h.user || pass != h.pass {
			sw.Header().Set("WWW-Authenticate", `Basic realm="server"`)
			reason := "Name or password is incorrect."
			if !ok {
				reason = "Authentication required."
			}
			couchError(sw, http.StatusUnauthorized, "unauthorized", reason)
			return
		}
	}
	h.serve(sw, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	gate := h.paused
	h.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	d := h.d
	path := strings.TrimPrefix(r.URL.Path, "/")
	if path == "" {
		writeJSON(w, `{"couchdb":"Welcome","version":"3.3.3","vendor":{"name":"couchsource"}}`)
		return
	}
	if path == "api/v1/settings" && d.opts.CHTAPI {
		if r.Method != http.MethodGet {
			couchError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only GET allowed")
			return
		}
		h.docGets.Add(1)
		setKind(w, sentDocs)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(d.appSets)
		return
	}
	db, rest, _ := strings.Cut(path, "/")
	if db == d.LogsDatabase() && d.opts.Users {
		h.logs(w, r, rest)
		return
	}
	if db != d.db {
		couchError(w, http.StatusNotFound, "not_found", "Database does not exist.")
		return
	}
	switch {
	case rest == "":
		writeJSON(w, fmt.Sprintf(`{"db_name":%q,"doc_count":%d,"doc_del_count":0}`, d.db, d.Counts().Docs))
	case rest == "_all_docs":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.allDocs(w, r, medicSeqs, nil)
		case http.MethodPost:
			h.keysPosts.Add(1)
			setKind(w, sentKeys)
			var body struct {
				Keys *[]string `json:"keys"`
			}
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&body); err != nil || body.Keys == nil {
				couchError(w, http.StatusBadRequest, "bad_request", "`keys` body member must be an array.")
				return
			}
			h.allDocs(w, r, medicSeqs, *body.Keys)
		default:
			couchError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only GET,HEAD,POST allowed")
		}
	case rest == "_design/medic-admin/_view/contacts_by_dhis_orgunit":
		if r.Method != http.MethodGet {
			couchError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only GET,HEAD allowed")
			return
		}
		h.view(w, r)
	case strings.HasPrefix(rest, "_design/medic-admin/_view/"):
		couchError(w, http.StatusNotFound, "not_found", "missing_named_view")
	default:
		h.doc(w, medicSeqs, rest)
	}
}

// doc answers GET /{db}/{docid}.
func (h *Handler) doc(w http.ResponseWriter, seqs []seq, id string) {
	h.docGets.Add(1)
	setKind(w, sentDocs)
	d := h.d
	s, idx, ok := d.lookupIn(seqs, []byte(id)) // r.URL.Path is unescaped
	if !ok {
		couchError(w, http.StatusNotFound, "not_found", "missing")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(d.appendDoc(nil, s, idx, d.newGen()), '\n'))
}

// logs serves the logs database: its info, _all_docs and its docs.
func (h *Handler) logs(w http.ResponseWriter, r *http.Request, rest string) {
	d := h.d
	switch rest {
	case "":
		writeJSON(w, fmt.Sprintf(`{"db_name":%q,"doc_count":%d,"doc_del_count":0}`, d.LogsDatabase(), d.seqLen(seqLog)))
	case "_all_docs":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.allDocs(w, r, logsSeqs, nil)
		case http.MethodPost:
			h.keysPosts.Add(1)
			setKind(w, sentKeys)
			var body struct {
				Keys *[]string `json:"keys"`
			}
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&body); err != nil || body.Keys == nil {
				couchError(w, http.StatusBadRequest, "bad_request", "`keys` body member must be an array.")
				return
			}
			h.allDocs(w, r, logsSeqs, *body.Keys)
		default:
			couchError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only GET,HEAD,POST allowed")
		}
	default:
		if strings.HasPrefix(rest, "_") {
			couchError(w, http.StatusNotFound, "not_found", "missing")
			return
		}
		h.doc(w, logsSeqs, rest)
	}
}

// ServeStats answers GET with the Stats served so far as JSON, for a
// benchmark in another process.
func (h *Handler) ServeStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h.Stats())
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, body+"\n")
}

// query is a view or _all_docs query.
type query struct {
	limit, skip  int
	includeDocs  bool
	inclusiveEnd bool
	startKey     *string
	startDocID   string
	endKey       *string
	key          *string
}

// parseQuery reads the CouchDB query parameters a reader uses. Keys must
// be JSON strings (every key of this database is one).
func parseQuery(r *http.Request) (query, error) {
	q := query{limit: -1, inclusiveEnd: true}
	v := r.URL.Query()
	str := func(names ...string) (*string, error) {
		for _, n := range names {
			if raw, ok := v[n]; ok {
				var s string
				if err := json.Unmarshal([]byte(raw[0]), &s); err != nil {
					return nil, fmt.Errorf("invalid %s: must be a JSON string here", n)
				}
				return &s, nil
			}
		}
		return nil, nil
	}
	boolean := func(name string, def bool) (bool, error) {
		raw, ok := v[name]
		if !ok {
			return def, nil
		}
		switch raw[0] {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("invalid boolean parameter: %q", raw[0])
	}
	integer := func(name string, def int) (int, error) {
		raw, ok := v[name]
		if !ok {
			return def, nil
		}
		n, err := strconv.Atoi(raw[0])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid %s: %q", name, raw[0])
		}
		return n, nil
	}
	var err error
	if q.limit, err = integer("limit", -1); err != nil {
		return q, err
	}
	if q.skip, err = integer("skip", 0); err != nil {
		return q, err
	}
	if q.includeDocs, err = boolean("include_docs", false); err != nil {
		return q, err
	}
	if q.inclusiveEnd, err = boolean("inclusive_end", true); err != nil {
		return q, err
	}
	if desc, err := boolean("descending", false); err != nil || desc {
		return q, fmt.Errorf("descending is not supported by couchsource")
	}
	if q.startKey, err = str("startkey", "start_key"); err != nil {
		return q, err
	}
	if q.endKey, err = str("endkey", "end_key"); err != nil {
		return q, err
	}
	if q.key, err = str("key"); err != nil {
		return q, err
	}
	if id, ok := v["startkey_docid"]; ok {
		q.startDocID = id[0]
	} else if id, ok := v["start_key_doc_id"]; ok {
		q.startDocID = id[0]
	}
	if q.key != nil {
		q.startKey, q.endKey, q.inclusiveEnd = q.key, q.key, true
	}
	return q, nil
}

// rowWriter writes a CouchDB rows answer.
type rowWriter struct {
	w     *bufio.Writer
	n     int
	count *atomic.Int64
	hw    http.ResponseWriter
	chunk int // Options.ChunkSize
}

func newRowWriter(w http.ResponseWriter, total, offset, chunk int, count *atomic.Int64) *rowWriter {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "must-revalidate")
	rw := &rowWriter{w: bufio.NewWriterSize(w, 64<<10), count: count, hw: w, chunk: chunk}
	fmt.Fprintf(rw.w, `{"total_rows":%d,"offset":%d,"rows":[`, total, offset)
	rw.w.WriteString("\r\n")
	return rw
}

// row writes one row given as its JSON.
func (rw *rowWriter) row(b []byte) {
	sep := 0
	if rw.n > 0 {
		sep = 3
	}
	if rw.chunk > 0 && rw.w.Buffered() > 0 && rw.w.Buffered()+sep+len(b) > rw.chunk {
		// What is gathered goes as one chunk; this row starts the next.
		_ = rw.w.Flush()
		_ = http.NewResponseController(rw.hw).Flush()
	}
	if rw.n > 0 {
		rw.w.WriteString(",\r\n")
	}
	rw.n++
	rw.w.Write(b)
}

func (rw *rowWriter) close() {
	rw.w.WriteString("\r\n]}\n")
	_ = rw.w.Flush()
	rw.count.Add(int64(rw.n))
}

// allDocs answers GET _all_docs (keys nil) or POST _all_docs with keys,
// over the docs of seqs.
func (h *Handler) allDocs(w http.ResponseWriter, r *http.Request, seqs []seq, keys []string) {
	d := h.d
	q, err := parseQuery(r)
	if err != nil {
		couchError(w, http.StatusBadRequest, "query_parse_error", err.Error())
		return
	}
	g := d.newGen()
	var row []byte
	writeDoc := func(s seq, idx int) {
		row = append(row[:0], `{"id":"`...)
		row = d.appendID(row, s, idx)
		row = append(row, `","key":"`...)
		row = d.appendID(row, s, idx)
		row = append(row, `","value":{"rev":"`...)
		row = d.appendRev(row, s, idx)
		row = append(row, `"}`...)
		if q.includeDocs {
			row = append(row, `,"doc":`...)
			row = d.appendDoc(row, s, idx, g)
		}
		row = append(row, '}')
	}
	total := 0
	for _, s := range seqs {
		total += d.seqLen(s)
	}
	if keys != nil {
		rw := newRowWriter(w, total, 0, h.d.opts.ChunkSize, &h.rows)
		for _, k := range keys {
			s, idx, ok := d.lookupIn(seqs, []byte(k))
			if !ok {
				kj, _ := json.Marshal(k)
				row = append(append(append(row[:0], `{"key":`...), kj...), `,"error":"not_found"}`...)
			} else {
				writeDoc(s, idx)
			}
			rw.row(row)
		}
		rw.close()
		return
	}
	h.allDocsGets.Add(1)
	switch {
	case slices.Equal(seqs, logsSeqs):
		setKind(w, sentLogs)
	case q.startKey == nil:
	case strings.HasPrefix(*q.startKey, "target~"):
		setKind(w, sentMonth)
	case strings.HasPrefix(*q.startKey, userPrefix):
		setKind(w, sentUsers)
	}
	switch {
	case slices.Equal(seqs, logsSeqs):
		if q.startKey == nil || *q.startKey == logPrefix {
			h.logScans.Add(1)
		}
	case q.startKey == nil:
	case *q.startKey == "target~"+string(d.month)+"~":
		h.targetScans.Add(1)
	case *q.startKey == userPrefix:
		h.userScans.Add(1)
	}
	// The merge of every seq between startkey and endkey.
	var pos, end [nSeqs]int
	var buf []byte
	offset := 0
	for s := range nSeqs {
		if !slices.Contains(seqs, s) {
			continue
		}
		n := d.seqLen(s)
		pos[s], end[s] = 0, n
		if q.startKey != nil {
			pos[s] = d.search(s, []byte(*q.startKey), &buf)
		}
		if q.endKey != nil {
			e := []byte(*q.endKey)
			end[s] = sort.Search(n, func(i int) bool {
				buf = d.appendID(buf[:0], s, d.index(s, i))
				c := bytes.Compare(buf, e)
				return c > 0 || c == 0 && !q.inclusiveEnd
			})
		}
		offset += pos[s]
	}
	rw := newRowWriter(w, total, offset, h.d.opts.ChunkSize, &h.rows)
	var heads [nSeqs][]byte
	var valid [nSeqs]bool
	headOf := func(s seq) []byte {
		if !valid[s] {
			heads[s], valid[s] = d.appendID(heads[s][:0], s, d.index(s, pos[s])), true
		}
		return heads[s]
	}
	skip, sent := q.skip, 0
	for q.limit < 0 || sent < q.limit {
		best := seq(-1)
		for s := range nSeqs {
			if pos[s] >= end[s] {
				continue
			}
			if best < 0 || bytes.Compare(headOf(s), headOf(best)) < 0 {
				best = s
			}
		}
		if best < 0 {
			break
		}
		idx := d.index(best, pos[best])
		pos[best]++
		valid[best] = false
		if skip > 0 {
			skip--
			continue
		}
		writeDoc(best, idx)
		rw.row(row)
		sent++
	}
	rw.close()
}

// view answers the DHIS view: rows {"id", "key": orgUnit, "value": null,
// "doc"?} sorted by key then id.
func (h *Handler) view(w http.ResponseWriter, r *http.Request) {
	h.viewGets.Add(1)
	setKind(w, sentView)
	d := h.d
	q, err := parseQuery(r)
	if err != nil {
		couchError(w, http.StatusBadRequest, "query_parse_error", err.Error())
		return
	}
	n := d.viewLen()
	var idBuf []byte
	rowID := func(i int) []byte {
		s, idx := d.viewRow(i)
		idBuf = d.appendID(idBuf[:0], s, idx)
		return idBuf
	}
	start, end := 0, n
	if q.startKey != nil {
		sk := *q.startKey
		start = sort.Search(n, func(i int) bool {
			k := d.viewKey(i)
			if k != sk {
				return k > sk
			}
			return q.startDocID == "" || string(rowID(i)) >= q.startDocID
		})
	}
	if q.endKey != nil {
		ek := *q.endKey
		end = sort.Search(n, func(i int) bool {
			k := d.viewKey(i)
			return k > ek || k == ek && !q.inclusiveEnd
		})
	}
	rw := newRowWriter(w, n, start, h.d.opts.ChunkSize, &h.rows)
	g := d.newGen()
	var row []byte
	sent := 0
	for i := start + q.skip; i < end && (q.limit < 0 || sent < q.limit); i++ {
		s, idx := d.viewRow(i)
		row = append(row[:0], `{"id":"`...)
		row = d.appendID(row, s, idx)
		row = append(row, `","key":"`...)
		row = append(row, d.viewKey(i)...)
		row = append(row, `","value":null`...)
		if q.includeDocs {
			row = append(row, `,"doc":`...)
			row = d.appendDoc(row, s, idx, g)
		}
		row = append(row, '}')
		rw.row(row)
		sent++
	}
	rw.close()
}
