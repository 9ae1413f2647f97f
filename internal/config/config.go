// Package config holds the mediator's configuration schema, its defaults, and
// the loading and validation of a configuration from a YAML file, environment
// variables and command-line overrides.
//
// Precedence, lowest first: Default() < file < environment (MEDIATOR_<KEY>) <
// flags < config pushed from the OpenHIM console (applied with ApplyConsole).
package config

import (
	"time"
)

// Config is the whole configuration. Keys are snake_case in YAML; the
// environment variable of a key is MEDIATOR_ + the key upper-cased with "." →
// "_" (cht.url → MEDIATOR_CHT_URL).
type Config struct {
	Server  Server  `mapstructure:"server" json:"server"`
	CHT     CHT     `mapstructure:"cht" json:"cht"`
	DHIS2   DHIS2   `mapstructure:"dhis2" json:"dhis2"`
	OpenHIM OpenHIM `mapstructure:"openhim" json:"openhim"`
	Export  Export  `mapstructure:"export" json:"export"`
	Log     Log     `mapstructure:"log" json:"log"`
}

// Export is how exports decide to push.
type Export struct {
	// MinReady is the readiness gate: the share of expected CHWs (0-1) that
	// must have synced a month since it ended before an export pushes it.
	// 1 (the default) waits for every CHW; 0 pushes whoever has synced.
	MinReady float64 `mapstructure:"min_ready" json:"min_ready" validate:"gte=0,lte=1"`
}

// Server is the mediator's own HTTP server.
type Server struct {
	// Addr is the listen address.
	Addr string `mapstructure:"addr" json:"addr" validate:"required,listen_addr"`
	// Username and Password, when set, are the basic auth credentials that
	// callers (OpenHIM routes) must send.
	Username string `mapstructure:"username" json:"username" validate:"required_with=Password"`
	Password Secret `mapstructure:"password" json:"password" validate:"required_with=Username"`
	// ReadTimeout, WriteTimeout and IdleTimeout bound inbound connections.
	ReadTimeout  time.Duration `mapstructure:"read_timeout" json:"read_timeout" validate:"gt=0"`
	WriteTimeout time.Duration `mapstructure:"write_timeout" json:"write_timeout" validate:"gt=0"`
	IdleTimeout  time.Duration `mapstructure:"idle_timeout" json:"idle_timeout" validate:"gt=0"`
	// ShutdownTimeout bounds how long a running export may take to finish
	// when the mediator is stopped.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout" json:"shutdown_timeout" validate:"gt=0"`
	// PullCacheTTL, when positive, keeps a built /dataValueSets answer this
	// long and serves identical pulls from it; zero (the default) builds
	// every pull (identical concurrent pulls still share one build).
	PullCacheTTL time.Duration `mapstructure:"pull_cache_ttl" json:"pull_cache_ttl" validate:"gte=0"`
	// MetricsAuth, when true (the default), makes GET /metrics ask for the
	// server's basic auth credentials like the API does (when they are
	// set); false serves it to any scraper that can reach the port.
	MetricsAuth bool `mapstructure:"metrics_auth" json:"metrics_auth"`
}

// CHT is the Community Health Toolkit instance (or its CouchDB) to read from.
type CHT struct {
	// URL is the base URL of the CHT instance or of its CouchDB, without the
	// database: https://cht.example.org or http://localhost:5984.
	URL      string `mapstructure:"url" json:"url" validate:"omitempty,http_url"`
	Username string `mapstructure:"username" json:"username"`
	Password Secret `mapstructure:"password" json:"password"`
	// Database is the CHT database, medic on every CHT instance.
	Database string `mapstructure:"database" json:"database" validate:"required,couchdb_name"`
	// Timeout bounds one HTTP request to CHT (one page, one batch).
	Timeout time.Duration `mapstructure:"timeout" json:"timeout" validate:"gt=0"`
	// PageSize is the number of rows asked for per _all_docs or view page.
	PageSize int `mapstructure:"page_size" json:"page_size" validate:"min=1,max=10000"`
	// BatchSize is the number of owner ids fetched per _all_docs keys request.
	BatchSize int `mapstructure:"batch_size" json:"batch_size" validate:"min=1,max=10000"`
	// Concurrency bounds the concurrent reads of one build: owner batches
	// fetched at once, and target-doc id ranges read at once.
	Concurrency int `mapstructure:"concurrency" json:"concurrency" validate:"min=1,max=64"`
	// Locale selects the translations document (messages-<locale>) used to
	// label data sets in human-readable previews.
	Locale string `mapstructure:"locale" json:"locale" validate:"required,max=20"`
	// Breaker and Retry protect calls to CHT.
	Breaker Breaker `mapstructure:"breaker" json:"breaker"`
	Retry   Retry   `mapstructure:"retry" json:"retry"`
}

