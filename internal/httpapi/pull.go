package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/flight"
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
	if err != nil {
		s.fail(c, err, props, res.orchs)
		return
	}
	pv := res.preview
	if err := export.NotBegun(period, pv.Readiness, s.now()); err != nil {
		s.badRequest(c, err, props)
		return
	}
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
	previewReadinessProperties(props, pv)
	s.writeEnvelope(c, answer{
		code: http.StatusOK, status: openhim.StatusSuccessful, body: body,
		properties: props, orchestrations: res.orchs,
	})
}

func pullKey(r export.Request) string {
	return fmt.Sprintf("%s|%s|%s|%t", r.DataSet, r.Period.Period(), r.OrgUnit, r.Children)
}

// coalescer runs one build for identical concurrent pulls (a flight.Group:
// the build runs detached from any one client, keeping the first client's
// values, and is canceled when its last waiting client goes away). Every
// waiter gets the same result and the same orchestrations: the calls its
// answer depended on. (The export service also shares identical builds, so
// a pull and an export of the same data set and period read CHT once; this
// layer adds the shared orchestrations and the cache.)
//
// With a positive ttl a successful result is kept that long and identical
// pulls get it, with its orchestrations, without building.
type coalescer struct {
	ttl time.Duration
	now func() time.Time

	flights flight.Group[string, flightResult]
	mu      sync.Mutex
	cache   map[string]cachedPull
}

// cachedPull is a kept result.
type cachedPull struct {
	res   flightResult
	until time.Time
}

type flightResult struct {
	preview *export.Preview
	orchs   []openhim.Orchestration
}

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
	g.mu.Unlock()
	res, _, err := g.flights.Do(ctx, key, func(ctx context.Context) (flightResult, error) {
		pv, orchs, err := fn(ctx)
		return flightResult{preview: pv, orchs: orchs}, err
	}, func(res flightResult, err error) { g.keep(key, res, err) })
	return flightResult{preview: res.preview, orchs: slices.Clone(res.orchs)}, err
}

// keep keeps a successful result for the ttl.
func (g *coalescer) keep(key string, res flightResult, err error) {
	if g.ttl <= 0 || err != nil || res.preview == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cache == nil {
		g.cache = map[string]cachedPull{}
	}
	now := g.now()
	for k, c := range g.cache { // drop what has expired: the cache stays small
		if !now.Before(c.until) {
			delete(g.cache, k)
		}
	}
	g.cache[key] = cachedPull{res: res, until: now.Add(g.ttl)}
}

// waiting returns the number of callers waiting for key (for tests).
func (g *coalescer) waiting(key string) int { return g.flights.Waiting(key) }
