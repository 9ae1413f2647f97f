package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// getHealth serves GET /health: plain JSON, not the envelope, never behind
// basic auth (a liveness probe has no credentials). {"status": "ok",
// "version": …} plus the sections of Options.Health, which cannot override
// status or version. A mediator without its CHT or DHIS2 configuration
// answers "status": "unconfigured" with "error" saying what is missing,
// still with 200: the process is alive and waits for the OpenHIM console's
// config, and a liveness probe must not restart it for that. The whole
// answer is redacted (breaker errors quote upstream answers).
func (s *server) getHealth(c *gin.Context) {
	out := map[string]any{}
	if s.health != nil {
		for k, v := range s.health() {
			out[k] = v
		}
	}
	out["status"] = "ok"
	delete(out, "error")
	if s.configured != nil {
		if err := s.configured(); err != nil {
			out["status"] = "unconfigured"
			out["error"] = err.Error()
		}
	}
	out["version"] = s.version
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		s.log.Error("encode /health", "err", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", s.redactor.Bytes(bytes.TrimSpace(buf.Bytes())))
}
