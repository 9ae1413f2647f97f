package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// getHealth serves GET /health: plain JSON, not the envelope, never behind
// basic auth (a liveness probe has no credentials). {"status": "ok",
// "version": …} plus the sections of Options.Health, which cannot override
// status or version.
func (s *server) getHealth(c *gin.Context) {
	out := map[string]any{}
	if s.health != nil {
		for k, v := range s.health() {
			out[k] = v
		}
	}
	out["status"] = "ok"
	out["version"] = s.version
	c.JSON(http.StatusOK, out)
}
