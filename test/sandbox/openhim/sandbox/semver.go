package sandbox

// Semantic versions as the semver package (node-semver 7) core uses checks
// and compares them: semver.valid (strict, not loose: an optional leading
// "v", no leading zeros, surrounding white space trimmed) and semver.gt
// (build metadata ignored, a pre-release sorts before its release).

import (
	"regexp"
	"strconv"
	"strings"
)

var semverFull = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][a-zA-Z0-9-]*))*))?` +
	`(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

type semver struct {
	main [3]float64
	pre  []string
}

const maxSafeInteger = 1<<53 - 1

// parseSemver is semver.parse: ok is false where semver.valid returns null.
func parseSemver(v any) (semver, bool) {
	s, isString := v.(string)
	if !isString || len(s) > 256 {
		return semver{}, false
	}
	m := semverFull.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return semver{}, false
	}
	var out semver
	for i := range 3 {
		n, err := strconv.ParseFloat(m[i+1], 64)
		if err != nil || n > maxSafeInteger {
			return semver{}, false
		}
		out.main[i] = n
	}
	if m[4] != "" {
		out.pre = strings.Split(m[4], ".")
	}
	return out, true
}

func isNumericIdent(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func comparePreIdent(a, b string) int {
	an, bn := isNumericIdent(a), isNumericIdent(b)
	switch {
	case an && bn:
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		return cmpFloat(x, y)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare is semver.compare.
func (a semver) compare(b semver) int {
	for i := range 3 {
		if c := cmpFloat(a.main[i], b.main[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; ; i++ {
		switch {
		case i >= len(a.pre) && i >= len(b.pre):
			return 0
		case i >= len(b.pre):
			return 1
		case i >= len(a.pre):
			return -1
		}
		if c := comparePreIdent(a.pre[i], b.pre[i]); c != 0 {
			return c
		}
	}
}

// semverGT is semver.gt(a, b); it fails with "TypeError: Invalid Version"
// when either is not a version.
func semverGT(a, b any) (bool, error) {
	va, ok := parseSemver(a)
	if !ok {
		return false, typeError("Invalid Version: %s", jsString(a))
	}
	vb, ok := parseSemver(b)
	if !ok {
		return false, typeError("Invalid Version: %s", jsString(b))
	}
	return va.compare(vb) > 0, nil
}
