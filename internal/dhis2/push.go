package dhis2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// PushOptions tune one push.
type PushOptions struct {
	// DryRun asks DHIS2 to validate and count without saving (dryRun=true).
	DryRun bool
	// DataSet, when set, is sent as the body's dataSet. It only scopes
	// DHIS2's checks (locking, approval, input periods) to this data set,
	// and 2.43 needs it when a data element is in several data sets
	// (E8002). It is the only set-level field sent: period, orgUnit and
	// attributeOptionCombo at set level would override every value's
	// (DHIS2 Web API docs, data values), and completeDate needs them, so neither is ever sent.
	DataSet string
	// Delete sends the values with importStrategy=DELETE: DHIS2 deletes
	// (soft-deletes) the stored values of those keys, counted as deleted;
	// a key it does not hold is ignored.
	Delete bool
}

// Wire types of POST /api/dataValueSets (DHIS2 Web API docs, data values), bulk form:
// no set-level period, orgUnit or attributeOptionCombo.
type (
	wireDataValueSet struct {
		DataSet    string          `json:"dataSet,omitempty"`
		DataValues []wireDataValue `json:"dataValues"`
	}
	wireDataValue struct {
		DataElement          string          `json:"dataElement"`
		Period               string          `json:"period"`
		OrgUnit              string          `json:"orgUnit"`
		CategoryOptionCombo  string          `json:"categoryOptionCombo,omitempty"`
		AttributeOptionCombo string          `json:"attributeOptionCombo,omitempty"`
		Value                string          `json:"value"`
		Comment              json.RawMessage `json:"comment,omitempty"`
		Followup             json.RawMessage `json:"followup,omitempty"`
		StoredBy             json.RawMessage `json:"storedBy,omitempty"`
	}
)

