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
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
)

// Version is the program's version, set by main from its build flags.
var Version = "0.0.0-dev"

var (
	_ export.CHTSource   = (*cht.Client)(nil)
	_ export.DHIS2Target = (*dhis2.Client)(nil)
)

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
// cfg. It needs the CHT keys; with withDHIS2 it also needs the DHIS2 keys
// and can push, without it only preview.
func NewExportService(cfg config.Config, log *slog.Logger, withDHIS2 bool) (*export.Service, error) {
	if err := cfg.RequireCHT(); err != nil {
		return nil, err
	}
	chtClient, err := cht.New(cfg.CHT, upstreamClient(cfg.CHT.Timeout), log)
	if err != nil {
		return nil, fmt.Errorf("build CHT client: %w", err)
	}
	opts := export.Options{Locale: cfg.CHT.Locale, Logger: log}
	if withDHIS2 {
		if opts.DHIS2, err = NewDHIS2Client(cfg, log); err != nil {
			return nil, err
		}
	}
	return export.New(chtClient, opts)
}

// NewDHIS2Client builds the DHIS2 client from cfg.
func NewDHIS2Client(cfg config.Config, log *slog.Logger) (*dhis2.Client, error) {
	if err := cfg.RequireDHIS2(); err != nil {
		return nil, err
	}
	c, err := dhis2.New(cfg.DHIS2, upstreamClient(cfg.DHIS2.Timeout), log)
	if err != nil {
		return nil, fmt.Errorf("build DHIS2 client: %w", err)
	}
	return c, nil
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
