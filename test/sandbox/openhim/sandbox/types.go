package sandbox

import (
	"encoding/json"
	"time"
)

// The types below use core's JSON field names, so channel, client and
// mediator documents (and a console metadata export) decode into them as-is.

// Route is a mediator endpoint or a channel route (OpenHIM core src/model/channels.js).
type Route struct {
	ID                  string `json:"_id,omitempty"`
	Name                string `json:"name"`
	Type                string `json:"type,omitempty"` // http (default) or kafka
	Cert                string `json:"cert,omitempty"`
	Status              string `json:"status,omitempty"` // enabled (default) or disabled
	Secured             bool   `json:"secured,omitempty"`
	Host                string `json:"host,omitempty"`
	Port                int    `json:"port,omitempty"`
	Path                string `json:"path,omitempty"`
	PathTransform       string `json:"pathTransform,omitempty"`
	Primary             bool   `json:"primary,omitempty"`
	Username            string `json:"username,omitempty"`
	Password            string `json:"password,omitempty"`
	ForwardAuthHeader   bool   `json:"forwardAuthHeader,omitempty"`
	WaitPrimaryResponse bool   `json:"waitPrimaryResponse,omitempty"`
	StatusCodesCheck    string `json:"statusCodesCheck,omitempty"`
	KafkaClientID       string `json:"kafkaClientId,omitempty"`
	KafkaTopic          string `json:"kafkaTopic,omitempty"`
}

// Channel is an OpenHIM channel (OpenHIM core src/model/channels.js).
type Channel struct {
	ID                     string   `json:"_id,omitempty"`
	Name                   string   `json:"name"`
	Description            string   `json:"description,omitempty"`
	URLPattern             string   `json:"urlPattern"`
	Type                   string   `json:"type,omitempty"` // http (default), tcp, tls, polling
	Methods                []string `json:"methods,omitempty"`
	Priority               *int     `json:"priority,omitempty"`
	PollingSchedule        string   `json:"pollingSchedule,omitempty"`
	Status                 string   `json:"status,omitempty"`   // enabled (default), disabled, deleted
	AuthType               string   `json:"authType,omitempty"` // private (default) or public
	Allow                  []string `json:"allow,omitempty"`
	Whitelist              []string `json:"whitelist,omitempty"`
	Routes                 []Route  `json:"routes,omitempty"`
	RequestBody            *bool    `json:"requestBody,omitempty"`
	ResponseBody           *bool    `json:"responseBody,omitempty"`
	MaxBodyAgeDays         *int     `json:"maxBodyAgeDays,omitempty"`
	Timeout                *int     `json:"timeout,omitempty"` // milliseconds
	MatchContentTypes      []string `json:"matchContentTypes,omitempty"`
	AutoRetryEnabled       bool     `json:"autoRetryEnabled,omitempty"`
	AutoRetryPeriodMinutes int      `json:"autoRetryPeriodMinutes,omitempty"`
	AutoRetryMaxAttempts   *int     `json:"autoRetryMaxAttempts,omitempty"`
	IsAsynchronousProcess  bool     `json:"isAsynchronousProcess,omitempty"`
	TxViewACL              []string `json:"txViewAcl,omitempty"`
	TxViewFullACL          []string `json:"txViewFullAcl,omitempty"`
	TxRerunACL             []string `json:"txRerunAcl,omitempty"`
}

// Client is a client application that calls channels (OpenHIM core src/middleware/basicAuthentication.js).
type Client struct {
	ID                string   `json:"_id,omitempty"`
	ClientID          string   `json:"clientID"`
	Name              string   `json:"name"`
	Roles             []string `json:"roles,omitempty"`
	PasswordAlgorithm string   `json:"passwordAlgorithm,omitempty"`
	PasswordHash      string   `json:"passwordHash,omitempty"`
	PasswordSalt      string   `json:"passwordSalt,omitempty"`
	CustomTokenID     string   `json:"customTokenID,omitempty"`
	ClientDomain      string   `json:"clientDomain,omitempty"`
	CertFingerprint   string   `json:"certFingerprint,omitempty"`
}

