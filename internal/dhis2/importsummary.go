package dhis2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Import statuses, in DHIS2's words (ImportStatus).
const (
	ImportSuccess = "SUCCESS"
	ImportWarning = "WARNING"
	ImportError   = "ERROR"
)

// ImportResult is what DHIS2 said about a push, whatever its version
// (dhis2-core DataValueSetController and WebMessageUtils): one chunk's import summary, or the merge of every
// chunk's.
type ImportResult struct {
	// Status is SUCCESS, WARNING or ERROR. It is never better than the
	// conflicts say: a summary that claims SUCCESS but carries conflicts is
	// read as WARNING. Merged over chunks it is the worst chunk's.
	Status string
	// Imported, Updated, Ignored and Deleted are DHIS2's importCount,
	// summed over chunks. What was written is Imported+Updated+Deleted
	// (Written); the status alone does not say.
	Imported, Updated, Ignored, Deleted int
	// Conflicts are DHIS2's conflicts. Identical conflicts (same code,
	// object, property and message) of different chunks are merged.
	Conflicts []Conflict
	// RejectedIndexes are the indexes (into the pushed values, ascending)
	// of the values DHIS2 reported as not stored: its rejectedIndexes
	// (2.39.2+), every conflict index (2.37+), and every value of a chunk
	// that was rejected as a whole. Servers before 2.37 report no indexes,
	// so there it lists only whole-chunk rejections.
	RejectedIndexes []int
	// Description is DHIS2's description ("Import process completed
	// successfully", "Import process was aborted", "The import process
	// failed: …"); distinct descriptions of several chunks are joined by
	// "; ".
	Description string
	// Chunks is the number of POSTs whose answer this result holds.
	Chunks int
}

// Written is the number of values DHIS2 stored or deleted: the truth about a
// push, whatever the status.
func (r ImportResult) Written() int { return r.Imported + r.Updated + r.Deleted }

// RejectedAsWhole reports whether the import was refused as a whole: status
// ERROR and nothing written (a data set level abort such as E7600–E7604, a
// body DHIS2 could not read, or a 2.43 rejection of the whole payload). A
// WARNING, or an ERROR with values written (2.43), is a partial success.
func (r ImportResult) RejectedAsWhole() bool {
	return r.Status == ImportError && r.Written() == 0
}

// Conflict is one DHIS2 import conflict.
type Conflict struct {
	// Object is the first id the conflict is about (≤2.42; absent in 2.43).
	Object string
	// Value is the human-readable message. Its text changes between
	// versions: match on ErrorCode.
	Value string
	// ErrorCode is the E-code (E7610, E7619, E8101, …); empty before 2.37.
	ErrorCode string
	// Property is the offending field (dataElement, period, orgUnit,
	// categoryOptionCombo, attributeOptionCombo, value, …); absent in 2.43.
	Property string
	// Objects is DHIS2's objects map (type → id, plus i18n keys such as
	// "value": "value_not_numeric"; in 2.43 {"args": "…"}).
	Objects map[string]string
	// Indexes are 0-based indexes of the values that hit this conflict. In
	// a result of PushDataValues they index the pushed values; in a result
	// of ParseImportResponse they are DHIS2's indexes into that one payload
	// (where 2.43 uses -1 for "the whole payload").
	Indexes []int
}

// Wire types of dhis2-core DataValueSetController and WebMessageUtils.
type (
	wireImportSummary struct {
		ResponseType    string           `json:"responseType"`
		Status          string           `json:"status"`
		Description     string           `json:"description"`
		ImportCount     *wireImportCount `json:"importCount"`
		Conflicts       []wireConflict   `json:"conflicts"`
		RejectedIndexes []int            `json:"rejectedIndexes"`
	}
	wireImportCount struct {
		Imported int `json:"imported"`
		Updated  int `json:"updated"`
		Ignored  int `json:"ignored"`
		Deleted  int `json:"deleted"`
	}
	wireConflict struct {
		Object    string                     `json:"object"`
		Objects   map[string]json.RawMessage `json:"objects"`
		Value     string                     `json:"value"`
		ErrorCode string                     `json:"errorCode"`
		Property  string                     `json:"property"`
		Indexes   []int                      `json:"indexes"`
	}
	// wireWebMessage is DHIS2's WebMessage (2.38+ answers, errors, the
	// async job reference).
	wireWebMessage struct {
		HTTPStatus     string          `json:"httpStatus"`
		HTTPStatusCode int             `json:"httpStatusCode"`
		Status         string          `json:"status"`
		Message        string          `json:"message"`
		DevMessage     string          `json:"devMessage"`
		ErrorCode      string          `json:"errorCode"`
		Response       json.RawMessage `json:"response"`
	}
)

// ParseImportResponse reads DHIS2's answer to POST /api/dataValueSets (or a
// task summary), whatever the server version (dhis2-core DataValueSetController and WebMessageUtils):
//   - a bare ImportSummary (≤2.37, or an /api/37/ path; HTTP 200 even for
//     ERROR), with plain ≤2.36 conflicts {object, value} or rich ones;
//   - a WebMessage whose response is an ImportSummary (2.38+: 200 on
//     SUCCESS, 409 on WARNING and ERROR), including 2.43's conflicts
//     (no object or property, E80xx/E81xx codes, indexes [-1]).
//
// Any status that carries an import summary is a result, not a failure: a
// 409 WARNING is a partial success. Anything else is an error: a non-2xx
// answer without an import summary is a *StatusError (401 wraps
// ErrUnauthorized); an unknown shape is an error quoting the start of the
// body. It never panics, whatever the input.
func ParseImportResponse(statusCode int, body []byte) (ImportResult, error) {
	const op = "import data values"
	wm, sum, err := decodeImportBody(body)
	if err == nil && sum != nil {
		return sum.result()
	}
	if statusCode < 200 || statusCode > 299 {
		return ImportResult{}, newStatusError(op, statusCode, body, wm)
	}
	if err == nil {
		err = fmt.Errorf("no import summary in the answer")
	}
	return ImportResult{}, fmt.Errorf("dhis2: %s: status %d: %w: %s", op, statusCode, err, quoteBody(body))
}

