package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// pullSet is response.body of /dataValueSets: a data value set shaped like
// DHIS2's own GET /api/dataValueSets (DHIS2 Web API docs, reading data values). As DHIS2 does, the
// header fields are written only when exactly one data set, one period and
// one org unit were requested (dataSet and period are always single here, so:
// when orgUnit was given, with or without children).
type pullSet struct {
	DataSet      string             `json:"dataSet,omitempty"`
	CompleteDate string             `json:"completeDate,omitempty"`
	Period       string             `json:"period,omitempty"`
	OrgUnit      string             `json:"orgUnit,omitempty"`
	DataValues   []export.DataValue `json:"dataValues"`
}

// dhis2Timestamp is how DHIS2 writes completeDate: a long GMT timestamp.
const dhis2Timestamp = "2006-01-02T15:04:05.000-0700"

// getDataValueSets serves GET /dataValueSets: build only (no DHIS2 call).
// Identical concurrent requests share one build.
func (s *server) getDataValueSets(c *gin.Context) {
	var p pullParams
	if err := s.bindQuery("/dataValueSets", c.Request.URL.RawQuery, &p); err != nil {
		s.badRequest(c, err, nil)
		return
	}
	period, _ := aggregate.ParseMonth(p.Period) // validated
	req := export.Request{DataSet: p.DataSet, Period: period, OrgUnit: p.OrgUnit, Children: p.Children == "true"}
	props := map[string]string{"dataSet": p.DataSet, "period": period.Period()}
	if p.OrgUnit != "" {
		props["orgUnit"] = p.OrgUnit
	}

	res, err := s.pulls.do(c.Request.Context(), pullKey(req), func(ctx context.Context) (*export.Preview, []openhim.Orchestration, error) {
		ctx, collect := s.withRecorder(ctx)
		pv, err := s.exp.Preview(ctx, req)
		if err == nil && pv == nil {
			err = errors.New("export: the exporter returned no data value set")
		}
		return pv, collect(), err
	})
	if pe := (*panicError)(nil); errors.As(err, &pe) {
		s.reqLog(c).Error("panic while building a data value set", "panic", redact(fmt.Sprint(pe.value)), "stack", string(pe.stack))
		s.writeError(c, http.StatusInternalServerError,
			"internal error: the mediator's log has the details under request_id "+c.GetString(keyRequestID), "", props, res.orchs)
		return
	}
	if err != nil {
		s.fail(c, err, props, res.orchs)
		return
	}
	pv := res.preview
	out := pullSet{DataValues: pv.Set.DataValues}
	if out.DataValues == nil {
		out.DataValues = []export.DataValue{}
	}
	if p.OrgUnit != "" {
		out.DataSet, out.Period, out.OrgUnit = p.DataSet, period.Period(), p.OrgUnit
		if d, err := time.Parse(time.DateOnly, pv.Set.CompleteDate); err == nil {
			out.CompleteDate = d.Format(dhis2Timestamp)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		s.fail(c, err, props, res.orchs)
		return
	}
	orgUnits := make([]string, 0, len(out.DataValues))
	for _, v := range out.DataValues {
		orgUnits = append(orgUnits, v.OrgUnit)
	}
	slices.Sort(orgUnits)
	props["orgUnits"] = strconv.Itoa(len(slices.Compact(orgUnits)))
	props["dataValues"] = strconv.Itoa(len(out.DataValues))
	props["problems"] = strconv.Itoa(len(pv.Problems))
	s.writeEnvelope(c, answer{
		code: http.StatusOK, status: openhim.StatusSuccessful, body: body,
		properties: props, orchestrations: res.orchs,
	})
}

func pullKey(r export.Request) string {
	return fmt.Sprintf("%s|%s|%s|%t", r.DataSet, r.Period.Period(), r.OrgUnit, r.Children)
}

// coalescer runs one build for identical concurrent pulls. The build runs
// with a context detached from any one client (it keeps the first client's
// values) and is canceled when its last waiting client goes away, so a
// client that disconnects cancels the work unless another still waits for
// it. Every waiter gets the same result and the same orchestrations: the
// calls its answer depended on. (The export service also shares identical
// builds, so a pull and an export of the same data set and period read CHT
// once; this layer adds the shared orchestrations and the cache.)
//
// With a positive ttl a successful result is kept that long and identical
// pulls get it, with its orchestrations, without building.
type coalescer struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	flights map[string]*flight
	cache   map[string]cachedPull
}

// cachedPull is a kept result.
type cachedPull struct {
	res   flightResult
	until time.Time
}

type flight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	res     flightResult
	err     error
}

type flightResult struct {
	preview *export.Preview
	orchs   []openhim.Orchestration
}

// panicError is a panic in a coalesced build, turned into an error so that
// it cannot take the process down from its goroutine.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// do runs fn once for every concurrent call with the same key and returns
// its result, or ctx's error when ctx is done first.
func (g *coalescer) do(ctx context.Context, key string, fn func(context.Context) (*export.Preview, []openhim.Orchestration, error)) (flightResult, error) {
	g.mu.Lock()
	if c, ok := g.cache[key]; ok {
		if g.now().Before(c.until) {
			g.mu.Unlock()
			return flightResult{preview: c.res.preview, orchs: slices.Clone(c.res.orchs)}, nil
		}
		delete(g.cache, key)
	}
	if g.flights == nil {
		g.flights = map[string]*flight{}
	}
	f, ok := g.flights[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		g.flights[key] = f
		go func() {
			defer cancel()
			defer close(f.done)
			defer func() {
				if r := recover(); r != nil {
					f.err = &panicError{value: r, stack: debug.Stack()}
				}
			}()
			defer g.forget(key, f)
			pv, orchs, err := fn(fctx)
			f.res, f.err = flightResult{preview: pv, orchs: orchs}, err
		}()
	}
	f.waiters++
	g.mu.Unlock()

	select {
	case <-f.done:
		return flightResult{preview: f.res.preview, orchs: slices.Clone(f.res.orchs)}, f.err
	case <-ctx.Done():
		g.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if g.flights[key] == f {
				delete(g.flights, key)
			}
		}
		g.mu.Unlock()
		return flightResult{}, context.Cause(ctx)
	}
}

// forget removes f so that later calls start a new build, keeping its
// result for the ttl when it succeeded.
func (g *coalescer) forget(key string, f *flight) {
	g.mu.Lock()
	if g.flights[key] == f {
		delete(g.flights, key)
	}
	if g.ttl > 0 && f.err == nil && f.res.preview != nil {
		if g.cache == nil {
			g.cache = map[string]cachedPull{}
		}
		now := g.now()
		for k, c := range g.cache { // drop what has expired: the cache stays small
			if !now.Before(c.until) {
				delete(g.cache, k)
			}
		}
		g.cache[key] = cachedPull{res: f.res, until: now.Add(g.ttl)}
	}
	g.mu.Unlock()
}

// waiting returns the number of callers waiting for key (for tests).
func (g *coalescer) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.flights[key]; ok {
		return f.waiters
	}
	return 0
}