// Breaker is the circuit breaker of one upstream: after Failures consecutive
// failures (5xx, timeouts, connection errors) it opens and fails every call
// at once for OpenFor, then lets HalfOpenRequests probes through; their
// success closes it.
type Breaker struct {
	Failures         int           `mapstructure:"failures" json:"failures" validate:"min=1,max=1000"`
	OpenFor          time.Duration `mapstructure:"open_for" json:"open_for" validate:"gt=0"`
	HalfOpenRequests int           `mapstructure:"half_open_requests" json:"half_open_requests" validate:"min=1,max=100"`
}

// Retry is the retry policy of one upstream's idempotent calls: up to
// Attempts tries in all, with jittered exponential backoff from
// InitialBackoff up to MaxBackoff, and never past Budget after the first try.
type Retry struct {
	Attempts       int           `mapstructure:"attempts" json:"attempts" validate:"min=1,max=10"`
	InitialBackoff time.Duration `mapstructure:"initial_backoff" json:"initial_backoff" validate:"gt=0"`
	MaxBackoff     time.Duration `mapstructure:"max_backoff" json:"max_backoff" validate:"gt=0"`
	Budget         time.Duration `mapstructure:"budget" json:"budget" validate:"gte=0"`
}

// DHIS2 is the DHIS2 instance to push to.
type DHIS2 struct {
	// URL is the DHIS2 base URL, the part before /api:
	// https://dhis2.example.org or https://example.org/dhis.
	URL      string `mapstructure:"url" json:"url" validate:"omitempty,http_url"`
	Username string `mapstructure:"username" json:"username"`
	Password Secret `mapstructure:"password" json:"password"`
	// Token is a personal access token, sent as "Authorization: ApiToken …".
	// When set it is used instead of Username and Password.
	Token Secret `mapstructure:"token" json:"token"`
	// Timeout bounds one HTTP request to DHIS2.
	Timeout time.Duration `mapstructure:"timeout" json:"timeout" validate:"gt=0"`
	// ChunkSize is the number of data values sent per POST /api/dataValueSets.
	ChunkSize int `mapstructure:"chunk_size" json:"chunk_size" validate:"min=1,max=100000"`
	// MetadataCacheTTL is how long data set metadata is reused between exports.
	MetadataCacheTTL time.Duration `mapstructure:"metadata_cache_ttl" json:"metadata_cache_ttl" validate:"gte=0"`
	// Async makes pushes use DHIS2's asynchronous import, polled to completion.
	Async bool `mapstructure:"async" json:"async"`
	// AsyncPollInterval is the wait between two polls of an async import task.
	AsyncPollInterval time.Duration `mapstructure:"async_poll_interval" json:"async_poll_interval" validate:"gt=0"`
	// CompleteRegistration says when an export registers the data set as
	// complete for each org unit: "never", "when_ready" (every value
	// accepted and the month ready) or "always" (every org unit whose
	// values were all accepted).
	CompleteRegistration string `mapstructure:"complete_registration" json:"complete_registration" validate:"oneof=never when_ready always"`
	// DeleteStale deletes values the mediator stored earlier and no longer
	// produces.
	DeleteStale bool `mapstructure:"delete_stale" json:"delete_stale"`
	// OverwriteOthers lets CHT's numbers replace values stored in DHIS2 by
	// another user.
	OverwriteOthers bool `mapstructure:"overwrite_others" json:"overwrite_others"`
	// Breaker and Retry protect calls to DHIS2.
	Breaker Breaker `mapstructure:"breaker" json:"breaker"`
	Retry   Retry   `mapstructure:"retry" json:"retry"`
}

