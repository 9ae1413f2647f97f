package cht

import (
	"net/http"
	"strings"
)

// markIdempotent marks a POST that only reads as idempotent, so that the
// upstream's retry transport (internal/retry) may send it again, as it does
// GETs: POST /{db}/_all_docs with {"keys": […]} (CouchDB's fetch of many
// docs by id), and the other CouchDB reads that take a POST body (_find,
// _bulk_get, views). The mark is net/http's own convention: an
// Idempotency-Key header with a nil value, which is never sent.
func markIdempotent(req *http.Request) {
	if req.Method != http.MethodPost {
		return
	}
	p := req.URL.Path
	if strings.HasSuffix(p, "/_all_docs") || strings.HasSuffix(p, "/_find") ||
		strings.HasSuffix(p, "/_bulk_get") || strings.Contains(p, "/_view/") {
		req.Header["Idempotency-Key"] = nil
	}
}
