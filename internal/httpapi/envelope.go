package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// Inner content types of response.body.
const contentTypeJSON = "application/json"

// answer is what a handler hands to writeEnvelope.
type answer struct {
	code           int    // HTTP status, also response.status
	status         string // OpenHIM transaction status
	body           []byte // response.body, JSON
	properties     map[string]string
	orchestrations []openhim.Orchestration
	err            string // envelope error: flags the transaction for auto-retry
}

// writeEnvelope is the one place that writes application/json+openhim. The
// outer HTTP status equals response.status; response.body is a string;
// orchestrations is always an array.
func (s *server) writeEnvelope(c *gin.Context, a answer) {
	env := openhim.Response{
		URN:    s.urn,
		Status: a.status,
		Response: openhim.ClientResponse{
			Status:    a.code,
			Headers:   map[string]string{"Content-Type": contentTypeJSON},
			Body:      string(a.body),
			Timestamp: s.now().UTC(),
		},
		Orchestrations: sanitizeOrchestrations(a.orchestrations, s.now()),
		Properties:     a.properties,
	}
	if a.err != "" {
		env.Error = &openhim.Error{Message: a.err}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		// Every field is a string, number, time or map of strings.
		s.log.Error("encode envelope", "err", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Header("Content-Type", openhim.ContentType)
	c.Status(a.code)
	_, _ = c.Writer.Write(buf.Bytes())
}

// sanitizeOrchestrations returns a non-nil slice whose every entry has what
// core needs to store it: a name and a request timestamp.
func sanitizeOrchestrations(in []openhim.Orchestration, now time.Time) []openhim.Orchestration {
	out := make([]openhim.Orchestration, 0, len(in))
	for _, o := range in {
		if o.Name == "" {
			o.Name = "upstream call"
		}
		if o.Request.Timestamp.IsZero() {
			o.Request.Timestamp = now.UTC()
		}
		out = append(out, o)
	}
	return out
}

// webMessage is the body of an error answer, in the shape of a DHIS2
// WebMessage so that a DHIS2 client pulling through OpenHIM reads it.
type webMessage struct {
	HTTPStatus     string `json:"httpStatus"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	Status         string `json:"status"`
	Message        string `json:"message"`
	ErrorCode      string `json:"errorCode,omitempty"`
}

// errorBody returns the JSON of an error answer.
func errorBody(code int, msg, errorCode string) []byte {
	b, _ := json.Marshal(webMessage{
		HTTPStatus:     statusText(code),
		HTTPStatusCode: code,
		Status:         "ERROR",
		Message:        redact(msg),
		ErrorCode:      errorCode,
	})
	return b
}

// writeError answers code with msg in an envelope whose status follows
// envelopeStatus. props are the request's properties, if known.
func (s *server) writeError(c *gin.Context, code int, msg, errorCode string, props map[string]string, orchs []openhim.Orchestration) {
	a := answer{
		code:           code,
		status:         envelopeStatus(code),
		body:           errorBody(code, msg, errorCode),
		properties:     props,
		orchestrations: orchs,
	}
	if retryable(code) {
		a.err = redact(msg)
	}
	s.writeEnvelope(c, a)
}

// StatusClientClosedRequest is the status of an answer to a client that went
// away before it (nginx's 499). Nobody reads it; the access log does.
const StatusClientClosedRequest = 499

func statusText(code int) string {
	if code == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return fmt.Sprintf("Status %d", code)
}

// envelopeStatus is the OpenHIM status of an answer that is not an export
// report: what core itself computes from a status code, except
// that a client that went away is Failed (the work did not finish).
func envelopeStatus(code int) string {
	switch {
	case code >= 200 && code < 300:
		return openhim.StatusSuccessful
	case code == StatusClientClosedRequest, code >= 500:
		return openhim.StatusFailed
	default:
		return openhim.StatusCompleted
	}
}

// retryable reports whether an error answer should carry the envelope's
// error member, which flags the transaction for core's auto-retry.
func retryable(code int) bool { return code >= 500 }

var (
	// userinfoRE matches the credentials of a URL: scheme://user:pass@.
	userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s"']+@`)
	// secretParamRE matches the value of a query parameter that carries a
	// secret.
	secretParamRE = regexp.MustCompile(`(?i)([?&;](?:password|passwd|pwd|pass|token|access_token|api_?key|apitoken|secret)=)[^&\s"']*`)
)

// redact removes anything like user:pass@ from URLs and the values of
// password or token query parameters. The clients never put credentials
// into errors; this is the backstop.
func redact(s string) string {
	s = userinfoRE.ReplaceAllString(s, "${1}REDACTED@")
	return secretParamRE.ReplaceAllString(s, "${1}REDACTED")
}
