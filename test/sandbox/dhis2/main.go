// Command dhis2 runs the in-memory DHIS2 sandbox (package sandbox) as an
// HTTP server, for end-to-end tests and `make demo`:
//
//	go run ./test/sandbox/dhis2 --addr 127.0.0.1:8090 --version 2.40 \
//	    --metadata FILE --username admin --password district [--token T]
//
// Without --metadata it serves the embedded testdata/metadata.json.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
)

//go:embed testdata/metadata.json
var defaultMetadata []byte

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("dhis2", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	version := fs.String("version", "2.40", "DHIS2 version to behave as (2.36 … 2.43, or full, e.g. 2.40.3)")
	metadataFile := fs.String("metadata", "", "metadata JSON file (default: the embedded testdata/metadata.json)")
	username := fs.String("username", "admin", "basic auth username")
	password := fs.String("password", "district", "basic auth password")
	token := fs.String("token", "", "personal access token (Authorization: ApiToken …), 2.38+")
	contextPath := fs.String("context-path", "", "path DHIS2 is served under, e.g. /dhis")
	asyncDelay := fs.Duration("async-delay", 200*time.Millisecond, "how long an async import job takes")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	raw := defaultMetadata
	if *metadataFile != "" {
		b, err := os.ReadFile(*metadataFile)
		if err != nil {
			log.Error("read metadata", "err", err)
			return 2
		}
		raw = b
	}
	md, err := sandbox.LoadMetadata(bytes.NewReader(raw))
	if err != nil {
		log.Error("load metadata", "file", *metadataFile, "err", err)
		return 2
	}
	srv, err := sandbox.New(sandbox.Options{
		Version: *version, Metadata: md, Username: *username, Password: *password, Token: *token,
		ContextPath: *contextPath, AsyncDelay: *asyncDelay, Logger: log.With("component", "dhis2-sandbox"),
	})
	if err != nil {
		log.Error("start sandbox", "err", err)
		return 2
	}
	defer srv.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "addr", *addr, "err", err)
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("DHIS2 sandbox listening", "url", fmt.Sprintf("http://%s%s/api", ln.Addr(), *contextPath),
		"version", srv.Version(), "username", *username, "token_auth", *token != "")

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
			return 1
		}
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			log.Error("shutdown", "err", err)
			return 1
		}
	}
	return 0
}
