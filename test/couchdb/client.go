package couchdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
)

// DefaultChunkSize is the number of documents BulkDocs sends per
// _bulk_docs request.
const DefaultChunkSize = 2000

// ErrExists reports that a database already exists (CouchDB 412 file_exists).
var ErrExists = errors.New("database exists")

// Client is a minimal CouchDB client for loading test data: create databases,
// set their security object, bulk-load documents, create users. It works
// against pouchdb-server and real CouchDB alike. It is not the mediator's CHT
// client and deliberately shares no code with it.
type Client struct {
	baseURL  string
	user     string
	password string
	hc       *http.Client
	chunk    int // documents per _bulk_docs request; 0 means DefaultChunkSize
}

// NewClient returns a client for the server at baseURL (no credentials in
// it). With a non-empty user every request carries HTTP basic auth. Calls
// are bounded by their ctx only.
func NewClient(baseURL, user, password string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // leave out the URL: it may hold credentials
		}
		return nil, fmt.Errorf("couchdb: parse url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("couchdb: url %q: want http(s)://host[:port]", baseURL)
	}
	if u.User != nil {
		return nil, errors.New("couchdb: url must not contain credentials; pass user and password")
	}
	return &Client{
		baseURL:  strings.TrimRight(u.String(), "/"),
		user:     user,
		password: password,
		// No client timeout: ctx bounds every call. A first view query on
		// pouchdb-server indexes the whole database and can take minutes.
		hc: &http.Client{},
	}, nil
}

// URL returns the server's base URL, without credentials.
func (c *Client) URL() string { return c.baseURL }

// StatusError is a non-2xx answer from the server.
type StatusError struct {
	Op         string
	StatusCode int
	Body       string // cut to about 1 KiB
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("couchdb: %s: status %d: %s", e.Op, e.StatusCode, e.Body)
}