// OpenHIM is the OpenHIM core API the mediator registers with.
type OpenHIM struct {
	URL      string `mapstructure:"url" json:"url" validate:"required,http_url"`
	Username string `mapstructure:"username" json:"username" validate:"required"`
	Password Secret `mapstructure:"password" json:"password"`
	// Register turns registration and heartbeats on.
	Register bool `mapstructure:"register" json:"register"`
	// Auth is "basic" (default) or "token", the legacy token scheme of
	// cores before 8.
	Auth string `mapstructure:"auth" json:"auth" validate:"oneof=basic token"`
	// TLSCAFile is a PEM file of extra CAs trusted for core's certificate.
	TLSCAFile string `mapstructure:"tls_ca_file" json:"tls_ca_file" validate:"omitempty,file"`
	// TLSInsecureSkipVerify disables certificate verification. Only for core's
	// self-signed certificate on a test deployment.
	TLSInsecureSkipVerify bool `mapstructure:"tls_insecure_skip_verify" json:"tls_insecure_skip_verify"`
	// HeartbeatInterval is the time between two heartbeats.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval" json:"heartbeat_interval" validate:"gt=0"`
	// Timeout bounds one HTTP request to OpenHIM core.
	Timeout time.Duration `mapstructure:"timeout" json:"timeout" validate:"gt=0"`
	// OrchestrationBodyLimit is the number of bytes of each request and
	// response body kept in an orchestration; the rest is cut.
	OrchestrationBodyLimit int `mapstructure:"orchestration_body_limit" json:"orchestration_body_limit" validate:"min=0,max=10485760"`
	// Breaker protects calls to core.
	Breaker Breaker `mapstructure:"breaker" json:"breaker"`
}

// Log is the logging setup.
type Log struct {
	Level string `mapstructure:"level" json:"level" validate:"oneof=debug info warn error"`
	// Format is "json" (one JSON object per line, for log collectors),
	// "text" (for people) or "auto": text on a terminal, JSON otherwise.
	Format string `mapstructure:"format" json:"format" validate:"oneof=auto json text"`
}

var (
	defaultBreaker = Breaker{Failures: 5, OpenFor: 30 * time.Second, HalfOpenRequests: 1}
	defaultRetry   = Retry{Attempts: 3, InitialBackoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second, Budget: 30 * time.Second}
)

// Default returns the configuration used for every key that is not set.
func Default() Config {
	return Config{
		Server: Server{
			Addr:            ":8544",
			ReadTimeout:     30 * time.Second,
			WriteTimeout:    10 * time.Minute,
			IdleTimeout:     2 * time.Minute,
			ShutdownTimeout: 2 * time.Minute,
			MetricsAuth:     true,
		},
		CHT: CHT{
			Database:    "medic",
			Timeout:     60 * time.Second,
			PageSize:    1000,
			BatchSize:   500,
			Concurrency: 4,
			Locale:      "en",
			Breaker:     defaultBreaker,
			Retry:       defaultRetry,
		},
		DHIS2: DHIS2{
			Timeout:              2 * time.Minute,
			ChunkSize:            5000,
			MetadataCacheTTL:     10 * time.Minute,
			AsyncPollInterval:    2 * time.Second,
			CompleteRegistration: "when_ready",
			DeleteStale:          true,
			Breaker:              defaultBreaker,
			Retry:                defaultRetry,
		},
		OpenHIM: OpenHIM{
			URL:                    "https://localhost:8080",
			Username:               "root@openhim.org",
			Register:               true,
			Auth:                   "basic",
			HeartbeatInterval:      10 * time.Second,
			Timeout:                30 * time.Second,
			OrchestrationBodyLimit: 16384,
			Breaker:                defaultBreaker,
		},
		Export: Export{MinReady: 1},
		Log:    Log{Level: "info", Format: "auto"},
	}
}
