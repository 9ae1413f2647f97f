package export

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/testutil"
)

// A read that takes long reports, at info level, how far it got: the org
// unit contacts already read while the target docs are still coming.
func TestPreview_progressWhileReading(t *testing.T) {
	src := specExample()
	src.gate = make(chan struct{})
	logs := &testutil.SyncBuffer{}
	s, err := New(src, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.progressEvery = 10 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		_, err := s.Preview(context.Background(), Request{DataSet: "dsMonthly01", Period: june(t)})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	var line map[string]any
	for line == nil && time.Now().Before(deadline) {
		for _, l := range logs.Lines(t) {
			if l["msg"] == "reading CHT" && l["org_unit_contacts"] == float64(2) {
				line = l
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(src.gate)
	if err := <-done; err != nil {
		t.Fatalf("Preview = %v", err)
	}
	if line == nil {
		t.Fatalf("no progress line with the 2 contacts read; logs:\n%s", logs)
	}
	if line["level"] != "INFO" || line["data_set"] != "dsMonthly01" || line["period"] != "202406" || line["target_docs"] != float64(0) {
		t.Errorf("progress line = %v", line)
	}
	if _, ok := line["elapsed"]; !ok {
		t.Errorf("progress line has no elapsed: %v", line)
	}
	// The reporter stops with the read: no line after Preview returned.
	n := len(logs.Lines(t))
	time.Sleep(50 * time.Millisecond)
	if got := len(logs.Lines(t)); got != n {
		t.Errorf("%d log lines after the read ended; want none", got-n)
	}
}
