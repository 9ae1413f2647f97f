// Package app builds the mediator from its configuration: the upstream HTTP
// clients, the CHT and DHIS2 clients and the export service. It is the only
// package that knows every other one; main and the end-to-end tests use it.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
)

// Version is the program's version, set by main from its build flags.
var Version = "0.0.0-dev"

var _ export.CHTSource = (*cht.Client)(nil)

// upstreamClient returns an http.Client for one upstream with its own
// connection pool and timeouts. timeout bounds a whole request.
func upstreamClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// NewExportService builds the export service and the clients it needs from
// cfg. It needs the CHT keys only.
func NewExportService(cfg config.Config, log *slog.Logger) (*export.Service, error) {
	if err := cfg.RequireCHT(); err != nil {
		return nil, err
	}
	chtClient, err := cht.New(cfg.CHT, upstreamClient(cfg.CHT.Timeout), log)
	if err != nil {
		return nil, fmt.Errorf("build CHT client: %w", err)
	}
	return export.New(chtClient, export.Options{Locale: cfg.CHT.Locale, Logger: log})
}

// NewLogger builds the program's logger from the log section.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
