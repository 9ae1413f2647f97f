package dhis2

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SystemInfo is what GET /api/system/info says about the server.
type SystemInfo struct {
	// Version is the version string as DHIS2 gives it: "2.40.3",
	// "2.41-SNAPSHOT", "2.39.1.1".
	Version string
	// Major, Minor, Patch and Hotfix are Version's numbers: 2, 40, 3, 0 for
	// "2.40.3"; 2, 39, 1, 1 for "2.39.1.1"; 2, 41, 0, 0 for "2.41-SNAPSHOT".
	Major, Minor, Patch, Hotfix int
	// Revision is the build's git revision.
	Revision string
	// Calendar is the server's calendar ("iso8601", "ethiopian", …); period
	// arithmetic assumes iso8601.
	Calendar string
	// ServerDate is the server's clock, zero when absent or unparseable.
	ServerDate time.Time
}

// Family names the response family of the server's POST /api/dataValueSets
// answer on the unversioned path (dhis2-core DataValueSetController and WebMessageUtils): "2.36" (bare
// summary, conflicts without codes), "2.37" (bare summary, rich conflicts),
// "2.38" (WebMessage, 409 on conflicts; 2.38–2.42), "2.43" (WebMessage,
// E80xx/E81xx codes, no object or property in conflicts).
// ParseImportResponse reads every family by its shape; the family is for
// logs and for the caller's expectations.
func (s SystemInfo) Family() string {
	switch {
	case s.Minor <= 36:
		return "2.36"
	case s.Minor == 37:
		return "2.37"
	case s.Minor <= 42:
		return "2.38"
	default:
		return "2.43"
	}
}

// AtLeast reports whether the server is 2.<minor> or later.
func (s SystemInfo) AtLeast(minor int) bool { return s.Major > 2 || s.Major == 2 && s.Minor >= minor }

type wireSystemInfo struct {
	Version    string `json:"version"`
	Revision   string `json:"revision"`
	Calendar   string `json:"calendar"`
	ServerDate string `json:"serverDate"`
}

// SystemInfo returns GET /api/system/info, asked once for the client's life
// (a failed call is asked again next time).
func (c *Client) SystemInfo(ctx context.Context) (SystemInfo, error) {
	c.infoMu.Lock()
	defer c.infoMu.Unlock()
	if c.info != nil {
		return *c.info, nil
	}
	const op = "system info"
	var w wireSystemInfo
	u := c.endpoint(nil, "system", "info")
	if r, err := c.getJSON(ctx, op, u, &w); err != nil {
		if r.status == http.StatusNotFound && !looksLikeCouchDB(r) { // a CouchDB's 404 already says so
			return SystemInfo{}, fmt.Errorf("%w (no DHIS2 API at %s: check dhis2.url, including any context path such as /dhis)", err, u.Redacted())
		}
		return SystemInfo{}, err
	}
	info := SystemInfo{Version: w.Version, Revision: w.Revision, Calendar: w.Calendar, ServerDate: parseServerDate(w.ServerDate)}
	var err error
	info.Major, info.Minor, info.Patch, info.Hotfix, err = ParseVersion(w.Version)
	if err != nil {
		return SystemInfo{}, fmt.Errorf("dhis2: %s: %w", op, err)
	}
	c.info, c.infoAt = &info, time.Now()
	c.log.Info("dhis2 server", "version", info.Version, "family", info.Family(), "calendar", info.Calendar)
	if info.Calendar != "" && info.Calendar != "iso8601" {
		c.log.Warn("dhis2 server uses a non-ISO calendar; period checks assume iso8601", "calendar", info.Calendar)
	}
	return info, nil
}

// ParseVersion reads a DHIS2 version string: "2.40.3", "2.41-SNAPSHOT",
// "2.39.1.1", "v2.40.0", and release names without the leading "2."
// ("41.8.1" is 2.41.8.1). Missing parts are 0.
func ParseVersion(v string) (major, minor, patch, hotfix int, err error) {
	s := strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(s, "-+ _"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 4 {
		return 0, 0, 0, 0, fmt.Errorf("unrecognised DHIS2 version %q", excerpt([]byte(v), 40))
	}
	nums := make([]int, 0, 4)
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || p[0] == '+' {
			return 0, 0, 0, 0, fmt.Errorf("unrecognised DHIS2 version %q", excerpt([]byte(v), 40))
		}
		nums = append(nums, n)
	}
	if nums[0] >= 28 && len(nums) <= 3 {
		// "41.8.1" names 2.41.8.1.
		nums = append([]int{2}, nums...)
	}
	if nums[0] != 2 || len(nums) < 2 {
		return 0, 0, 0, 0, fmt.Errorf("unrecognised DHIS2 version %q", excerpt([]byte(v), 40))
	}
	for len(nums) < 4 {
		nums = append(nums, 0)
	}
	return nums[0], nums[1], nums[2], nums[3], nil
}

// parseServerDate reads DHIS2's serverDate ("2024-03-01T10:00:00.000",
// sometimes with a zone). Unzoned times are taken as UTC.
func parseServerDate(s string) time.Time {
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.000Z0700",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04:05",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
