package sandbox

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunAutoRetry(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	failing := `{"status":"Failed","response":{"status":409,"headers":{"Content-Type":"application/json"},"body":"{}","timestamp":"2025-01-10T09:15:01Z"},"error":{"message":"month not ready"}}`
	ok := `{"status":"Successful","response":{"status":200,"headers":{"Content-Type":"application/json"},"body":"{}","timestamp":"2025-01-10T09:15:01Z"}}`
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body := failing
		if calls.Add(1) >= 3 {
			body = ok
		}
		answer(http.StatusOK, "application/json+openhim", body)(w, r)
	})
	e.publicChannel("Export", "^/export$", u, func(c *Channel) {
		c.AutoRetryEnabled, c.AutoRetryPeriodMinutes, c.AutoRetryMaxAttempts = true, 10, ptr(5)
	})
	call(t, "GET", e.router.URL+"/export?period=202406", "")
	first := e.onlyTx()
	if !first.AutoRetry || first.Status != "Failed" {
		t.Fatalf("first transaction: autoRetry %v status %q; want flagged and Failed", first.AutoRetry, first.Status)
	}
	if got := e.s.RunAutoRetry(); len(got) != 0 {
		t.Fatalf("rerun %d transactions before autoRetryPeriodMinutes-1 passed; want none", len(got))
	}
	e.clock.Advance(9 * time.Minute)
	second := e.s.RunAutoRetry()
	if len(second) != 1 || second[0].ParentID != first.ID || second[0].AutoRetryAttempt != 1 || !second[0].AutoRetry ||
		second[0].Request.Querystring != "period=202406" {
		t.Fatalf("first retry = %+v; want a child of %s, attempt 1, flagged again, same query", second, first.ID)
	}
	if got := e.s.RunAutoRetry(); len(got) != 0 {
		t.Errorf("the first transaction was rerun twice")
	}
	e.clock.Advance(10 * time.Minute)
	third := e.s.RunAutoRetry()
	if len(third) != 1 || third[0].ParentID != second[0].ID || third[0].AutoRetryAttempt != 2 || third[0].Status != "Successful" || third[0].AutoRetry {
		t.Fatalf("second retry = %+v; want attempt 2, Successful, not flagged", third)
	}
	if p, _ := e.s.Transaction(first.ID); !p.WasRerun || len(p.ChildIDs) != 1 {
		t.Errorf("parent = %+v; want wasRerun and its child", p)
	}
	e.clock.Advance(time.Hour)
	if got := e.s.RunAutoRetry(); len(got) != 0 {
		t.Errorf("a successful transaction was retried")
	}
}

func TestRunAutoRetry_maxAttempts(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, answer(http.StatusOK, "application/json+openhim",
		`{"status":"Failed","response":{"status":409,"headers":{},"body":"{}","timestamp":"2025-01-10T09:15:01Z"},"error":{"message":"no"}}`))
	e.publicChannel("Export", "^/export$", u, func(c *Channel) {
		c.AutoRetryEnabled, c.AutoRetryPeriodMinutes, c.AutoRetryMaxAttempts = true, 1, ptr(1)
	})
	call(t, "GET", e.router.URL+"/export", "")
	retried := e.s.RunAutoRetry()
	if len(retried) != 1 || retried[0].AutoRetryAttempt != 1 || retried[0].AutoRetry {
		t.Fatalf("retry = %+v; want attempt 1, no longer flagged (max 1 reached)", retried)
	}
	if got := e.s.RunAutoRetry(); len(got) != 0 {
		t.Errorf("retried past autoRetryMaxAttempts")
	}
}
