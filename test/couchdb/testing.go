package couchdb

import (
	"context"
	"testing"
)

// StartT starts a server for a test and stops it in t.Cleanup. It fails the
// test when the server cannot start; callers decide about testing.Short
// themselves. From TestMain, use Start and Stop.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start pouchdb-server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop pouchdb-server: %v", err)
		}
	})
	return s
}
