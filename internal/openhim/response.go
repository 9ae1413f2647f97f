// Package openhim talks to OpenHIM core and speaks its mediator protocol:
// the response envelope a mediator answers routed requests with
// (application/json+openhim), orchestrations, registration, heartbeat and
// config delivered from the console (jembi/openhim-core-js, src/api/mediators.js
// and src/middleware/router.js).
package openhim

import "time"

// ContentType is the content type of a mediator response envelope. Core
// detects it with a substring match, so parameters are fine.
const ContentType = "application/json+openhim"

// Transaction status words (OpenHIM mediator developer guide). Core writes unknown strings without
// checking and later fails to save the transaction, so only these exist.
const (
	StatusProcessing          = "Processing"
	StatusFailed              = "Failed"
	StatusCompleted           = "Completed"
	StatusSuccessful          = "Successful"
	StatusCompletedWithErrors = "Completed with error(s)"
)

// Response is the mediator response envelope (OpenHIM mediator developer guide).
type Response struct {
	URN            string            `json:"x-mediator-urn"`
	Status         string            `json:"status,omitempty"`
	Response       ClientResponse    `json:"response"`
	Orchestrations []Orchestration   `json:"orchestrations"`
	Properties     map[string]string `json:"properties,omitempty"`
	Error          *Error            `json:"error,omitempty"`
}

// ClientResponse is what core sends to the client. Body is always a string:
// core stores anything else as "[object Object]" (OpenHIM core src/middleware/router.js).
type ClientResponse struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	Timestamp time.Time         `json:"timestamp"`
}

// Orchestration is one upstream call made while handling a request. Name and
// Request.Timestamp are required by core; bodies are strings.
type Orchestration struct {
	Name     string                 `json:"name"`
	Group    string                 `json:"group,omitempty"`
	Request  OrchestrationRequest   `json:"request"`
	Response *OrchestrationResponse `json:"response,omitempty"`
	Error    *Error                 `json:"error,omitempty"`
}

// OrchestrationRequest is the request of an orchestration. The query field is
// "querystring" (core silently drops "queryString"); Port is a string.
type OrchestrationRequest struct {
	Host        string            `json:"host"`
	Port        string            `json:"port"`
	Path        string            `json:"path"`
	QueryString string            `json:"querystring"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body"`
	Timestamp   time.Time         `json:"timestamp"`
}

// OrchestrationResponse is the response of an orchestration.
type OrchestrationResponse struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	Timestamp time.Time         `json:"timestamp"`
}

// Error is an error object of an envelope or orchestration.
type Error struct {
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
}
