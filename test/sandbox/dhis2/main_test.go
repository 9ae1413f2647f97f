package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun_badArguments(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--version", "1.0"}, "start sandbox"},
		{[]string{"--metadata", "does-not-exist.json"}, "read metadata"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if code := run(tt.args, &stderr); code != 2 {
			t.Errorf("run(%v) = %d; want 2", tt.args, code)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("run(%v) logged %q; want it to contain %q", tt.args, stderr.String(), tt.want)
		}
	}
}
