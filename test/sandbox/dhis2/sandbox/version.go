package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a parsed DHIS2 server version "2.MM.P[.H]".
type version struct {
	full  string // as reported by /api/system/info
	minor int    // MM: 36..43
	patch int
}

const (
	minMinor = 36
	maxMinor = 43
)

// parseVersion accepts "2.40", "2.40.3", "2.41.8.1", "2.40.3-SNAPSHOT",
// and the newer patch naming "41.8.1" (= 2.41.8.1). A short version
// ("2.40") means the first release of that family, "2.40.0".
func parseVersion(s string) (version, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return version{}, fmt.Errorf("version is required (one of 2.36 to 2.43)")
	}
	core := strings.TrimSuffix(s, "-SNAPSHOT")
	parts := strings.Split(core, ".")
	if parts[0] != "2" {
		// "41.8.1" form
		parts = append([]string{"2"}, parts...)
	}
	if len(parts) < 2 || len(parts) > 4 {
		return version{}, fmt.Errorf("version %q: want 2.MM[.P[.H]]", s)
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return version{}, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		nums[i] = n
	}
	v := version{minor: nums[1]}
	if len(nums) > 2 {
		v.patch = nums[2]
	}
	if v.minor < minMinor || v.minor > maxMinor {
		return version{}, fmt.Errorf("version %q: only 2.%d to 2.%d are supported", s, minMinor, maxMinor)
	}
	if len(parts) == 2 {
		v.full = fmt.Sprintf("2.%d.0", v.minor)
	} else {
		v.full = strings.Join(parts, ".")
		if strings.HasSuffix(s, "-SNAPSHOT") {
			v.full += "-SNAPSHOT"
		}
	}
	return v, nil
}

// richConflicts: conflicts carry errorCode, objects, property and indexes
// from 2.37 (dhis2-core DataValueSetController and WebMessageUtils; dhis2-core WebMessage and ImportConflict).
func (v version) richConflicts() bool { return v.minor >= 37 }

// newImporter: 2.43 replaced the data value importer (dhis2-core 2.43 DataEntryPipeline).
func (v version) newImporter() bool { return v.minor >= 43 }

// rejectedIndexes exists from 2.39.2, 2.40.1 and 2.41.0 (dhis2-core WebMessage and ImportConflict).
func (v version) rejectedIndexes() bool {
	switch v.minor {
	case 39:
		return v.patch >= 2
	case 40:
		return v.patch >= 1
	}
	return v.minor >= 41
}

// unchangedIsIgnored: re-pushing an unchanged value counts as ignored from
// 2.39.5, 2.40.3 and 2.41 (DHIS2-15254), as updated before (dhis2-core DefaultDataValueSetService).
func (v version) unchangedIsIgnored() bool {
	switch v.minor {
	case 39:
		return v.patch >= 5
	case 40:
		return v.patch >= 3
	}
	return v.minor >= 41
}

// defaultAPIVersion is DhisApiVersion.DEFAULT: the version an unversioned
// /api/ path resolves to (dhis2-core DataValueSetController and WebMessageUtils). 2.42 still defaults to V41.
func (v version) defaultAPIVersion() int {
	if v.minor >= 42 {
		return 41
	}
	return v.minor
}

// tokenAuth: personal access tokens exist from 2.37, but 2.37 ships them
// switched off (enable.api_token.authentication); they are on from 2.38
// (DHIS2 Web API docs, authentication).
func (v version) tokenAuth() bool { return v.minor >= 38 }

// validAPIVersion reports whether /api/<n>/ is routed: versions 28 up to
// the next one (dhis2-core DataValueSetController and WebMessageUtils has 2.37 answering /api/38/); 2.43 strips 28..43
// (dhis2-core DataValueSetController and WebMessageUtils; DHIS2 Web API docs, authentication).
func (v version) validAPIVersion(n int) bool {
	return n >= 28 && n <= min(v.minor+1, maxMinor)
}

// wrapImportSummary reports whether POST /api/dataValueSets answers with a
// WebMessage wrapper (200/409) rather than the bare ImportSummary (200),
// for a request whose path carried API version apiVersion (0: none).
// dhis2-core DataValueSetController and WebMessageUtils.
func (v version) wrapImportSummary(apiVersion int) bool {
	switch {
	case v.minor <= 36:
		return false
	case v.minor >= 42:
		return true
	}
	eff := apiVersion
	if eff == 0 {
		eff = v.defaultAPIVersion()
	}
	return eff >= 38
}

// e7619Template is the E7619 message, which changed between versions
// (dhis2-core ErrorCode.java).
func (v version) e7619Template() string {
	if v.minor <= 38 {
		return "Value must match data element's `{0}` type constraints: {1}"
	}
	return "Value must match value type of data element `{0}`: `{1}`"
}
