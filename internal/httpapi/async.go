package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// Asynchronous exports.
//
// OpenHIM core (8.x) records a transaction of a channel with
// isAsynchronousProcess as "Pending Async" (src/middleware/messageStore.js
// storeTransaction) and lets the service finish it later through its API:
// PUT /transactions/:id (src/api/transactions.js updateTransaction), which
// stores the fields given and, when they carry an error, marks the
// transaction for auto-retry and queues it.
//
// So an export asked for asynchronously (GET|POST /export/async, the
// route of the asynchronous channel, or /export?async=true) is checked at
// once (a bad parameter is still a 400), answered at once with 202 and the
// status "Processing" (the mediator's status is the one core keeps,
// src/middleware/messageStore.js setFinalStatus), then run in the
// background exactly as the synchronous one would run. Its envelope (status,
// response with the report, orchestrations, properties, and the error
// member of a transient failure) becomes the update of the transaction
// named by X-OpenHIM-TransactionID, sent with the mediator's OpenHIM
// credentials and retried while core cannot be reached. A transient
// failure thus carries an error, and core auto-retries the transaction as
// it would a synchronous one.

// TransactionHeader is the header core adds to every request it routes,
// naming the transaction (src/middleware/messageStore.js storeTransaction).
const TransactionHeader = "X-OpenHIM-TransactionID"

// TransactionUpdater updates an OpenHIM transaction. *openhim.Client
// implements it.
type TransactionUpdater interface {
	UpdateTransaction(ctx context.Context, id string, update any) error
}

// Properties of the "Processing" answer that name the mediator process
// running the export: after a restart, the mediator finds the transactions
// its previous process left Processing (same host, other start) and fails
// them with an error, so that core retries them.
const (
	PropertyAsyncHost    = "asyncHost"
	PropertyAsyncStarted = "asyncStarted"
)

// Jobs tracks the background exports, so that the mediator's stop waits for
// them. The zero value is not usable: use NewJobs.
type Jobs struct {
	// Host and Started name this mediator process in the properties of the
	// transactions it answers "Processing".
	Host, Started string

	wg     sync.WaitGroup
	ctx    context.Context // canceled by Abandon: updates stop retrying
	cancel context.CancelFunc

	mu      sync.Mutex
	running map[string]time.Time // transaction id → start
}

// NewJobs returns an empty set of jobs.
func NewJobs() *Jobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &Jobs{ctx: ctx, cancel: cancel, running: map[string]time.Time{}}
}

// Wait waits until every job has ended, or ctx is done (its error).
func (j *Jobs) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { j.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Abandon stops the updates still being retried: their transactions keep
// the status "Processing".
func (j *Jobs) Abandon() { j.cancel() }

// Running returns the transaction ids of the running jobs.
func (j *Jobs) Running() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]string, 0, len(j.running))
	for id := range j.running {
		out = append(out, id)
	}
	return out
}

func (j *Jobs) start(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, dup := j.running[id]; dup {
		return false
	}
	j.running[id] = time.Now()
	j.wg.Add(1)
	return true
}

func (j *Jobs) end(id string) {
	j.mu.Lock()
	delete(j.running, id)
	j.mu.Unlock()
	j.wg.Done()
}

// Backoff of the transaction updates while core cannot be reached.
const (
	updateMinBackoff = time.Second
	updateMaxBackoff = time.Minute
)

// asyncRequested reports whether the request asks for an asynchronous
// export, and its query without the async parameter.
func asyncRequested(r *http.Request) (bool, string, error) {
	async := r.URL.Path == "/export/async"
	var kept []string
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == "async" {
			v, _ := url.QueryUnescape(value)
			switch v {
			case "true":
				async = true
			case "false":
			default:
				return false, "", &paramError{Message: fmt.Sprintf("async %q: must be true or false", v)}
			}
			continue
		}
		if part != "" {
			kept = append(kept, part)
		}
	}
	return async, strings.Join(kept, "&"), nil
}

