package couchsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// StatsPath is where a served source answers its Stats as JSON, so that a
// benchmark in another process can count the reads of each preview. It is
// not a CouchDB path (no database is named _bench).
const StatsPath = "/_bench/stats"

// The credentials a served source asks for: like CHT's CouchDB
// (require_valid_user), every request but StatsPath must carry them as
// basic auth, else 401 with CouchDB's body.
const (
	BenchUser     = "medic"
	BenchPassword = "bench-password"
)

// Serve generates the data of opts, listens on addr (host:port; port 0
// picks a free one), calls ready with the base URL (http://host:port) once
// it accepts connections, and serves the data to BenchUser (and Stats on
// StatsPath to anyone) until ctx ends.
func Serve(ctx context.Context, opts Options, addr string, ready func(url string)) error {
	d, err := New(opts)
	if err != nil {
		return err
	}
	h := NewHandler(d)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StatsPath, h.ServeStats)
	h.RequireUser(BenchUser, BenchPassword)
	mux.Handle("/", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("couchsource: listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	ready("http://" + ln.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("couchsource: serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("couchsource: shutdown: %w", err)
	}
	return nil
}
