package couchdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// DefaultStartTimeout bounds Start when ctx has no deadline.
const DefaultStartTimeout = 30 * time.Second

// pollAttemptTimeout bounds one readiness request.
const pollAttemptTimeout = 2 * time.Second

// binPath is the pouchdb-server script inside node_modules.
var binPath = filepath.Join("pouchdb-server", "bin", "pouchdb-server")

// Options configure Start. The zero value is usable.
type Options struct {
	// NodeModules is the node_modules directory holding pouchdb-server.
	// Default: the first test/node_modules found walking up from the
	// working directory (stopping at the module root, the directory with
	// go.mod).
	NodeModules string
	// Node is the node executable. Default: "node" from PATH.
	Node string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// AdminUser and AdminPassword, when set, end pouchdb-server's "admin
	// party": the user becomes a server admin, and every database made with
	// Server.CreateDB gets a _security object listing the user as its only
	// member, so anonymous and wrong-password requests to it get 401 (see
	// Server.CreateDB for what pouchdb-server does not enforce).
	AdminUser, AdminPassword string
	// Log receives the server's stdout and stderr (one line per request);
	// nil discards it.
	Log io.Writer
}

// Server is a running pouchdb-server. Its methods are safe for concurrent
// use.
type Server struct {
	*Client
	port  int
	admin string
	dir   string
	cmd   *exec.Cmd
	// watchdog is the write end of the process's stdin: when this process
	// dies, the pipe closes and the node process exits (see watchdogJS).
	watchdog *os.File
	exited   chan struct{}
	waitErr  error
	tail     *tailBuffer

	stopOnce sync.Once
	stopErr  error
}

// watchdogJS is preloaded into node with --require: the server exits when
// its stdin closes, so a test binary killed without running Stop leaves no
// orphan server behind.
const watchdogJS = `// Written by the Go package test/couchdb: exit when the Go process that
// started this server closes our stdin (it exited or called Stop).
process.stdin.on('end', function () { process.exit(0); });
process.stdin.on('error', function () { process.exit(0); });
process.stdin.resume();
// Do not keep node alive for stdin alone: if the server fails to listen it
// must exit.
if (typeof process.stdin.unref === 'function') { process.stdin.unref(); }
`

