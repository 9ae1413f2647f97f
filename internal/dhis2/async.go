package dhis2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
)

// Wire types of the async import (DHIS2 Web API docs, asynchronous data value import).
type (
	wireJob struct {
		ID      string `json:"id"`
		JobType string `json:"jobType"`
	}
	wireNotification struct {
		Level     string `json:"level"`
		Message   string `json:"message"`
		Completed bool   `json:"completed"`
	}
)

// jobIDRE bounds what goes into the task path.
var jobIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// pushAsync starts one chunk as an async import, waits for it to complete
// and returns its import summary. A server that answers the POST with a
// summary right away (it ignored async=true) is taken at its word.
func (c *Client) pushAsync(ctx context.Context, u *url.URL, body []byte) (ImportResult, error) {
	const op = "post data values (async)"
	r, err := c.do(ctx, op, http.MethodPost, u, body)
	if err != nil {
		return ImportResult{}, err
	}
	wm, sum, derr := decodeImportBody(r.body)
	if derr == nil && sum != nil {
		return c.importResult(op, r)
	}
	if r.status < 200 || r.status > 299 {
		return ImportResult{}, c.statusError(op, r)
	}
	var job wireJob
	if derr == nil && wm != nil {
		derr = json.Unmarshal(wm.Response, &job)
	}
	if derr == nil && job.JobType == "" {
		job.JobType = "DATAVALUE_IMPORT"
	}
	if derr == nil && (!jobIDRE.MatchString(job.ID) || !jobIDRE.MatchString(job.JobType)) {
		derr = errors.New("no job id in the answer")
	}
	if derr != nil {
		return ImportResult{}, fmt.Errorf("dhis2: %s: status %d: not an async job reference: %w; %s", op, r.status, derr, c.redact(quoteBody(r.body)))
	}
	c.log.Debug("dhis2 async import started", "job", job.ID, "job_type", job.JobType)
	return c.awaitTask(ctx, job)
}

// awaitTask polls GET /api/system/tasks/{type}/{id} until a notification
// says completed, then GET /api/system/taskSummaries/{type}/{id} until the
// summary is there (an empty body means not yet).
func (c *Client) awaitTask(ctx context.Context, job wireJob) (ImportResult, error) {
	op := "poll import task " + job.ID
	var final wireNotification
	for empty := 0; ; {
		var notes []wireNotification
		if _, err := c.getJSON(ctx, op, c.endpoint(nil, "system", "tasks", job.JobType, job.ID), &notes); err != nil {
			return ImportResult{}, err
		}
		done := false
		for _, n := range notes { // newest first
			if n.Completed {
				final, done = n, true
				break
			}
		}
		if done {
			break
		}
		if len(notes) == 0 {
			empty++
			if empty >= c.maxEmptyPolls {
				return ImportResult{}, fmt.Errorf("dhis2: %s: DHIS2 has no notification for the task after %d polls (unknown job, or polled as another user)", op, empty)
			}
		}
		if err := c.sleep(ctx, c.cfg.AsyncPollInterval); err != nil {
			return ImportResult{}, fmt.Errorf("dhis2: %s: %w", op, err)
		}
	}
	c.log.Debug("dhis2 async import completed", "job", job.ID, "level", final.Level, "message", final.Message)

	op = "import task summary " + job.ID
	u := c.endpoint(nil, "system", "taskSummaries", job.JobType, job.ID)
	for attempt := 1; ; attempt++ {
		r, err := c.do(ctx, op, http.MethodGet, u, nil)
		if err != nil {
			return ImportResult{}, err
		}
		if r.status < 200 || r.status > 299 {
			return ImportResult{}, c.statusError(op, r)
		}
		b := bytes.TrimSpace(r.body)
		if len(b) > 0 && !bytes.Equal(b, []byte("null")) && !bytes.Equal(b, []byte("{}")) {
			return c.importResult(op, r)
		}
		if attempt >= c.maxSummaryPolls {
			return ImportResult{}, fmt.Errorf("dhis2: %s: the task completed (%s: %q) but DHIS2 has no import summary for it",
				op, final.Level, excerpt([]byte(final.Message), 200))
		}
		if err := c.sleep(ctx, c.cfg.AsyncPollInterval); err != nil {
			return ImportResult{}, fmt.Errorf("dhis2: %s: %w", op, err)
		}
	}
}
