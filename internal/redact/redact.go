// Package redact removes credentials from text before it leaves the
// process: the OpenHIM envelope (error, response body, orchestrations,
// properties), log lines, command output, /health and error messages all
// pass through one Redactor.
//
// A credential can show up in many forms, and each has its rule:
//
//   - a configured secret itself, and its URL- and JSON-escaped forms;
//   - a configured basic-auth pair as "user:password" in base64 (what an
//     upstream that echoes request headers sends back);
//   - any HTTP credential after its scheme word: "Basic …", "Bearer …",
//     "ApiToken …" (DHIS2 personal access tokens), whether configured or not;
//   - the password of URL userinfo (scheme://user:password@host);
//   - the value of a secret-looking query parameter (password=, token=, …)
//     or JSON member ("password": "…").
//
// A long secret (MinAnywhere bytes or more) is redacted wherever it occurs.
// A short one would match inside ordinary words and paths ("a" in
// "/api/v1/settings"), so it is redacted only as a whole word (between
// characters that are not letters or digits), and a secret shorter than
// MinWord is left to the contextual rules above, which still catch it after
// "Basic ", in userinfo, parameters and JSON members. So the audit trail
// stays readable whatever the length of a password.
package redact

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
)

// Mask replaces every redacted credential.
const Mask = "<redacted>"

// Lengths that decide where a configured secret is redacted.
const (
	// MinAnywhere: a secret at least this long is redacted inside any text.
	MinAnywhere = 8
	// MinWord: a shorter secret of at least this length is redacted only as
	// a whole word.
	MinWord = 4
)

// Credential is one configured credential: a secret (password or token)
// and, for basic auth, the user name it is sent with.
type Credential struct {
	Username string
	Secret   string
}

// Redactor redacts credentials from text. The zero value and a nil
// *Redactor apply the rules that need no configured secret. It is safe for
// concurrent use; Set replaces the configured credentials at any time.
type Redactor struct {
	rules atomic.Pointer[rules]
}

// rules are the literal forms of the configured secrets, longest first.
type rules struct {
	anywhere []string // redacted wherever they occur
	words    []string // redacted as whole words only
}

// New returns a Redactor for creds.
func New(creds ...Credential) *Redactor {
	r := &Redactor{}
	r.Set(creds...)
	return r
}

// Set replaces the configured credentials.
func (r *Redactor) Set(creds ...Credential) {
	seen := map[string]bool{}
	ru := &rules{}
	add := func(form string) {
		if form == "" || seen[form] {
			return
		}
		seen[form] = true
		switch {
		case len(form) >= MinAnywhere:
			ru.anywhere = append(ru.anywhere, form)
		case len(form) >= MinWord:
			ru.words = append(ru.words, form)
		}
	}
	for _, c := range creds {
		if c.Secret == "" {
			continue
		}
		for _, f := range forms(c.Secret) {
			add(f)
		}
		if c.Username != "" {
			// What an upstream that echoes the Authorization header sends
			// back, with and without padding. Always long enough.
			b64 := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Secret))
			add(b64)
			add(strings.TrimRight(b64, "="))
		}
	}
	byLength := func(a, b string) int { return len(b) - len(a) }
	slices.SortFunc(ru.anywhere, byLength)
	slices.SortFunc(ru.words, byLength)
	r.rules.Store(ru)
}

// forms returns s and its URL- and JSON-escaped forms.
func forms(s string) []string {
	quoted, _ := json.Marshal(s)
	js := strings.Trim(string(quoted), `"`)
	return []string{s, url.QueryEscape(s), url.PathEscape(s), js}
}

var (
	// schemeRE matches an HTTP credential after its scheme word. The
	// scheme words are matched in the case HTTP clients send them, so
	// prose such as "basic auth" stays as it is.
	schemeRE = regexp.MustCompile(`\b(Basic|Bearer|ApiToken|Digest)( +)([A-Za-z0-9+/._~-]+=*)`)
	// userinfoRE matches the userinfo of a URL: scheme://userinfo@.
	userinfoRE = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s"'<>]+)@`)
	// paramRE matches the value of a secret-looking query parameter.
	paramRE = regexp.MustCompile(`(?i)([?&;](?:password|passwd|pwd|pass|token|access_token|api_?key|apitoken|secret|client_secret)=)(?:<redacted>|[^&#\s"'<>]*)`)
	// authParamRE matches an auth-param such as realm= after a scheme
	// word, which is not a credential.
	authParamRE = regexp.MustCompile(`^[a-z]+=$`)
)

// String returns s with every credential replaced by Mask.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	return Patterns(r.Secrets(s))
}

// Bytes is String for a byte slice.
func (r *Redactor) Bytes(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	s := string(b)
	if out := r.String(s); out != s {
		return []byte(out)
	}
	return b
}

// Error returns the message of err, redacted; "" for nil.
func (r *Redactor) Error(err error) string {
	if err == nil {
		return ""
	}
	return r.String(err.Error())
}

