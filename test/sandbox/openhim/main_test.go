package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRun_badArguments(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"Channels":[{"name":"no pattern"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
		{[]string{"--metadata", filepath.Join(dir, "missing.json")}, "import metadata"},
		{[]string{"--metadata", bad}, "Path `urlPattern` is required."},
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
	}
	for _, tt := range tests {
		var stderr syncBuffer
		if code := run(context.Background(), tt.args, &stderr); code != 2 {
			t.Errorf("run(%v) = %d; want 2", tt.args, code)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("run(%v) logged %q; want it to contain %q", tt.args, stderr.String(), tt.want)
		}
	}
}

func TestRun_servesAndStops(t *testing.T) {
	dir := t.TempDir()
	meta := filepath.Join(dir, "channels.json")
	if err := os.WriteFile(meta, []byte(`{"Channels":[{"name":"Export","urlPattern":"^/export$","methods":["GET"],
		"authType":"public","routes":[{"name":"m","host":"127.0.0.1","port":1,"primary":true}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--api-addr", "127.0.0.1:0", "--router-addr", "127.0.0.1:0", "--metadata", meta}, &stderr)
	}()
	re := regexp.MustCompile(`api_url=(\S+) router_url=(\S+)`)
	var m []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m = re.FindStringSubmatch(stderr.String()); m != nil {
			break
		}
	}
	if m == nil {
		t.Fatalf("no listening line in %q", stderr.String())
	}
	res, err := http.Get(m[1] + "/heartbeat")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /heartbeat: %v %v", err, res)
	}
	res.Body.Close()
	res, err = http.Get(m[2] + "/export")
	if err != nil || res.StatusCode != 500 { // the imported channel's route is down
		t.Fatalf("GET router /export: %v %v", err, res)
	}
	res.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run = %d; want 0\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}
