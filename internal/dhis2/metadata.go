package dhis2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// dataSetFields is the field filter of GET /api/dataSets/{id}
// (DHIS2 Web API docs, metadata).
const dataSetFields = "id,name,code,periodType,openFuturePeriods,expiryDays,timelyDays," +
	"categoryCombo[id,name,isDefault,categoryOptionCombos[id,name,code]]," +
	"dataSetElements[dataElement[id,name,code,valueType,zeroIsSignificant,aggregationType,domainType," +
	"optionSet[id,options[code]],categoryCombo[id,categoryOptionCombos[id,name,code]]]," +
	"categoryCombo[id,categoryOptionCombos[id,name,code]]]," +
	"organisationUnits[id,code,path],dataInputPeriods[period,openingDate,closingDate],workflow[id]"

// uidRE is DHIS2's UID format (dhis2-core CodeGenerator).
var uidRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]{10}$`)

// IsUID reports whether s is a well-formed DHIS2 UID.
func IsUID(s string) bool { return uidRE.MatchString(s) }

// Wire types of GET /api/dataSets/{id}.
type (
	wireDataSet struct {
		ID                string               `json:"id"`
		Name              string               `json:"name"`
		Code              string               `json:"code"`
		PeriodType        string               `json:"periodType"`
		OpenFuturePeriods int                  `json:"openFuturePeriods"`
		ExpiryDays        int                  `json:"expiryDays"`
		TimelyDays        float64              `json:"timelyDays"`
		CategoryCombo     *wireCategoryCombo   `json:"categoryCombo"`
		DataSetElements   []wireDataSetElement `json:"dataSetElements"`
		OrganisationUnits []wireIdentifiable   `json:"organisationUnits"`
		DataInputPeriods  []wireInputPeriod    `json:"dataInputPeriods"`
		Workflow          *wireIdentifiable    `json:"workflow"`
	}
	// wireInputPeriod is a data input period; its period is serialised as
	// {"id": "<ISO>", "name": …} (JacksonPeriodSerializer), older servers
	// may give the bare ISO string.
	wireInputPeriod struct {
		Period      json.RawMessage `json:"period"`
		OpeningDate string          `json:"openingDate"`
		ClosingDate string          `json:"closingDate"`
	}
	wireDataSetElement struct {
		DataElement   *wireDataElement   `json:"dataElement"`
		CategoryCombo *wireCategoryCombo `json:"categoryCombo"`
	}
	wireDataElement struct {
		ID            string             `json:"id"`
		Name          string             `json:"name"`
		Code          string             `json:"code"`
		ValueType     string             `json:"valueType"`
		OptionSet     *wireIdentifiable  `json:"optionSet"`
		CategoryCombo *wireCategoryCombo `json:"categoryCombo"`
		// ZeroIsSignificant and AggregationType decide whether DHIS2
		// stores a zero.
		ZeroIsSignificant bool   `json:"zeroIsSignificant"`
		AggregationType   string `json:"aggregationType"`
	}
	wireCategoryCombo struct {
		ID                   string             `json:"id"`
		Name                 string             `json:"name"`
		IsDefault            bool               `json:"isDefault"`
		CategoryOptionCombos []wireIdentifiable `json:"categoryOptionCombos"`
	}
	wireIdentifiable struct {
		ID            string             `json:"id"`
		Name          string             `json:"name"`
		Code          string             `json:"code"`
		CategoryCombo *wireCategoryCombo `json:"categoryCombo"`
	}
	wireCOCList struct {
		CategoryOptionCombos []wireIdentifiable `json:"categoryOptionCombos"`
	}
)

type mdEntry struct {
	md      validate.Metadata
	fetched time.Time
}

// Metadata returns what DHIS2 says about a data set, converted for the
// validate package: GET /api/dataSets/{id} with the fields of DHIS2 Web API docs, metadata, and
// the default category option combo, looked up by name (never hard-coded).
// A dataSetElement's own category combo overrides its data element's.
//
// Results are cached per data set for dhis2.metadata_cache_ttl (0: no
// cache); concurrent calls for one data set share one fetch. Each call gets
// its own copy. A data set DHIS2 does not know (404) is an error wrapping
// ErrDataSetNotFound.
func (c *Client) Metadata(ctx context.Context, dataSetID string) (validate.Metadata, error) {
	if !IsUID(dataSetID) {
		return validate.Metadata{}, fmt.Errorf("dhis2: metadata: data set id %q is not a DHIS2 uid", excerpt([]byte(dataSetID), 40))
	}
	ttl := c.cfg.MetadataCacheTTL
	if ttl > 0 {
		c.mdMu.Lock()
		e, ok := c.mdCache[dataSetID]
		c.mdMu.Unlock()
		if ok && c.now().Sub(e.fetched) < ttl {
			return cloneMetadata(e.md), nil
		}
	}
	// One fetch per data set at a time. It runs detached from the caller
	// that started it, so that this caller's cancellation does not fail the
	// others; each request is still bounded by dhis2.timeout.
	ch := c.mdGroup.DoChan(dataSetID, func() (any, error) {
		md, err := c.fetchMetadata(context.WithoutCancel(ctx), dataSetID)
		if err != nil {
			return nil, err
		}
		if ttl > 0 {
			c.mdMu.Lock()
			c.mdCache[dataSetID] = mdEntry{md: md, fetched: c.now()}
			c.mdMu.Unlock()
		}
		return md, nil
	})
	select {
	case <-ctx.Done():
		return validate.Metadata{}, fmt.Errorf("dhis2: metadata %s: %w", dataSetID, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return validate.Metadata{}, r.Err
		}
		return cloneMetadata(r.Val.(validate.Metadata)), nil
	}
}

// fetchMetadata asks DHIS2 for the data set and the default COC at once.
// When either answers 404, the (cached) system info tells a wrong dhis2.url
// (no DHIS2 there, e.g. a missing context path) from a missing data set, so
// the error is the same whichever answer came first.
func (c *Client) fetchMetadata(ctx context.Context, id string) (validate.Metadata, error) {
	var (
		ds            wireDataSet
		defaults      []wireIdentifiable
		dsErr, cocErr error
		dsNF, cocNF   bool
		wg            sync.WaitGroup
	)
	wg.Go(func() {
		q := url.Values{"fields": {dataSetFields}}
		r, err := c.getJSON(ctx, "metadata "+id, c.endpoint(q, "dataSets", id), &ds)
		dsErr, dsNF = err, err != nil && r.status == http.StatusNotFound
	})
	wg.Go(func() {
		q := url.Values{
			"filter": {"name:eq:default"},
			"fields": {"id,name,categoryCombo[id,name,isDefault]"},
			"paging": {"false"},
		}
		var list wireCOCList
		r, err := c.getJSON(ctx, "default category option combo", c.endpoint(q, "categoryOptionCombos"), &list)
		cocErr, cocNF = err, err != nil && r.status == http.StatusNotFound
		defaults = list.CategoryOptionCombos
	})
	wg.Wait()
	if dsNF || cocNF {
		if _, err := c.SystemInfo(ctx); err != nil {
			return validate.Metadata{}, err
		}
	}
	switch {
	case dsNF:
		return validate.Metadata{}, fmt.Errorf("%w: %s: %w", ErrDataSetNotFound, id, dsErr)
	case dsErr != nil:
		return validate.Metadata{}, dsErr
	case cocErr != nil:
		return validate.Metadata{}, cocErr
	}
	md, err := convertDataSet(id, &ds)
	if err != nil {
		return validate.Metadata{}, fmt.Errorf("dhis2: metadata %s: %w", id, err)
	}
	def, err := c.pickDefaultCOC(defaults, &ds)
	if err != nil {
		return validate.Metadata{}, fmt.Errorf("dhis2: metadata %s: %w", id, err)
	}
	md.DefaultCategoryOptionCombo = def
	return md, nil
}

// convertDataSet turns DHIS2's data set into validate.Metadata, strictly:
// a data set without its id or period type is an error.
func convertDataSet(id string, ds *wireDataSet) (validate.Metadata, error) {
	if ds.ID != id {
		return validate.Metadata{}, fmt.Errorf("DHIS2 answered with data set %q", excerpt([]byte(ds.ID), 40))
	}
	if ds.PeriodType == "" {
		return validate.Metadata{}, errors.New("the data set has no periodType")
	}
	md := validate.Metadata{
		DataSet: validate.DataSet{
			ID:                    ds.ID,
			Name:                  ds.Name,
			PeriodType:            ds.PeriodType,
			AttributeOptionCombos: cocSet(ds.CategoryCombo),
			OpenFuturePeriods:     ds.OpenFuturePeriods,
			ExpiryDays:            ds.ExpiryDays,
		},
		DataElements: make(map[string]validate.DataElement, len(ds.DataSetElements)),
		OrgUnits:     make(map[string]bool, len(ds.OrganisationUnits)),
	}
	for i, dse := range ds.DataSetElements {
		de := dse.DataElement
		if de == nil || de.ID == "" {
			return validate.Metadata{}, fmt.Errorf("dataSetElements[%d] has no data element id", i)
		}
		cc := de.CategoryCombo
		if dse.CategoryCombo != nil && dse.CategoryCombo.ID != "" {
			cc = dse.CategoryCombo // the data set's override (DHIS2 Web API docs, metadata)
		}
		md.DataElements[de.ID] = validate.DataElement{
			ID:                   de.ID,
			Name:                 de.Name,
			ValueType:            de.ValueType,
			CategoryOptionCombos: cocSet(cc),
			HasOptionSet:         de.OptionSet != nil && de.OptionSet.ID != "",
			ZeroIsSignificant:    de.ZeroIsSignificant,
			AggregationType:      de.AggregationType,
		}
	}
	if ds.Workflow != nil {
		md.DataSet.Workflow = ds.Workflow.ID
	}
	for i, ip := range ds.DataInputPeriods {
		pe, err := inputPeriodID(ip.Period)
		if err != nil {
			return validate.Metadata{}, fmt.Errorf("dataInputPeriods[%d]: %w", i, err)
		}
		md.DataSet.DataInputPeriods = append(md.DataSet.DataInputPeriods, validate.DataInputPeriod{
			Period: pe, OpeningDate: dayOf(ip.OpeningDate), ClosingDate: dayOf(ip.ClosingDate)})
	}
	for _, ou := range ds.OrganisationUnits {
		if ou.ID != "" {
			md.OrgUnits[ou.ID] = true
		}
	}
	return md, nil
}

func cocSet(cc *wireCategoryCombo) map[string]bool {
	m := make(map[string]bool)
	if cc == nil {
		return m
	}
	for _, coc := range cc.CategoryOptionCombos {
		if coc.ID != "" {
			m[coc.ID] = true
		}
	}
	return m
}

// pickDefaultCOC chooses the default category option combo among those
// named "default". Old databases may hold several (DHIS2 Web API docs, metadata): prefer the
// one of the default category combo, then one the data set uses.
func (c *Client) pickDefaultCOC(cands []wireIdentifiable, ds *wireDataSet) (string, error) {
	var ids []string
	for _, coc := range cands {
		if coc.ID != "" && coc.Name == "default" {
			ids = append(ids, coc.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", errors.New(`DHIS2 has no category option combo named "default"`)
	case 1:
		return ids[0], nil
	}
	pick := pickAmongDefaults(ids, cands, ds)
	c.log.Warn("dhis2 has several category option combos named default; run the data integrity checks", "candidates", ids, "chosen", pick)
	return pick, nil
}

// pickAmongDefaults prefers the one of the default category combo, then
// one that the data set uses, then the first by id.
func pickAmongDefaults(ids []string, cands []wireIdentifiable, ds *wireDataSet) string {
	var inDefaultCombo []string
	for _, coc := range cands {
		if coc.ID != "" && coc.Name == "default" && coc.CategoryCombo != nil &&
			(coc.CategoryCombo.IsDefault || coc.CategoryCombo.Name == "default") {
			inDefaultCombo = append(inDefaultCombo, coc.ID)
		}
	}
	if len(inDefaultCombo) == 1 {
		return inDefaultCombo[0]
	}
	if len(inDefaultCombo) > 1 {
		ids = inDefaultCombo
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	used := cocSet(ds.CategoryCombo)
	for _, dse := range ds.DataSetElements {
		for _, cc := range []*wireCategoryCombo{dse.CategoryCombo, dataElementCombo(dse.DataElement)} {
			for id := range cocSet(cc) {
				used[id] = true
			}
		}
	}
	for _, id := range ids {
		if used[id] {
			return id
		}
	}
	return ids[0]
}

func dataElementCombo(de *wireDataElement) *wireCategoryCombo {
	if de == nil {
		return nil
	}
	return de.CategoryCombo
}

// cloneMetadata deep-copies md, so that callers can't change the cache.
func cloneMetadata(md validate.Metadata) validate.Metadata {
	out := md
	out.DataSet.AttributeOptionCombos = cloneSet(md.DataSet.AttributeOptionCombos)
	out.DataSet.DataInputPeriods = slices.Clone(md.DataSet.DataInputPeriods)
	out.OrgUnits = cloneSet(md.OrgUnits)
	if md.DataElements != nil {
		out.DataElements = make(map[string]validate.DataElement, len(md.DataElements))
		for k, de := range md.DataElements {
			de.CategoryOptionCombos = cloneSet(de.CategoryOptionCombos)
			out.DataElements[k] = de
		}
	}
	return out
}

func cloneSet(m map[string]bool) map[string]bool {
	if m == nil {
		return nil
	}
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// inputPeriodID reads a data input period's period: {"id": "202401", …} or
// "202401".
func inputPeriodID(raw json.RawMessage) (string, error) {
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &obj); err == nil && obj.ID != "" {
		return obj.ID, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil && s != "" {
		return s, nil
	}
	return "", fmt.Errorf("no period in %s", excerpt(raw, 60))
}

// dayOf reads the day of a DHIS2 date or timestamp ("2024-02-01",
// "2024-02-01T00:00:00.000"); the zero time when there is none.
func dayOf(s string) time.Time {
	if len(s) >= 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return t
		}
	}
	return time.Time{}
}
