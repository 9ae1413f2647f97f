package httpapi

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
)

// With server.pull_cache_ttl, an identical pull within the ttl is answered
// from the kept result, with its orchestrations; a different pull, a pull
// after the ttl and a pull after a failed build build again.
func TestPullCache(t *testing.T) {
	var mu sync.Mutex
	fail := false
	exp := &fakeExporter{previewFn: func(ctx context.Context, r export.Request) (*export.Preview, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return nil, errors.New("cht: fetch settings: status 503")
		}
		return samplePreview(r), nil
	}}
	h, _ := testServer(t, exp, func(o *Options) { o.PullCacheTTL = time.Minute })
	srv := serverOf(t, h)
	now := time.Date(2024, 7, 2, 9, 0, 0, 0, time.UTC)
	srv.pulls.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	target := "/dataValueSets?dataSet=VMuFODsyWaO&period=202406"
	first := do(h, "GET", target, nil, nil)
	if first.Code != 200 {
		t.Fatalf("first pull = %d", first.Code)
	}
	advance(59 * time.Second)
	if rec := do(h, "GET", target, nil, nil); rec.Code != 200 || rec.Body.String() != first.Body.String() {
		t.Errorf("cached pull = %d %s; want the first answer", rec.Code, rec.Body)
	}
	if got := exp.previewCalls(); got != 1 {
		t.Errorf("Preview called %d times within the ttl; want 1", got)
	}
	do(h, "GET", target+"&orgUnit=ouDistrict1", nil, nil)
	if got := exp.previewCalls(); got != 2 {
		t.Errorf("Preview called %d times after a different pull; want 2", got)
	}
	advance(2 * time.Second)
	do(h, "GET", target, nil, nil)
	if got := exp.previewCalls(); got != 3 {
		t.Errorf("Preview called %d times after the ttl; want 3", got)
	}
	// A failed build is not kept.
	mu.Lock()
	fail = true
	mu.Unlock()
	advance(2 * time.Minute)
	if rec := do(h, "GET", target, nil, nil); rec.Code == 200 {
		t.Fatalf("pull with CHT down = 200")
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if rec := do(h, "GET", target, nil, nil); rec.Code != 200 {
		t.Errorf("pull after CHT is back = %d; want 200", rec.Code)
	}
	if got := exp.previewCalls(); got != 5 {
		t.Errorf("Preview called %d times; want 5 (the failure was not kept)", got)
	}
}

// Without server.pull_cache_ttl nothing is kept.
func TestPullCache_off(t *testing.T) {
	exp := &fakeExporter{previewFn: func(ctx context.Context, r export.Request) (*export.Preview, error) {
		return samplePreview(r), nil
	}}
	h, _ := testServer(t, exp, nil)
	for range 3 {
		do(h, "GET", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406", nil, nil)
	}
	if got := exp.previewCalls(); got != 3 {
		t.Errorf("Preview called %d times for 3 pulls without a cache; want 3", got)
	}
}
