// Command openhim runs the in-memory OpenHIM core sandbox (package sandbox):
// the core API and the HTTP router, for end-to-end tests and `make demo`.
//
//	go run ./test/sandbox/openhim --api-addr 127.0.0.1:8080 --router-addr 127.0.0.1:5001 \
//	    [--metadata channels.json]... [--root-user root@openhim.org --root-password openhim-password] \
//	    [--token-auth] [--router-timeout 60s] [--tls-cert cert.pem --tls-key key.pem] [--debug]
//
// Each --metadata file is imported as POST /metadata would import it; any
// item that is not Inserted or Updated stops the start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stderr)) }

// files is a repeatable string flag.
type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func run(parent context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("openhim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiAddr := fs.String("api-addr", "127.0.0.1:8080", "core API listen address")
	routerAddr := fs.String("router-addr", "127.0.0.1:5001", "HTTP router listen address")
	var metadata files
	fs.Var(&metadata, "metadata", "metadata JSON file to import at start (repeatable)")
	rootUser := fs.String("root-user", sandbox.DefaultRootUser, "root user email")
	rootPassword := fs.String("root-password", sandbox.DefaultRootPassword, "root user password")
	tokenAuth := fs.Bool("token-auth", false, "also accept the legacy token authentication on the API")
	routerTimeout := fs.Duration("router-timeout", sandbox.DefaultRouterTimeout, "route timeout for channels without one")
	tlsCert := fs.String("tls-cert", "", "serve the API over HTTPS with this certificate (PEM)")
	tlsKey := fs.String("tls-key", "", "key of --tls-cert (PEM)")
	debug := fs.Bool("debug", false, "log every API request")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(stderr, "--tls-cert and --tls-key go together")
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := sandbox.New(sandbox.Options{
		RootUser: *rootUser, RootPassword: *rootPassword, TokenAuth: *tokenAuth,
		RouterTimeout: *routerTimeout, Logger: log.With("component", "openhim-sandbox"),
	})
	if err != nil {
		log.Error("start sandbox", "err", err)
		return 2
	}
	for _, file := range metadata {
		if err := importFile(srv, file); err != nil {
			log.Error("import metadata", "file", file, "err", err)
			return 2
		}
		log.Info("metadata imported", "file", file)
	}

	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()

	apiLn, err := net.Listen("tcp", *apiAddr)
	if err != nil {
		log.Error("listen", "addr", *apiAddr, "err", err)
		return 1
	}
	routerLn, err := net.Listen("tcp", *routerAddr)
	if err != nil {
		apiLn.Close()
		log.Error("listen", "addr", *routerAddr, "err", err)
		return 1
	}
	apiSrv := &http.Server{Handler: srv.APIHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	routerSrv := &http.Server{Handler: srv.RouterHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 2)
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
		go func() { errc <- apiSrv.ServeTLS(apiLn, *tlsCert, *tlsKey) }()
	} else {
		go func() { errc <- apiSrv.Serve(apiLn) }()
	}
	go func() { errc <- routerSrv.Serve(routerLn) }()
	log.Info("OpenHIM sandbox listening",
		"api_url", fmt.Sprintf("%s://%s", scheme, apiLn.Addr()),
		"router_url", fmt.Sprintf("http://%s", routerLn.Addr()),
		"root_user", *rootUser, "token_auth", *tokenAuth)

	code := 0
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
			code = 1
		}
	case <-ctx.Done():
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, hs := range []*http.Server{apiSrv, routerSrv} {
		if err := hs.Shutdown(sctx); err != nil {
			log.Error("shutdown", "err", err)
			code = 1
		}
	}
	return code
}

func importFile(srv *sandbox.Server, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	results, err := srv.ImportMetadata(b)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range results {
		if r.Status != "Inserted" && r.Status != "Updated" {
			errs = append(errs, fmt.Errorf("%s %v: %s %s", r.Model, r.UID, r.Status, r.Message))
		}
	}
	return errors.Join(errs...)
}