// PushDataValues sends values with POST /api/dataValueSets
// ?importStrategy=CREATE_AND_UPDATE[&dryRun=true][&async=true], in chunks of
// dhis2.chunk_size, one after the other, and merges every chunk's answer:
// counts summed, conflict indexes translated to indexes into values, status
// the worst of all. Each value is sent fully qualified with its value as a
// JSON string; of its Attributes only comment, storedBy (strings) and
// followup (a boolean) are sent, never fields that would change what is
// stored where.
//
// Every value must have a data element, period, org unit and a non-blank
// value (a blank value deletes in DHIS2); otherwise nothing is sent.
//
// A chunk DHIS2 answers with an import summary (200, or 409 with conflicts)
// is a result, even with status ERROR, and the push goes on. A chunk without
// such an answer (network failure, timeout, 5xx, 413, an unreadable body)
// stops the push: the merged result of the chunks before it is returned
// together with a *PushError that says how much was sent.
//
// With dhis2.async each chunk is started as an async import and polled
// every dhis2.async_poll_interval until its summary is ready.
//
// Before the first push the client reads /api/system/info once, which
// checks the credentials before anything is written.
func (c *Client) PushDataValues(ctx context.Context, values []validate.Value, opts PushOptions) (ImportResult, error) {
	const op = "push data values"
	if opts.DataSet != "" && !IsUID(opts.DataSet) {
		return ImportResult{}, fmt.Errorf("dhis2: %s: data set id %q is not a DHIS2 uid", op, excerpt([]byte(opts.DataSet), 40))
	}
	wire, err := c.wireValues(values)
	if err != nil {
		return ImportResult{}, fmt.Errorf("dhis2: %s: %w", op, err)
	}
	if len(wire) == 0 {
		return ImportResult{Status: ImportSuccess}, nil
	}
	info, err := c.SystemInfo(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	if !info.AtLeast(37) {
		c.log.Warn("dhis2 before 2.37 reports conflicts without codes or indexes; rejected values can't be told apart", "version", info.Version)
	}
	if info.AtLeast(43) && opts.DataSet == "" {
		c.log.Warn("dhis2 2.43+ rejects data elements in several data sets when no data set is given (E8002)", "version", info.Version)
	}

	strategy := "CREATE_AND_UPDATE"
	if opts.Delete {
		strategy = "DELETE"
	}
	q := url.Values{"importStrategy": {strategy}}
	if opts.DryRun {
		q.Set("dryRun", "true")
	}
	if c.cfg.Async {
		q.Set("async", "true")
	}
	u := c.endpoint(q, "dataValueSets")

	size := c.cfg.ChunkSize
	chunks := (len(wire) + size - 1) / size
	m := newMerger(len(wire))
	for i := range chunks {
		first := i * size
		last := min(first+size, len(wire)) - 1
		pe := &PushError{Chunk: i + 1, Chunks: chunks, First: first, Last: last, Sent: first, Total: len(wire)}
		if err := ctx.Err(); err != nil {
			pe.Err, pe.NotSent = fmt.Errorf("dhis2: %s: %w", op, err), true
			return m.result(), pe
		}
		body, err := json.Marshal(wireDataValueSet{DataSet: opts.DataSet, DataValues: wire[first : last+1]})
		if err != nil {
			pe.Err, pe.NotSent = fmt.Errorf("dhis2: %s: encode: %w", op, err), true
			return m.result(), pe
		}
		var res ImportResult
		if c.cfg.Async {
			res, err = c.pushAsync(ctx, u, body)
		} else {
			res, err = c.pushSync(ctx, u, body)
		}
		if err != nil {
			pe.Err, pe.NotSent = err, notSent(err)
			return m.result(), pe
		}
		c.log.Debug("dhis2 chunk imported", "chunk", i+1, "chunks", chunks, "status", res.Status,
			"imported", res.Imported, "updated", res.Updated, "ignored", res.Ignored, "deleted", res.Deleted, "conflicts", len(res.Conflicts))
		m.add(res, first, last-first+1, c)
	}
	res := m.result()
	c.log.Info("dhis2 push done", "values", len(wire), "chunks", chunks, "dry_run", opts.DryRun, "status", res.Status,
		"imported", res.Imported, "updated", res.Updated, "ignored", res.Ignored, "deleted", res.Deleted, "conflicts", len(res.Conflicts))
	return res, nil
}

// wireValues converts and checks the values to push.
func (c *Client) wireValues(values []validate.Value) ([]wireDataValue, error) {
	out := make([]wireDataValue, len(values))
	var bad []string
	dropped := map[string]bool{}
	for i, v := range values {
		var missing []string
		if v.DataElement == "" {
			missing = append(missing, "data element")
		}
		if v.Period == "" {
			missing = append(missing, "period")
		}
		if v.OrgUnit == "" {
			missing = append(missing, "org unit")
		}
		if strings.TrimSpace(v.Value) == "" {
			missing = append(missing, "value")
		}
		if len(missing) > 0 {
			bad = append(bad, fmt.Sprintf("value %d: no %s", i, strings.Join(missing, ", ")))
			continue
		}
		w := wireDataValue{
			DataElement:          v.DataElement,
			Period:               v.Period,
			OrgUnit:              v.OrgUnit,
			CategoryOptionCombo:  v.CategoryOptionCombo,
			AttributeOptionCombo: v.AttributeOptionCombo,
			Value:                v.Value,
		}
		for k, raw := range v.Attributes {
			raw = bytes.TrimSpace(raw)
			switch {
			case (k == "comment" || k == "storedBy") && isJSONString(raw):
				if k == "comment" {
					w.Comment = raw
				} else {
					w.StoredBy = raw
				}
			case k == "followup" && (string(raw) == "true" || string(raw) == "false"):
				w.Followup = raw
			default:
				dropped[k] = true
			}
		}
		out[i] = w
	}
	if n := len(bad); n > 0 {
		more := ""
		if n > 3 {
			more = fmt.Sprintf("; and %d more", n-3)
			bad = bad[:3]
		}
		return nil, fmt.Errorf("%d of %d values are not fully qualified, nothing was sent: %s%s", n, len(values), strings.Join(bad, "; "), more)
	}
	if len(dropped) > 0 {
		keys := make([]string, 0, len(dropped))
		for k := range dropped {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		c.log.Debug("dhis2 data value attributes not sent", "attributes", keys)
	}
	return out, nil
}

func isJSONString(raw []byte) bool {
	var s string
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil
}

// pushSync posts one chunk and reads its import summary.
func (c *Client) pushSync(ctx context.Context, u *url.URL, body []byte) (ImportResult, error) {
	const op = "post data values"
	r, err := c.do(ctx, op, http.MethodPost, u, body)
	if err != nil {
		return ImportResult{}, err
	}
	return c.importResult(op, r)
}

// importResult reads an answer that should carry an import summary.
func (c *Client) importResult(op string, r response) (ImportResult, error) {
	_, sum, err := decodeImportBody(r.body)
	if err == nil && sum != nil {
		res, err := sum.result()
		if err != nil {
			return ImportResult{}, &redactedError{msg: c.redact(fmt.Sprintf("%v; %s", err, quoteBody(r.body))), err: err}
		}
		return res, nil
	}
	if r.status < 200 || r.status > 299 {
		return ImportResult{}, c.statusError(op, r)
	}
	if isHTML(r) {
		return ImportResult{}, fmt.Errorf("dhis2: %s: status %d: %s", op, r.status, htmlAnswer)
	}
	if err == nil {
		err = errors.New("no import summary in the answer")
	}
	return ImportResult{}, fmt.Errorf("dhis2: %s: status %d: %w; %s", op, r.status, err, c.redact(quoteBody(r.body)))
}
