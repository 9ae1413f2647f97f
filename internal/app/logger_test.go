package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		format string
		check  func(t *testing.T, line string)
	}{
		// A buffer is not a terminal: auto writes JSON.
		{"auto", func(t *testing.T, line string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("auto to a non-terminal: %q is not JSON", line)
			}
			if m["elapsed"] != "1m30s" {
				t.Errorf("elapsed = %v; want the duration with its unit, 1m30s", m["elapsed"])
			}
		}},
		{"json", func(t *testing.T, line string) {
			if !strings.Contains(line, `"elapsed":"1m30s"`) {
				t.Errorf("json line %q; want \"elapsed\":\"1m30s\"", line)
			}
		}},
		{"text", func(t *testing.T, line string) {
			if !strings.HasPrefix(line, "time=") || !strings.Contains(line, "level=INFO msg=\"reading CHT\" elapsed=1m30s") {
				t.Errorf("text line %q", line)
			}
			if tm, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " "); len(tm) != len("15:04:05") {
				t.Errorf("text time %q; want the time of day", tm)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			NewLogger(config.Log{Level: "info", Format: tt.format}, &buf, nil).Info("reading CHT", "elapsed", 90*time.Second)
			NewLogger(config.Log{Level: "info", Format: tt.format}, &buf, nil).Debug("hidden at info")
			line := strings.TrimSpace(buf.String())
			if strings.Contains(line, "\n") || strings.Contains(line, "hidden") {
				t.Fatalf("want one info line, got %q", line)
			}
			tt.check(t, line)
		})
	}
}
