package httpapi

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// The month board: one web page for CHW supervisors and health records
// officers, reached through an OpenHIM channel (so every call it makes is a
// transaction core records). GET /board and GET /board/ answer the page
// (plain HTML with its stylesheet and script inlined, so no asset path has
// to survive the channel's URL prefix); the page calls, with paths relative
// to where it was loaded:
//
//	GET  board/api/dataSets   the data sets of CHT's dhis_data_sets
//	GET  board/api/export     /export (the page asks dryRun=true: readiness, diff, problems)
//	POST board/api/export     /export (the push; force=true past the gate)
//	GET  board/api/last       the last export's result for ?dataSet=&period=
//
// The page itself is text/html, not an envelope: OpenHIM core passes a
// response that is not application/json+openhim to the client as it is
// (openhim-core-js src/middleware/router.js). The API answers are envelopes
// like every other endpoint's.

//go:embed board/index.html board/board.css board/board.js
var boardFS embed.FS

// boardPage is the page with its stylesheet and script inlined, built once.
var boardPage = sync.OnceValues(func() ([]byte, error) {
	read := func(name string) (string, error) {
		b, err := boardFS.ReadFile("board/" + name)
		return string(b), err
	}
	page, err := read("index.html")
	if err != nil {
		return nil, err
	}
	css, err := read("board.css")
	if err != nil {
		return nil, err
	}
	js, err := read("board.js")
	if err != nil {
		return nil, err
	}
	t, err := template.New("board").Parse(page)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	err = t.Execute(&b, struct {
		CSS template.CSS
		JS  template.JS
	}{template.CSS(css), template.JS(js)})
	return []byte(b.String()), err
})

// maxLastReports bounds the last export results kept in memory: one per
// (data set, period), the oldest dropped first.
const maxLastReports = 64

// lastKey identifies a last export result.
type lastKey struct{ dataSet, period string }

// lastReport is the result of the last export (not a dry run) of a data
// set and period that this mediator process ran, from any channel.
type lastReport struct {
	At      time.Time      `json:"at"`
	OrgUnit string         `json:"orgUnit,omitempty"`
	Force   bool           `json:"force"`
	Report  *export.Report `json:"report,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// lastReports keeps the last export result per (data set, period).
type lastReports struct {
	mu    sync.Mutex
	order []lastKey
	byKey map[lastKey]lastReport
}

func (l *lastReports) put(k lastKey, r lastReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey == nil {
		l.byKey = map[lastKey]lastReport{}
	}
	if _, ok := l.byKey[k]; ok {
		for i, o := range l.order {
			if o == k {
				l.order = append(l.order[:i], l.order[i+1:]...)
				break
			}
		}
	}
	l.order = append(l.order, k)
	l.byKey[k] = r
	for len(l.order) > maxLastReports {
		delete(l.byKey, l.order[0])
		l.order = l.order[1:]
	}
}

func (l *lastReports) get(k lastKey) (lastReport, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byKey[k]
	return r, ok
}

// rememberingExporter records the result of every export that is not a
// dry run, whichever endpoint asked for it.
type rememberingExporter struct {
	Exporter
	last *lastReports
	now  func() time.Time
}

func (e *rememberingExporter) Export(ctx context.Context, req export.ExportRequest) (*export.Report, error) {
	rep, err := e.Exporter.Export(ctx, req)
	if req.DryRun || req.DataSet == "" {
		return rep, err
	}
	lr := lastReport{At: e.now().UTC(), OrgUnit: req.OrgUnit, Force: req.Force, Report: rep}
	if nr := notReadyOf(err); nr != nil && nr.Report != nil {
		lr.Report = nr.Report
	}
	if err != nil {
		if ctx.Err() != nil && lr.Report == nil {
			return rep, err // the client went away: nothing ran to report
		}
		lr.Error = err.Error()
	}
	e.last.put(lastKey{req.DataSet, req.Period.Period()}, lr)
	return rep, err
}

// registerBoard adds the board's routes to the authenticated group.
func (s *server) registerBoard(api *gin.RouterGroup) {
	api.GET("/board", s.getBoard)
	api.GET("/board/", s.getBoard)
	api.GET("/board/api/dataSets", s.getBoardDataSets)
	api.GET("/board/api/export", s.postExport)
	api.POST("/board/api/export", s.boardOnly, s.postExport)
	api.GET("/board/api/last", s.getBoardLast)
}

// boardHeader must be on the board's push. A browser logged in at the
// router sends the basic credentials it cached with any request to it,
// also a form another site posts; such a form cannot set a header, and a
// script of another origin cannot either without a CORS preflight, which
// neither core nor the mediator answers. So a push without it is refused.
const boardHeader = "X-Month-Board"

// boardOnly refuses a push that does not come from the board's own script.
func (s *server) boardOnly(c *gin.Context) {
	if c.GetHeader(boardHeader) != "push" {
		s.reqLog(c).Info("board push refused: not sent by the board's page")
		s.writeError(c, http.StatusForbidden, false, "the board's push must come from the board's page (header "+boardHeader+")", "", nil, nil)
		c.Abort()
		return
	}
	c.Next()
}

// getBoard answers the page.
func (s *server) getBoard(c *gin.Context) {
	page, err := boardPage()
	if err != nil {
		s.fail(c, err, nil, nil)
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Everything the page needs is in it: nothing may load from elsewhere.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	c.Data(http.StatusOK, "text/html; charset=utf-8", page)
}

// getBoardDataSets answers {"dataSets": [...], "period": "<last month>"}.
func (s *server) getBoardDataSets(c *gin.Context) {
	ctx, collect := s.withRecorder(c.Request.Context())
	ids, err := s.exp.DataSets(ctx)
	if err != nil {
		s.fail(c, err, nil, collect())
		return
	}
	if ids == nil {
		ids = []string{}
	}
	body, err := json.Marshal(map[string]any{"dataSets": ids, "period": aggregate.MonthOf(s.now()).Previous().Period()})
	if err != nil {
		s.fail(c, err, nil, collect())
		return
	}
	s.writeEnvelope(c, answer{code: http.StatusOK, status: openhim.StatusSuccessful, body: body, orchestrations: collect()})
}

// lastParams are the query parameters of board/api/last.
type lastParams struct {
	DataSet string `query:"dataSet" validate:"required,dhis2uid"`
	Period  string `query:"period" validate:"required,yyyymm"`
}

// getBoardLast answers the last export result of a data set and period
// kept by this process ({"found": false} when there is none: the mediator
// restarted since, or no export ran).
func (s *server) getBoardLast(c *gin.Context) {
	var p lastParams
	if err := s.bindQuery("/board/api/last", c.Request.URL.RawQuery, &p); err != nil {
		s.badRequest(c, err, nil)
		return
	}
	props := map[string]string{"dataSet": p.DataSet, "period": p.Period}
	out := struct {
		Found bool `json:"found"`
		*lastReport
	}{}
	if lr, ok := s.last.get(lastKey{p.DataSet, p.Period}); ok {
		out.Found, out.lastReport = true, &lr
	}
	body, err := json.Marshal(out)
	if err != nil {
		s.fail(c, err, props, nil)
		return
	}
	s.writeEnvelope(c, answer{code: http.StatusOK, status: openhim.StatusSuccessful, body: body, properties: props})
}
