package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

const jobType = "DATAVALUE_IMPORT"

// job is an async data value import (DHIS2 Web API docs, asynchronous data value import).
type job struct {
	id            string
	name          string
	created       time.Time
	opts          importOptions
	body          []byte
	notifications []obj // newest first
	summary       *summary
}

func (s *Server) startJob(w http.ResponseWriter, r *request, opts importOptions) {
	s.mu.Lock()
	now := s.now().UTC()
	j := &job{id: s.uid(), created: now, opts: opts, body: r.body}
	if s.v.minor >= 41 {
		j.name = fmt.Sprintf("%s (%d)", jobType, now.UnixMilli())
	} else {
		j.name = "dataValueImport"
	}
	s.jobs[j.id] = j
	if s.opts.AsyncDelay < 0 {
		s.runJob(j)
	} else {
		var t *time.Timer
		t = time.AfterFunc(s.opts.AsyncDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.timers[t] {
				return // stopped by Reset or Close
			}
			delete(s.timers, t)
			s.runJob(j)
		})
		s.timers[t] = true
	}
	s.mu.Unlock()

	endpoint := "/api/system/tasks/" + jobType + "/" + j.id
	if s.v.minor >= 41 {
		w.Header().Set("Location", s.prefix+"/api/system/tasks/"+jobType)
	}
	writeJSON(w, http.StatusOK, webMessage(http.StatusOK, "OK", "Initiated "+j.name).set("response", obj{
		{"responseType", "JobConfigurationWebMessageResponse"},
		{"name", j.name},
		{"id", j.id},
		{"created", j.created.Format(layoutServer)},
		{"jobType", jobType},
		{"jobStatus", "SCHEDULED"},
		{"jobParameters", obj{{"async", true}}},
		{"relativeNotifierEndpoint", endpoint},
	}))
}

// runJob imports the job's body and records its notifications. The caller
// holds s.mu.
func (s *Server) runJob(j *job) {
	notify := func(level, msg string, completed bool) {
		id := s.uid()
		n := obj{{"id", id}, {"uid", id}, {"level", level}, {"category", jobType},
			{"time", s.now().UTC().Format(layoutServer)}, {"message", msg}, {"completed", completed}}
		j.notifications = append([]obj{n}, j.notifications...)
	}
	notify("INFO", "Process started", false)
	notify("INFO", "Importing data values", false)
	sum := s.importBody(j.body, j.opts)
	j.summary = sum
	final := s.v.minor >= 41
	switch {
	case sum.status == statusError && strings.HasPrefix(sum.description, "The import process failed: "):
		notify("ERROR", "Process failed: "+strings.TrimPrefix(sum.description, "The import process failed: "), true)
		return
	case sum.description == "Import process was aborted":
		notify("WARN", "Import process aborted", !final)
	default:
		notify("INFO", "Import done", !final)
	}
	if final {
		notify("INFO", fmt.Sprintf("Import complete with status %s, %d created, %d updated, %d deleted, %d ignored",
			sum.status, sum.imported, sum.updated, sum.deleted, sum.ignored), true)
	}
}

// task answers GET /api/system/tasks/{type}/{id}: the job's notifications,
// newest first; an empty array for an unknown job (DHIS2 Web API docs, asynchronous data value import).
func (s *Server) task(w http.ResponseWriter, typ, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []obj{}
	if j := s.jobs[id]; j != nil && strings.EqualFold(typ, jobType) {
		list = append(list, j.notifications...)
	}
	writeJSON(w, http.StatusOK, list)
}

// taskSummary answers GET /api/system/taskSummaries/{type}/{id}: the bare
// ImportSummary, or an empty 200 while there is none (DHIS2 Web API docs, asynchronous data value import).
func (s *Server) taskSummary(w http.ResponseWriter, typ, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil || j.summary == nil || !strings.EqualFold(typ, jobType) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, j.summary.json())
}