// ConfigDef is one entry of a mediator's configDefs (OpenHIM core src/api/mediators.js).
type ConfigDef struct {
	Param       string      `json:"param,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Description string      `json:"description,omitempty"`
	Type        string      `json:"type,omitempty"`
	Values      []string    `json:"values,omitempty"`
	Template    []ConfigDef `json:"template,omitempty"`
	Array       bool        `json:"array,omitempty"`
}

// Mediator is a stored mediator registration (OpenHIM core src/api/mediators.js) with the state core
// keeps from heartbeats (OpenHIM core src/api/mediators.js).
type Mediator struct {
	ID                   string      `json:"_id"`
	URN                  string      `json:"urn"`
	Version              string      `json:"version"`
	Name                 string      `json:"name"`
	Description          string      `json:"description,omitempty"`
	Endpoints            []Route     `json:"endpoints"`
	DefaultChannelConfig []Channel   `json:"defaultChannelConfig"`
	ConfigDefs           []ConfigDef `json:"configDefs"`
	// Config is the stored config when it is a JSON object, else nil.
	Config map[string]any `json:"config,omitempty"`
	// ConfigJSON is the stored config exactly as core would return it in a
	// heartbeat (key order kept); nil when no config is stored.
	ConfigJSON       json.RawMessage `json:"-"`
	ConfigModifiedTS *time.Time      `json:"_configModifiedTS,omitempty"`
	Uptime           *float64        `json:"_uptime,omitempty"`
	LastHeartbeat    *time.Time      `json:"_lastHeartbeat,omitempty"`

	// Sandbox bookkeeping, not part of core's document.
	Heartbeats    int `json:"-"` // heartbeats answered 200
	Registrations int `json:"-"` // POST /mediators answered 201 for this urn, no-ops included
	Writes        int `json:"-"` // registrations that wrote the document (insert, version bump)
}

// Transaction is a transaction as core stores it (core:src/model/transactions.js).
type Transaction struct {
	ID               string          `json:"_id"`
	ClientID         string          `json:"clientID,omitempty"`
	ClientIP         string          `json:"clientIP,omitempty"`
	ParentID         string          `json:"parentID,omitempty"`
	TaskID           string          `json:"taskID,omitempty"`
	ChildIDs         []string        `json:"childIDs,omitempty"`
	ChannelID        string          `json:"channelID,omitempty"`
	Request          *Request        `json:"request,omitempty"`
	Response         *Response       `json:"response,omitempty"`
	Routes           []RouteResult   `json:"routes,omitempty"`
	Orchestrations   []Orchestration `json:"orchestrations"`
	Properties       any             `json:"properties,omitempty"`
	CanRerun         bool            `json:"canRerun"`
	AutoRetry        bool            `json:"autoRetry"`
	AutoRetryAttempt int             `json:"autoRetryAttempt,omitempty"`
	WasRerun         bool            `json:"wasRerun"`
	Error            *ErrorDetails   `json:"error,omitempty"`
	Status           string          `json:"status"`
}

// Request is a stored request (transaction, route or orchestration).
type Request struct {
	Host        string         `json:"host,omitempty"`
	Port        string         `json:"port,omitempty"`
	Path        string         `json:"path,omitempty"`
	Headers     map[string]any `json:"headers,omitempty"`
	Querystring string         `json:"querystring,omitempty"`
	Body        string         `json:"body,omitempty"`
	Method      string         `json:"method,omitempty"`
	Timestamp   time.Time      `json:"timestamp,omitzero"`
}

// Response is a stored response.
type Response struct {
	Status    int            `json:"status,omitempty"`
	Headers   map[string]any `json:"headers,omitempty"`
	Body      string         `json:"body,omitempty"`
	Timestamp time.Time      `json:"timestamp,omitzero"`
}

// Orchestration is a stored orchestration: the mediator's own, or the one
// core records for the primary route call (OpenHIM core src/middleware/router.js).
type Orchestration struct {
	Name     string        `json:"name"`
	Group    string        `json:"group,omitempty"`
	Request  *Request      `json:"request,omitempty"`
	Response *Response     `json:"response,omitempty"`
	Error    *ErrorDetails `json:"error,omitempty"`
}

// RouteResult is a non-primary route's outcome (transaction.routes[]).
type RouteResult struct {
	Name           string          `json:"name"`
	Request        *Request        `json:"request,omitempty"`
	Response       *Response       `json:"response,omitempty"`
	Orchestrations []Orchestration `json:"orchestrations,omitempty"`
	Properties     any             `json:"properties,omitempty"`
	MediatorURN    string          `json:"mediatorURN,omitempty"`
	Error          *ErrorDetails   `json:"error,omitempty"`
}

// ErrorDetails is a stored error.
type ErrorDetails struct {
	Message string `json:"message,omitempty"`
	Stack   string `json:"stack,omitempty"`
}

// MetadataResult is one item of POST /metadata's answer (OpenHIM core src/api/metadata.js).
type MetadataResult struct {
	Model   string `json:"model"`
	Record  any    `json:"record"`
	Status  string `json:"status"` // Inserted, Updated, Error; validate: Valid, Conflict, Error
	Message string `json:"message"`
	UID     any    `json:"uid"`
}

// RecordedRequest is one API call the sandbox saw.
type RecordedRequest struct {
	Time   time.Time
	Method string
	Path   string // as sent (escaped)
	Query  string
	Header map[string][]string // Authorization redacted
	Body   []byte
	Status int // answered status; 0 when the connection was dropped (SetDown)
}
