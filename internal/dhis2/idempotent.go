package dhis2

import (
	"errors"
	"net/http"
	"strings"
)

// markIdempotent marks a data value push with importStrategy
// CREATE_AND_UPDATE or DELETE, and a completeness registration, as
// idempotent, so that the upstream's retry transport
// (internal/retry) may send it again: sending the same values twice stores
// them once, with the same result. The mark is net/http's own convention:
// an Idempotency-Key header with a nil value, which is never sent.
func markIdempotent(req *http.Request) {
	if req.Method != http.MethodPost {
		return
	}
	p := strings.TrimSuffix(req.URL.Path, ".json")
	switch st := req.URL.Query().Get("importStrategy"); {
	case strings.HasSuffix(p, "/dataValueSets") && (st == "CREATE_AND_UPDATE" || st == "DELETE"),
		// Registering complete twice updates the same registration.
		strings.HasSuffix(p, "/completeDataSetRegistrations"):
		req.Header["Idempotency-Key"] = nil
	}
}

// notSent reports whether err says its request never left the mediator:
// an open circuit breaker refused it (internal/breaker's error has a
// NotSent() bool method; this package may not import that one). Then the
// chunk was not written, rather than of unknown outcome.
func notSent(err error) bool {
	var ns interface{ NotSent() bool }
	return errors.As(err, &ns) && ns.NotSent()
}