// decodeImportBody finds the ImportSummary in body. It returns the
// WebMessage when the body is one, the summary when there is one, and an
// error when the body is not JSON of a known shape.
func decodeImportBody(body []byte) (*wireWebMessage, *wireImportSummary, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil, fmt.Errorf("empty body")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	_, hasCode := top["httpStatusCode"]
	_, hasHTTPStatus := top["httpStatus"]
	if hasCode || hasHTTPStatus {
		var wm wireWebMessage
		if err := json.Unmarshal(body, &wm); err != nil {
			return nil, nil, fmt.Errorf("decode web message: %w", err)
		}
		resp := bytes.TrimSpace(wm.Response)
		if len(resp) == 0 || bytes.Equal(resp, []byte("null")) {
			return &wm, nil, nil
		}
		sum, err := decodeSummary(resp)
		if err != nil {
			return &wm, nil, fmt.Errorf("web message response: %w", err)
		}
		if sum != nil && sum.Status == "" {
			sum.Status = webMessageStatus(wm.Status)
		}
		return &wm, sum, nil
	}
	sum, err := decodeSummary(body)
	return nil, sum, err
}

// decodeSummary decodes an ImportSummary: an object whose responseType is
// ImportSummary, or (when responseType is absent) that has an importCount.
// Anything else (a job reference, metadata) is not a summary: nil, nil.
func decodeSummary(b []byte) (*wireImportSummary, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var rt string
	if raw, ok := top["responseType"]; ok {
		if err := json.Unmarshal(raw, &rt); err != nil {
			return nil, fmt.Errorf("responseType: %w", err)
		}
		if rt != "ImportSummary" {
			return nil, nil
		}
	} else if _, ok := top["importCount"]; !ok {
		return nil, nil
	}
	var s wireImportSummary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode import summary: %w", err)
	}
	return &s, nil
}

// webMessageStatus maps a WebMessage status (OK, WARNING, ERROR) to an
// import status.
func webMessageStatus(s string) string {
	if s == "OK" {
		return ImportSuccess
	}
	return s
}

// result checks and converts a decoded summary.
func (s *wireImportSummary) result() (ImportResult, error) {
	r := ImportResult{Status: s.Status, Description: s.Description, Chunks: 1}
	if rank(r.Status) < 0 {
		return ImportResult{}, fmt.Errorf("dhis2: import data values: unknown import status %q", excerpt([]byte(s.Status), 40))
	}
	if c := s.ImportCount; c != nil {
		if c.Imported < 0 || c.Updated < 0 || c.Ignored < 0 || c.Deleted < 0 {
			return ImportResult{}, fmt.Errorf("dhis2: import data values: negative import count %+v", *c)
		}
		r.Imported, r.Updated, r.Ignored, r.Deleted = c.Imported, c.Updated, c.Ignored, c.Deleted
	}
	for _, wc := range s.Conflicts {
		r.Conflicts = append(r.Conflicts, wc.conflict())
	}
	if len(r.Conflicts) > 0 && r.Status == ImportSuccess {
		// Derive the status from the conflicts, not the word.
		r.Status = ImportWarning
	}
	if len(s.RejectedIndexes) > 0 {
		r.RejectedIndexes = append([]int(nil), s.RejectedIndexes...)
	}
	return r, nil
}

func (wc wireConflict) conflict() Conflict {
	c := Conflict{Object: wc.Object, Value: wc.Value, ErrorCode: wc.ErrorCode, Property: wc.Property}
	if len(wc.Indexes) > 0 {
		c.Indexes = append([]int(nil), wc.Indexes...)
	}
	if len(wc.Objects) > 0 {
		c.Objects = make(map[string]string, len(wc.Objects))
		for k, raw := range wc.Objects {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				c.Objects[k] = s
				continue
			}
			c.Objects[k] = string(bytes.TrimSpace(raw))
		}
	}
	return c
}

// rank orders statuses from best to worst; -1 for an unknown status.
func rank(status string) int {
	switch status {
	case ImportSuccess:
		return 0
	case ImportWarning:
		return 1
	case ImportError:
		return 2
	}
	return -1
}

// worst returns the worse of two statuses.
func worst(a, b string) string {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// newStatusError builds the StatusError of a non-2xx answer. Body is the
// WebMessage message when there is one, else the start of the body.
func newStatusError(op string, statusCode int, body []byte, wm *wireWebMessage) *StatusError {
	e := &StatusError{Op: op, StatusCode: statusCode}
	if statusCode == 401 {
		e.hint = "DHIS2 refused the credentials"
	}
	if wm == nil {
		var m wireWebMessage
		if json.Unmarshal(bytes.TrimSpace(body), &m) == nil && (m.Message != "" || m.HTTPStatusCode != 0) {
			wm = &m
		}
	}
	switch {
	case wm != nil && wm.Message != "":
		e.Body = wm.Message
		if wm.ErrorCode != "" {
			e.Body = wm.ErrorCode + " " + e.Body
		}
		e.Body = excerpt([]byte(e.Body), maxErrorBody)
	case wm != nil:
		e.Body = ""
	default:
		e.Body = excerpt(body, maxErrorBody)
	}
	return e
}

// quoteBody quotes the start of a body for an error message.
func quoteBody(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "(empty body)"
	}
	return "body starts " + strconv.Quote(excerpt(body, 200))
}