// startAsync answers an asynchronous export at once and runs it in the
// background; it returns false when the request is not asynchronous.
func (s *server) startAsync(c *gin.Context) bool {
	async, query, err := asyncRequested(c.Request)
	if err != nil {
		s.badRequest(c, err, nil)
		return true
	}
	if !async {
		c.Request.URL.RawQuery = query // without async=false
		return false
	}
	var p exportParams
	if err := s.bindQuery("/export", query, &p); err != nil {
		s.badRequest(c, err, nil)
		return true
	}
	id := c.GetHeader(TransactionHeader)
	if id == "" {
		s.badRequest(c, &paramError{Message: "an asynchronous export needs the " + TransactionHeader + " header that OpenHIM core sends: call it through an OpenHIM channel, or without async"}, nil)
		return true
	}
	if s.updater == nil || s.jobs == nil {
		s.writeError(c, http.StatusServiceUnavailable, false,
			"asynchronous exports need OpenHIM core's API to report their end: set openhim.register=true (with openhim.url and its credentials), or use the synchronous channel", "", nil, nil)
		return true
	}
	if !s.jobs.start(id) {
		s.writeError(c, http.StatusConflict, false, "transaction "+id+" already has an export running", "", nil, nil)
		return true
	}
	inner := c.Request.Clone(context.Background())
	inner.URL.Path, inner.URL.RawQuery, inner.RequestURI = "/export", query, ""
	inner.Body, inner.ContentLength = http.NoBody, 0
	log := s.reqLog(c).With("transaction_id", id)
	go s.runAsync(inner, id, log)

	body, _ := json.Marshal(map[string]string{
		"status":        openhim.StatusProcessing,
		"transactionId": id,
		"message": "The export runs in the background. OpenHIM transaction " + id +
			" will show its final status, report and orchestrations when it ends.",
	})
	log.Info("asynchronous export started")
	s.writeEnvelope(c, answer{code: http.StatusAccepted, status: openhim.StatusProcessing, body: body,
		properties: map[string]string{"async": "true", "transactionId": id, PropertyAsyncHost: s.jobs.Host, PropertyAsyncStarted: s.jobs.Started}})
	return true
}

// runAsync runs the export of inner through the API itself (so it is
// answered exactly as a synchronous one), then updates transaction id with
// the answer.
func (s *server) runAsync(inner *http.Request, id string, log *slog.Logger) {
	defer s.jobs.end(id)
	rec := &recorder{header: http.Header{}}
	s.engine.ServeHTTP(rec, inner)
	var env openhim.Response
	if err := json.Unmarshal(rec.body.Bytes(), &env); err != nil || env.Status == "" {
		env = openhim.Response{Status: openhim.StatusFailed, Response: openhim.ClientResponse{Status: http.StatusInternalServerError,
			Headers: map[string]string{"Content-Type": "text/plain"}, Body: "the export answered no envelope", Timestamp: s.now().UTC()},
			Error: &openhim.Error{Message: "the asynchronous export answered no envelope (HTTP " + fmt.Sprint(rec.code) + ")"}}
	}
	update := transactionUpdate{Status: env.Status, Response: env.Response, Orchestrations: env.Orchestrations,
		Properties: env.Properties, Error: env.Error}
	if update.Orchestrations == nil {
		update.Orchestrations = []openhim.Orchestration{}
	}
	backoff := updateMinBackoff
	for attempt := 1; ; attempt++ {
		err := s.updater.UpdateTransaction(s.jobs.ctx, id, update)
		if err == nil {
			log.Info("asynchronous export ended: OpenHIM transaction updated", "status", update.Status, "http_status", update.Response.Status, "attempts", attempt)
			return
		}
		var se *openhim.StatusError
		if errors.As(err, &se) && se.StatusCode/100 == 4 && se.StatusCode != http.StatusRequestTimeout && se.StatusCode != http.StatusTooManyRequests && se.StatusCode != http.StatusUnauthorized {
			log.Error("asynchronous export ended, but OpenHIM refused the transaction update: it stays Processing", "status", update.Status, "err", err)
			return
		}
		if attempt == 1 {
			log.Warn("asynchronous export ended, but OpenHIM core cannot be reached: retrying the transaction update", "status", update.Status, "err", err)
		}
		select {
		case <-s.jobs.ctx.Done():
			log.Error("asynchronous export ended, but its transaction update was abandoned at shutdown: it stays Processing", "status", update.Status, "attempts", attempt, "err", err)
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, updateMaxBackoff)
	}
}

// transactionUpdate is the body of PUT /transactions/:id: the fields of
// core's transaction model (src/model/transactions.js) the envelope fills.
type transactionUpdate struct {
	Status         string                  `json:"status"`
	Response       openhim.ClientResponse  `json:"response"`
	Orchestrations []openhim.Orchestration `json:"orchestrations"`
	Properties     map[string]string       `json:"properties,omitempty"`
	Error          *openhim.Error          `json:"error,omitempty"`
}

// recorder is the http.ResponseWriter of a background export.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}
