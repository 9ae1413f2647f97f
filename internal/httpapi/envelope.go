package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
)

// ErrShutdown is the cause of the context of a request whose work the
// mediator stopped because it is shutting down (Options.Shutdown): the
// answer is still sent, as a 503 that OpenHIM may retry.
var ErrShutdown = errors.New("interrupted: the mediator is shutting down")

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
	s.redactEnvelope(&env)
	if s.clientGone(c) {
		// Nobody reads this answer: record that it was never sent, so that
		// the access log does not show a status the client never got.
		if a.code != StatusClientClosedRequest { // else fail has logged it
			s.reqLog(c).Error("the client went away before the answer: not sent", "status", a.code, "envelope_status", a.status,
				"error", envelopeError(env))
		}
		c.Status(StatusClientClosedRequest)
		c.Abort()
		return
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

// keyAnswerAnyway, set on the gin context, makes writeEnvelope answer even
// though the request's context has ended: a client whose body could not be
// read (cut off, too slow) may still read the answer that says so.
const keyAnswerAnyway = "answer_anyway"

// envelopeError is the envelope's error message, or "".
func envelopeError(env openhim.Response) string {
	if env.Error == nil {
		return ""
	}
	return env.Error.Message
}

// clientGone reports whether the request's client went away (its context
// ended for another reason than the mediator's shutdown, whose answers are
// still sent).
func (s *server) clientGone(c *gin.Context) bool {
	if c.GetBool(keyAnswerAnyway) {
		return false
	}
	ctx := c.Request.Context()
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), ErrShutdown)
}

// redactEnvelope redacts every string of env that can carry text from
// elsewhere: the error, the response body and headers, the properties and
// every part of every orchestration.
func (s *server) redactEnvelope(env *openhim.Response) {
	r := s.redactor
	if env.Error != nil {
		env.Error.Message = r.String(env.Error.Message)
		env.Error.Stack = r.String(env.Error.Stack)
	}
	env.Response.Body = r.String(env.Response.Body)
	redactHeaders(r, env.Response.Headers)
	for k, v := range env.Properties {
		env.Properties[k] = r.String(v)
	}
	for i := range env.Orchestrations {
		o := &env.Orchestrations[i]
		o.Name = r.String(o.Name)
		o.Request.Path = r.String(o.Request.Path)
		o.Request.QueryString = r.String(o.Request.QueryString)
		o.Request.Body = r.String(o.Request.Body)
		o.Request.Headers = redactHeaders(r, maps.Clone(o.Request.Headers))
		if o.Response != nil {
			resp := *o.Response
			resp.Body = r.String(resp.Body)
			resp.Headers = redactHeaders(r, maps.Clone(resp.Headers))
			o.Response = &resp
		}
		if o.Error != nil {
			o.Error = &openhim.Error{Message: r.String(o.Error.Message), Stack: r.String(o.Error.Stack)}
		}
	}
}

// redactHeaders redacts the values of h in place and returns it.
// Authorization and cookies are removed whole.
func redactHeaders(r *redact.Redactor, h map[string]string) map[string]string {
	for k, v := range h {
		switch strings.ToLower(k) {
		case "authorization", "proxy-authorization", "cookie", "set-cookie":
			h[k] = redact.Mask
		default:
			h[k] = r.String(v)
		}
	}
	return h
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
		Message:        msg,
		ErrorCode:      errorCode,
	})
	return b
}

// writeError answers code with msg in an envelope whose status follows
// envelopeStatus; retry sets the envelope's error member, which flags the
// transaction for core's auto-retry. props are the request's properties, if
// known. writeEnvelope redacts everything.
func (s *server) writeError(c *gin.Context, code int, retry bool, msg, errorCode string, props map[string]string, orchs []openhim.Orchestration) {
	a := answer{
		code:           code,
		status:         envelopeStatus(code),
		body:           errorBody(code, msg, errorCode),
		properties:     props,
		orchestrations: orchs,
	}
	if retry {
		// A failure OpenHIM should retry is Failed, whatever its code (a
		// 409 "month not ready" too).
		a.err, a.status = msg, openhim.StatusFailed
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
// error member, which flags the transaction for core's auto-retry (core's
// src/middleware/router.js sets autoRetry when a mediator's answer has an
// error member): every 5xx (an upstream down, a timeout, a push stopped
// part-way, a mediator not configured yet), and any error that says so
// itself (Retryable() bool, such as a month not ready yet). Never a 4xx of
// the client's own making.
func retryable(code int, err error) bool {
	var r interface{ Retryable() bool }
	if err != nil && errors.As(err, &r) {
		return r.Retryable()
	}
	return code >= 500 && code != StatusClientClosedRequest
}
