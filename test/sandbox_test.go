package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/stack"
)

// TestSandbox_byHand does what "make sandbox" tells a newcomer to do: it
// takes the MEDIATOR_* exports and the commands from the printed
// instructions and runs them, as printed, against the live sandboxes; then
// serves and sends the printed export through the OpenHIM router, and
// checks what the DHIS2 sandbox stored.
func TestSandbox_byHand(t *testing.T) {
	requireServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{Root: "..", Today: time.Now(), MediatorAddr: closedPort(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	text := st.Instructions("bin/mediator")

	var env []string
	var commands [][]string
	var curl string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "export MEDIATOR_"):
			kv := strings.TrimPrefix(line, "export ")
			k, v, _ := strings.Cut(kv, "=")
			env = append(env, k+"="+strings.Trim(v, "'"))
		case strings.HasPrefix(line, "bin/mediator "):
			commands = append(commands, strings.Fields(strings.TrimPrefix(line, "bin/mediator ")))
		case strings.HasPrefix(line, "curl "):
			curl = line
		}
	}
	if len(env) < 9 || len(commands) != 4 || curl == "" {
		t.Fatalf("instructions without 9 exports, 4 commands and a curl:\n%s", text)
	}
	for _, args := range commands {
		code, stdout, stderr := run(t, env, args...)
		if code != 0 {
			t.Errorf("mediator %v: exit %d\n%s", args, code, stderr)
			continue
		}
		switch args[0] {
		case "check":
			if !strings.Contains(stdout, "every check passed") {
				t.Errorf("check: %s", stdout)
			}
		case "readiness":
			if !strings.Contains(stdout, "Ready: 100% of the expected CHWs have synced the month") {
				t.Errorf("readiness: %s", stdout)
			}
		case "preview":
			var set export.DataValueSet
			if err := json.Unmarshal([]byte(stdout), &set); err != nil || len(set.DataValues) == 0 {
				t.Errorf("preview: %v, %d values", err, len(set.DataValues))
			}
		case "export":
			// A dry run prints the table of changes for people.
			if !strings.Contains(stdout, "Dry run of data set") || !strings.Contains(stdout, "Status:  "+export.StatusSuccessful) ||
				!strings.Contains(stdout, "Changes: ") {
				t.Errorf("export --dry-run: want the table of changes, Successful:\n%s", stdout)
			}
		}
	}
	if n := len(st.DHIS2.Stored()); n != 0 {
		t.Fatalf("DHIS2 stored %d values after a dry run; want 0", n)
	}

	// "run bin/mediator serve, then curl …"
	cmd := exec.Command(mediator, "serve")
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "GORACE=atexit_sleep_ms=0"}, env...), "MEDIATOR_OPENHIM_HEARTBEAT_INTERVAL=200ms")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	if _, err := st.WaitRegistered(ctx, time.Minute); err != nil {
		t.Fatalf("%v; mediator log:\n%s", err, logs.String())
	}
	u := curl[strings.Index(curl, "'")+1 : strings.LastIndex(curl, "'")]
	path := strings.TrimPrefix(u, st.RouterURL)
	status, body, err := st.Call(ctx, http.MethodPost, path)
	if err != nil || status != http.StatusOK {
		t.Fatalf("POST %s through OpenHIM: %d %v\n%s", path, status, err, body)
	}
	if n := len(st.DHIS2.Stored()); n == 0 {
		t.Errorf("DHIS2 stored nothing after the export through OpenHIM: %s", body)
	}
}