// Patterns applies the rules that need no configured secret: HTTP
// credentials after their scheme word, URL userinfo passwords, secret query
// parameters and JSON members.
func Patterns(s string) string {
	if strings.Contains(s, " ") && (strings.Contains(s, "Basic") || strings.Contains(s, "Bearer") ||
		strings.Contains(s, "ApiToken") || strings.Contains(s, "Digest")) {
		s = schemeRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := schemeRE.FindStringSubmatch(m)
			if authParamRE.MatchString(sub[3]) || sub[1] == "Basic" && !basicPair(sub[3]) {
				return m
			}
			return sub[1] + sub[2] + Mask
		})
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = userinfoRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := userinfoRE.FindStringSubmatch(m)
			if user, _, ok := strings.Cut(sub[2], ":"); ok {
				return sub[1] + user + ":" + Mask + "@"
			}
			return sub[1] + Mask + "@"
		})
	}
	if strings.Contains(s, "=") && strings.ContainsAny(s, "?&;") && hasKeyword(s) {
		s = paramRE.ReplaceAllString(s, "${1}"+Mask)
	}
	if strings.Contains(s, `"`) && hasKeyword(s) {
		s = members(s)
	}
	return s
}

// keywords start the names of secret parameters and members (compared
// case-insensitively).
var keywords = []string{"pass", "pwd", "token", "secret", "api", "access_token", "client_secret", "authorization"}

// memberNames are the JSON member names whose string values are secrets
// (compared case-insensitively).
var memberNames = []string{"password", "passwd", "pwd", "pass", "token", "access_token", "api_key", "apikey", "apitoken",
	"secret", "client_secret", "authorization"}

// hasKeyword reports whether s holds a keyword in any case: a fast filter
// before the slower rules.
func hasKeyword(s string) bool {
	for i := 0; i < len(s); i++ {
		for _, k := range keywordsBy[s[i]|0x20] {
			if len(s)-i >= len(k) && strings.EqualFold(s[i:i+len(k)], k) {
				return true
			}
		}
	}
	return false
}

// keywordsBy and membersBy index keywords and memberNames by their first
// letter.
var keywordsBy, membersBy = byFirst(keywords), byFirst(memberNames)

func byFirst(words []string) [256][]string {
	var out [256][]string
	for _, w := range words {
		out[w[0]] = append(out[w[0]], w)
	}
	return out
}

// members replaces the string value of every secret JSON member
// ("password": "…") with Mask, in one pass.
func members(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		q := strings.IndexByte(s[i:], '"')
		if q < 0 {
			break
		}
		i += q
		if i+1 >= len(s) {
			break
		}
		name := ""
		for _, n := range membersBy[s[i+1]|0x20] {
			if end := i + 1 + len(n); end < len(s) && s[end] == '"' && strings.EqualFold(s[i+1:end], n) {
				name = n
				break
			}
		}
		if name == "" {
			continue
		}
		j := i + 2 + len(name)
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
			j++
		}
		if j >= len(s) || s[j] != ':' {
			continue
		}
		j++
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
			j++
		}
		if j >= len(s) || s[j] != '"' {
			continue
		}
		start := j + 1
		k := start
		for k < len(s) && s[k] != '"' {
			if s[k] == '\\' {
				k++
			}
			k++
		}
		if k >= len(s) {
			continue // unterminated: leave it
		}
		b.WriteString(s[last:start])
		b.WriteString(Mask)
		last = k
		i = k
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// basicPair reports whether tok is base64 of "user:password", as basic auth
// credentials always are: so "Basic Services" in a data element's name is
// left alone.
func basicPair(tok string) bool {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(tok, "="))
	}
	return err == nil && bytes.IndexByte(b, ':') >= 0
}

// Secrets returns s with only the configured secrets redacted (no
// pattern): for a body that is parsed afterwards, whose other text must
// stay as the server sent it.
func (r *Redactor) Secrets(s string) string {
	if s == "" || r == nil {
		return s
	}
	if ru := r.rules.Load(); ru != nil {
		for _, f := range ru.anywhere {
			if strings.Contains(s, f) {
				s = strings.ReplaceAll(s, f, Mask)
			}
		}
		for _, f := range ru.words {
			s = replaceWord(s, f)
		}
	}
	return s
}

// replaceWord replaces every occurrence of w in s that is a whole word: not
// preceded or followed by a letter or digit.
func replaceWord(s, w string) string {
	if !strings.Contains(s, w) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, w)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(w)
		if (i == 0 || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end])) {
			b.WriteString(s[:i])
			b.WriteString(Mask)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// URL returns raw with the password of its userinfo and secret query
// parameters redacted; for a text that does not parse, Patterns of it.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return Patterns(u.Redacted())
	}
	if err != nil {
		// Malformed: whatever stands between "://" and the last "@" before
		// the path may be credentials.
		if i := strings.Index(raw, "://"); i >= 0 {
			rest := raw[i+3:]
			authority := rest
			if j := strings.IndexAny(rest, "/?#"); j >= 0 {
				authority = rest[:j]
			}
			if at := strings.LastIndex(authority, "@"); at >= 0 {
				user, _, _ := strings.Cut(authority[:at], ":")
				raw = raw[:i+3] + user + ":" + Mask + rest[at:]
			}
		}
	}
	return Patterns(raw)
}

// Handler is a slog.Handler that redacts the message and every attribute
// value of a record before passing it on.
type Handler struct {
	next slog.Handler
	r    *Redactor
}

// NewHandler returns a Handler redacting with r into next.
func NewHandler(next slog.Handler, r *Redactor) *Handler {
	return &Handler{next: next, r: r}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(red), r: h.r}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), r: h.r}
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]slog.Attr, len(group))
		for i, g := range group {
			out[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.r.Error(x))
		case []string:
			out := make([]string, len(x))
			for i, s := range x {
				out[i] = h.r.String(s)
			}
			return slog.Any(a.Key, out)
		case fmt.Stringer:
			return slog.String(a.Key, h.r.String(x.String()))
		}
		return slog.Attr{Key: a.Key, Value: v}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