// Do sends one request and decodes a JSON answer into out (when out is not
// nil). body, when not nil, is sent as JSON. path is joined to the base URL
// as is, so escape database names and doc ids yourself (url.PathEscape). A
// non-2xx status returns a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("couchdb: %s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	return c.do(ctx, method, path, rd, out)
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	op := method + " " + path
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("couchdb: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "cht-dhis2-mediator-test/couchdb")
	if body != nil {
		// pouchdb-server ignores bodies without this header.
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("couchdb: %s: %w", op, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return &StatusError{Op: op, StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("couchdb: %s: decode response: %w", op, err)
	}
	return nil
}

// CreateDB creates database name. An existing database returns an error
// wrapping ErrExists.
func (c *Client) CreateDB(ctx context.Context, name string) error {
	err := c.Do(ctx, http.MethodPut, "/"+url.PathEscape(name), nil, nil)
	var se *StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusPreconditionFailed {
		return fmt.Errorf("couchdb: create db %s: %w", name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create db %s: %w", name, err)
	}
	return nil
}

// DBExists reports whether database name exists.
func (c *Client) DBExists(ctx context.Context, name string) (bool, error) {
	err := c.Do(ctx, http.MethodGet, "/"+url.PathEscape(name), nil, nil)
	var se *StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("db info %s: %w", name, err)
	}
	return true, nil
}

// Security is a database's _security object.
type Security struct {
	Admins  Members `json:"admins"`
	Members Members `json:"members"`
}

// Members lists user names and roles.
type Members struct {
	Names []string `json:"names"`
	Roles []string `json:"roles"`
}

// PutSecurity replaces the _security object of database db. Once it lists
// members, anonymous requests and authenticated non-members are refused
// (CouchDB: 401 / 403; pouchdb-server: 401 for both).
func (c *Client) PutSecurity(ctx context.Context, db string, sec Security) error {
	if sec.Admins.Names == nil {
		sec.Admins.Names = []string{}
	}
	if sec.Admins.Roles == nil {
		sec.Admins.Roles = []string{}
	}
	if sec.Members.Names == nil {
		sec.Members.Names = []string{}
	}
	if sec.Members.Roles == nil {
		sec.Members.Roles = []string{}
	}
	if err := c.Do(ctx, http.MethodPut, "/"+url.PathEscape(db)+"/_security", sec, nil); err != nil {
		return fmt.Errorf("put security %s: %w", db, err)
	}
	return nil
}

// CreateUser adds a user to the _users database with the given roles. The
// user is not a member of any database until PutSecurity says so.
func (c *Client) CreateUser(ctx context.Context, name, password string, roles []string) error {
	if roles == nil {
		roles = []string{}
	}
	id := "org.couchdb.user:" + name
	doc := map[string]any{"_id": id, "name": name, "password": password, "roles": roles, "type": "user"}
	if err := c.Do(ctx, http.MethodPut, "/_users/"+url.PathEscape(id), doc, nil); err != nil {
		return fmt.Errorf("create user %s: %w", name, err)
	}
	return nil
}

// BulkDocs writes docs to database db with POST _bulk_docs, DefaultChunkSize
// documents per request. It fails if any row reports an error (a conflict
// when a doc already exists, a validation error), naming up to five of them.
func (c *Client) BulkDocs(ctx context.Context, db string, docs []any) error {
	return c.BulkDocsSeq(ctx, db, func(yield func(any) bool) {
		for _, d := range docs {
			if !yield(d) {
				return
			}
		}
	})
}

// BulkDocsSeq is BulkDocs over a sequence, so that only one chunk of
// documents is encoded at a time.
func (c *Client) BulkDocsSeq(ctx context.Context, db string, docs iter.Seq[any]) error {
	var (
		buf     bytes.Buffer
		n, sent int
		err     error
	)
	chunk := c.chunk
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	enc := json.NewEncoder(&buf)
	flush := func() error {
		if n == 0 {
			return nil
		}
		buf.WriteString("]}")
		if err := c.postBulk(ctx, db, &buf); err != nil {
			return fmt.Errorf("bulk docs %s (docs %d-%d): %w", db, sent+1, sent+n, err)
		}
		sent += n
		n = 0
		buf.Reset()
		return nil
	}
	for d := range docs {
		if n == 0 {
			buf.WriteString(`{"docs":[`)
		} else {
			buf.WriteByte(',')
		}
		if err = enc.Encode(d); err != nil {
			return fmt.Errorf("bulk docs %s: encode doc %d: %w", db, sent+n+1, err)
		}
		n++
		if n == chunk {
			if err = flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

type bulkRow struct {
	ID     string `json:"id"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

func (c *Client) postBulk(ctx context.Context, db string, body *bytes.Buffer) error {
	var rows []bulkRow
	if err := c.do(ctx, http.MethodPost, "/"+url.PathEscape(db)+"/_bulk_docs", body, &rows); err != nil {
		return err
	}
	// Rows are matched by id, not by position: pouchdb-server answers
	// design documents first, not in request order.
	var bad []string
	nbad := 0
	for _, r := range rows {
		if r.Error == "" {
			continue
		}
		nbad++
		if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("%s: %s (%s)", r.ID, r.Error, r.Reason))
		}
	}
	if nbad > 0 {
		return fmt.Errorf("%d of %d docs rejected: %s", nbad, len(rows), strings.Join(bad, "; "))
	}
	return nil
}

// WarmView queries a view once (limit=1) so that the server builds its
// index; later queries are then fast. viewPath is relative to the database,
// e.g. "/_design/medic-admin/_view/contacts_by_dhis_orgunit". On
// pouchdb-server the first query indexes every document in the database,
// which took about 5 s for 3 000 docs and 80 s for 31 000 on a loaded
// 2-core machine; give ctx room.
func (c *Client) WarmView(ctx context.Context, db, viewPath string) error {
	if err := c.Do(ctx, http.MethodGet, "/"+url.PathEscape(db)+viewPath+"?limit=1", nil, nil); err != nil {
		return fmt.Errorf("warm view %s%s: %w", db, viewPath, err)
	}
	return nil
}
