package app

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// This test is a statement of policy, in the style of go/build's deps_test:
// which internal package may import which .
// Dependencies point inward: handlers → service → clients, and the
// aggregation and validation core does no I/O.

const module = "github.com/cht-dhis2-mediator/cht-dhis2-mediator"

// allowedInternal lists, per package, the internal packages it may import
// directly. "*" allows every internal package.
var allowedInternal = map[string][]string{
	"mediator":           {"app", "config", "hugepages"},
	"internal/app":       {"*"},
	"internal/httpapi":   {"export", "openhim", "aggregate", "validate", "redact", "flight"},
	"internal/export":    {"aggregate", "validate", "cht", "dhis2", "flight", "readiness"},
	"internal/readiness": {},
	"internal/cht":       {"aggregate", "validate", "config", "redact", "redirect"},
	"internal/dhis2":     {"aggregate", "validate", "config", "redact"},
	"internal/openhim":   {"aggregate", "validate", "config", "redact", "redirect"},
	"internal/breaker":   {},
	"internal/metrics":   {"breaker"},
	"internal/retry":     {},
	"internal/aggregate": {},
	"internal/validate":  {"aggregate"},
	"internal/config":    {"redact"},
	"internal/redact":    {},
	"internal/flight":    {},
	"internal/redirect":  {},
	"internal/hugepages": {}, // process-level: the main program only
	"internal/testutil":  {}, // imported by tests only
	"mediator-config":    {},
}

// forbidden lists imports (direct, any path prefix) a package must not have.
var forbidden = map[string][]string{
	"internal/aggregate": {"net/http", "os", "github.com/", "golang.org/x/"},
	"internal/validate":  {"net/http", "os", "github.com/", "golang.org/x/"},
	"internal/readiness": {"net/http", "os", "github.com/", "golang.org/x/"},
	"internal/export":    {"github.com/gin-gonic/", "github.com/spf13/viper"},
	"internal/cht":       {"github.com/gin-gonic/", "github.com/spf13/viper"},
	"internal/dhis2":     {"github.com/gin-gonic/", "github.com/spf13/viper"},
	"internal/openhim":   {"github.com/gin-gonic/", "github.com/spf13/viper"},
	"internal/breaker":   {"github.com/gin-gonic/", "github.com/spf13/viper"},
	"internal/metrics":   {"github.com/gin-gonic/", "github.com/spf13/viper"},
	"internal/retry":     {"github.com/gin-gonic/", "github.com/spf13/viper", "github.com/"},
	"internal/httpapi":   {"github.com/spf13/viper"},
	"internal/config":    {"github.com/gin-gonic/"},
	"mediator-config":    {"net/http", "os", "github.com/"},
	"internal/redact":    {"net/http", "os", "github.com/", "golang.org/x/"},
	"internal/flight":    {"net/http", "os", "github.com/", "golang.org/x/"},
	"internal/redirect":  {"os", "github.com/", "golang.org/x/"},
	"internal/hugepages": {"net/http", "github.com/", "golang.org/x/"},
}

// ginImporters are the only packages allowed to import gin.
var ginImporters = []string{"internal/httpapi", "internal/app", "mediator"}

func TestDependencyPolicy(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		if strings.HasPrefix(pkg, "test") {
			continue // end-to-end tests and sandboxes may import anything
		}
		seen[pkg] = true
		allowed, known := allowedInternal[pkg]
		if !known {
			t.Errorf("package %s is not in the dependency policy: add it to allowedInternal", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/internal/"); ok {
				if !slices.Contains(allowed, "*") && !slices.Contains(allowed, rel) {
					t.Errorf("%s imports internal/%s; allowed: %v", pkg, rel, allowed)
				}
			}
			for _, f := range forbidden[pkg] {
				if imp == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f)) {
					t.Errorf("%s imports %s, which the policy forbids", pkg, imp)
				}
			}
			if strings.HasPrefix(imp, "github.com/gin-gonic/") && !slices.Contains(ginImporters, pkg) {
				t.Errorf("%s imports gin; only %v may", pkg, ginImporters)
			}
		}
	}
	for _, must := range []string{"mediator", "internal/aggregate", "internal/config", "internal/export"} {
		if !seen[must] {
			t.Errorf("go list did not report %s: the policy test is not looking at the module", must)
		}
	}
}