// Start runs `node pouchdb-server --in-memory --host 127.0.0.1 --port P
// --no-color --config <tmp>/config.json` from a fresh temporary directory and
// returns once GET / answers (and, with AdminUser set, once PUT
// /_config/admins/<user> is in force: GET /_session with the credentials
// shows role _admin). ctx bounds start-up only (DefaultStartTimeout when
// it has no deadline); the server runs until Stop. On failure the process
// group is killed and the error includes the end of the server's output.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if (opts.AdminUser == "") != (opts.AdminPassword == "") {
		return nil, errors.New("couchdb: start: AdminUser and AdminPassword must be set together")
	}
	nm := opts.NodeModules
	if nm == "" {
		var err error
		if nm, err = FindNodeModules(""); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(nm, binPath)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("couchdb: pouchdb-server is not installed (%s missing): run `make test` or `cd test && npm ci`", bin)
	}
	node := opts.Node
	if node == "" {
		node = "node"
	}
	nodePath, err := exec.LookPath(node)
	if err != nil {
		return nil, fmt.Errorf("couchdb: node (Node.js) is needed to run pouchdb-server: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}

	// A free port can be taken by someone else between our probe and the
	// server's listen; then the server exits at once and we try another.
	const attempts = 3
	var lastErr error
	for range attempts {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		s, err := start(ctx, nodePath, bin, port, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if opts.Port != 0 || ctx.Err() != nil || !errors.Is(err, errExited) {
			break
		}
	}
	return nil, lastErr
}

var errExited = errors.New("pouchdb-server exited")

func start(ctx context.Context, nodePath, bin string, port int, opts Options) (_ *Server, err error) {
	dir, err := os.MkdirTemp("", "pouchdb-server-")
	if err != nil {
		return nil, fmt.Errorf("couchdb: start: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	wd := filepath.Join(dir, "watchdog.js")
	if err := os.WriteFile(wd, []byte(watchdogJS), 0o600); err != nil {
		return nil, fmt.Errorf("couchdb: start: %w", err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("couchdb: start: %w", err)
	}

	tail := &tailBuffer{max: 4096}
	var out io.Writer = tail
	if opts.Log != nil {
		out = io.MultiWriter(tail, opts.Log)
	}
	cmd := exec.Command(nodePath, "--require", wd, bin,
		"--in-memory", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--no-color",
		"--config", filepath.Join(dir, "config.json"))
	cmd.Dir = dir
	cmd.Stdin = stdinR
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return nil, fmt.Errorf("couchdb: start %s: %w", bin, err)
	}
	_ = stdinR.Close() // the child has its own copy

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	s := &Server{
		port:     port,
		admin:    opts.AdminUser,
		dir:      dir,
		cmd:      cmd,
		watchdog: stdinW,
		exited:   make(chan struct{}),
		tail:     tail,
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	defer func() {
		if err != nil {
			s.kill()
			err = fmt.Errorf("%w\npouchdb-server output:\n%s", err, tail.String())
		}
	}()

	anon, _ := NewClient(base, "", "")
	if err := s.waitReady(ctx, anon); err != nil {
		return nil, err
	}
	if opts.AdminUser != "" {
		if err := s.setAdmin(ctx, anon, opts.AdminUser, opts.AdminPassword); err != nil {
			return nil, err
		}
	}
	s.Client, _ = NewClient(base, opts.AdminUser, opts.AdminPassword)
	return s, nil
}

// waitReady polls GET / until pouchdb-server answers with its welcome.
func (s *Server) waitReady(ctx context.Context, c *Client) error {
	return s.poll(ctx, "wait for GET /", func(ctx context.Context) error {
		var root struct {
			Welcome string `json:"express-pouchdb"`
		}
		if err := c.Do(ctx, http.MethodGet, "/", nil, &root); err != nil {
			return err
		}
		if root.Welcome == "" {
			return errors.New("GET / answered, but not as pouchdb-server")
		}
		return nil
	})
}

// setAdmin creates the server admin (ending the admin party) and waits until
// the credentials are accepted: pouchdb-server applies config changes
// asynchronously.
func (s *Server) setAdmin(ctx context.Context, anon *Client, user, password string) error {
	if err := anon.Do(ctx, http.MethodPut, "/_config/admins/"+url.PathEscape(user), password, nil); err != nil {
		return fmt.Errorf("couchdb: create admin %s: %w", user, err)
	}
	admin, _ := NewClient(anon.URL(), user, password)
	return s.poll(ctx, "wait for admin "+user, func(ctx context.Context) error {
		var sess struct {
			UserCtx struct {
				Name  string   `json:"name"`
				Roles []string `json:"roles"`
			} `json:"userCtx"`
		}
		if err := admin.Do(ctx, http.MethodGet, "/_session", nil, &sess); err != nil {
			return err
		}
		for _, r := range sess.UserCtx.Roles {
			if r == "_admin" {
				return nil
			}
		}
		return fmt.Errorf("session of %s has roles %v, want _admin", user, sess.UserCtx.Roles)
	})
}

// poll calls f until it succeeds, the process exits or ctx ends. Each call
// gets at most pollAttemptTimeout.
func (s *Server) poll(ctx context.Context, what string, f func(context.Context) error) error {
	delay := 20 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, pollAttemptTimeout)
		go func() { // a request to a port someone else holds may hang
			select {
			case <-s.exited:
				cancel()
			case <-actx.Done():
			}
		}()
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-s.exited:
			t.Stop()
			return fmt.Errorf("couchdb: %s: %w (%v)", what, errExited, s.waitErr)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("couchdb: %s: %w (last error: %v)", what, context.Cause(ctx), err)
		case <-t.C:
		}
		delay = min(delay*2, 250*time.Millisecond)
	}
}

// URL returns http://127.0.0.1:<port>, without credentials.
func (s *Server) URL() string { return s.Client.URL() }

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// CreateDB creates database name. With Options.AdminUser set it also puts a
// _security object naming that user (and role _admin) as the only member,
// which is how pouchdb-server is made to refuse anonymous reads as CHT's
// CouchDB does with require_valid_user = true (pouchdb-server has no
// require_valid_user: GET /, GET /_session, GET /_all_dbs and GET of absent
// databases stay anonymous).
func (s *Server) CreateDB(ctx context.Context, name string) error {
	if err := s.Client.CreateDB(ctx, name); err != nil {
		return err
	}
	if s.admin == "" {
		return nil
	}
	return s.PutSecurity(ctx, name, Security{
		Members: Members{Names: []string{s.admin}, Roles: []string{"_admin"}},
	})
}

// Stop kills the server's process group, waits for it and removes its
// working directory. It is idempotent: later calls return the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.kill()
		s.stopErr = os.RemoveAll(s.dir)
		if s.stopErr != nil {
			s.stopErr = fmt.Errorf("couchdb: stop: %w", s.stopErr)
		}
	})
	return s.stopErr
}

// kill ends the process group and waits for the process.
func (s *Server) kill() {
	select {
	case <-s.exited:
	default:
		killProcessGroup(s.cmd)
		<-s.exited
	}
	_ = s.watchdog.Close()
}

// Output returns the last few KiB of the server's output, for failure
// messages.
func (s *Server) Output() string { return s.tail.String() }

// FindNodeModules walks up from dir (the working directory when empty) to
// the module root (the directory holding go.mod) looking for
// test/node_modules/pouchdb-server, and returns that node_modules directory.
func FindNodeModules(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return "", fmt.Errorf("couchdb: find node_modules: %w", err)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("couchdb: find node_modules: %w", err)
	}
	start := dir
	for {
		nm := filepath.Join(dir, "test", "node_modules")
		if _, err := os.Stat(filepath.Join(nm, binPath)); err == nil {
			return nm, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", fmt.Errorf("couchdb: pouchdb-server is not installed (%s missing): run `make test` or `cd test && npm ci`",
				filepath.Join(nm, binPath))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("couchdb: no test/node_modules above %s: run `make test` or `cd test && npm ci` in the repository", start)
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("couchdb: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.TrimSpace(b.buf))
}
