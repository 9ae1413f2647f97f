package sandbox

// The client response as Koa builds it: core copies the mediator's (or the
// upstream's) response into ctx.response field by field (core:
// src/middleware/router.js setKoaResponse), and Koa's setters have rules of
// their own (OpenHIM core src/middleware/router.js).

import (
	"fmt"
	"html"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type hdrEntry struct {
	name   string // as set
	values []string
}

// koaRes is ctx.response.
type koaRes struct {
	status         int
	explicitStatus bool
	hdr            []hdrEntry
	body           any // undefined, nil, string, jsBuffer or a JSON value
	explicitNull   bool
	timestamp      any // ctx.response.timestamp (raw)
}

func newKoaRes() *koaRes { return &koaRes{status: http.StatusNotFound, body: undefined} }

func (k *koaRes) find(name string) int {
	for i, e := range k.hdr {
		if strings.EqualFold(e.name, name) {
			return i
		}
	}
	return -1
}

func (k *koaRes) get(name string) string {
	if i := k.find(name); i >= 0 {
		return strings.Join(k.hdr[i].values, ", ")
	}
	return ""
}

func (k *koaRes) has(name string) bool { return k.find(name) >= 0 }

func (k *koaRes) remove(name string) {
	if i := k.find(name); i >= 0 {
		k.hdr = append(k.hdr[:i], k.hdr[i+1:]...)
	}
}

// set is res.setHeader: it validates the name and the values as Node does.
func (k *koaRes) set(name string, values ...string) error {
	if !validToken(name) {
		return &jsError{"TypeError [ERR_INVALID_HTTP_TOKEN]", fmt.Sprintf("Header name must be a valid HTTP token [\"%s\"]", name)}
	}
	for _, v := range values {
		if !validHeaderValue(v) {
			return &jsError{"TypeError [ERR_INVALID_CHAR]", fmt.Sprintf("Invalid character in header content [\"%s\"]", name)}
		}
	}
	if i := k.find(name); i >= 0 {
		k.hdr[i] = hdrEntry{name, values}
		return nil
	}
	k.hdr = append(k.hdr, hdrEntry{name, values})
	return nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func validHeaderValue(s string) bool {
	for _, r := range s {
		if r == '\t' || (r >= 0x20 && r <= 0x7e) || (r >= 0x80 && r <= 0xff) {
			continue
		}
		return false
	}
	return true
}

// emptyStatus are statuses Koa sends without a body.
func emptyStatus(code int) bool { return code == 204 || code == 205 || code == 304 }

func redirectStatus(code int) bool {
	switch code {
	case 300, 301, 302, 303, 305, 307, 308:
		return true
	}
	return false
}

// setStatus is Koa's status setter (an integer from 100 to 999).
func (k *koaRes) setStatus(v any) error {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return &jsError{"AssertionError [ERR_ASSERTION]", "status code must be a number"}
	}
	if f < 100 || f > 999 {
		return &jsError{"AssertionError [ERR_ASSERTION]", "invalid status code: " + jsNumber(f)}
	}
	k.explicitStatus = true
	k.status = int(f)
	if truthy(k.body) && emptyStatus(k.status) {
		k.setBody(nil)
	}
	return nil
}

// setBody is Koa's body setter.
func (k *koaRes) setBody(v any) {
	k.body = v
	if isNullish(v) {
		if !emptyStatus(k.status) {
			if strings.HasPrefix(k.get("Content-Type"), "application/json") && !strings.Contains(k.get("Content-Type"), "+") {
				k.body = "null"
				return
			}
			k.status = http.StatusNoContent
		}
		if v == nil {
			k.explicitNull = true
		}
		k.remove("Content-Type")
		k.remove("Content-Length")
		k.remove("Transfer-Encoding")
		return
	}
	if !k.explicitStatus {
		k.status = http.StatusOK
	}
	setType := !k.has("Content-Type")
	switch x := v.(type) {
	case string:
		if setType {
			if htmlStart.MatchString(x) {
				_ = k.set("Content-Type", ctHTML)
			} else {
				_ = k.set("Content-Type", ctText)
			}
		}
		k.setLength(len(x))
	case jsBuffer:
		if setType {
			_ = k.set("Content-Type", "application/octet-stream")
		}
		k.setLength(len(x))
	default:
		k.remove("Content-Length")
		_ = k.set("Content-Type", ctJSON)
	}
}

func (k *koaRes) setLength(n int) {
	if !k.has("Transfer-Encoding") {
		_ = k.set("Content-Length", strconv.Itoa(n))
	}
}

// setType is Koa's type setter: mime-types' contentType(), which resolves
// extensions ("json") and adds "; charset=utf-8" to text and JSON types
// (mime-db approximated: text/*, application/json, application/javascript).
func (k *koaRes) setType(v any) {
	s, ok := v.(string)
	if t := mimeContentType(s); ok && t != "" {
		_ = k.set("Content-Type", t)
		return
	}
	k.remove("Content-Type")
}

var extTypes = map[string]string{
	"json": "application/json", "html": "text/html", "htm": "text/html", "txt": "text/plain",
	"text": "text/plain", "xml": "application/xml", "js": "application/javascript", "css": "text/css",
	"csv": "text/csv", "bin": "application/octet-stream",
}

func mimeContentType(s string) string {
	if s == "" {
		return ""
	}
	mt := s
	if !strings.Contains(s, "/") {
		mt = extTypes[strings.ToLower(strings.TrimPrefix(s, "."))]
		if mt == "" {
			return ""
		}
	}
	if !strings.Contains(strings.ToLower(mt), "charset") {
		base := strings.ToLower(strings.TrimSpace(strings.Split(mt, ";")[0]))
		if strings.HasPrefix(base, "text/") || base == "application/json" || base == "application/javascript" {
			mt += "; charset=utf-8"
		}
	}
	return mt
}

// redirect is Koa's response.redirect.
func (k *koaRes) redirect(url, accept string) {
	url = encodeURL(url)
	_ = k.set("Location", url)
	if !redirectStatus(k.status) {
		k.status = http.StatusFound
		k.explicitStatus = true
	}
	if acceptsHTML(accept) {
		u := html.EscapeString(url)
		_ = k.set("Content-Type", ctHTML)
		k.setBody(fmt.Sprintf(`Redirecting to <a href="%s">%s</a>.`, u, u))
		return
	}
	_ = k.set("Content-Type", ctText)
	k.setBody("Redirecting to " + url + ".")
}

var encodeURLKeep = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// encodeURL is the encodeurl module: percent-encode what is not a URL
// character, leaving existing escapes alone.
func encodeURL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && encodeURLKeep.MatchString(s[i:min(i+3, len(s))]) {
			b.WriteByte(c)
			continue
		}
		if c > 0x20 && c < 0x7f && !strings.ContainsRune(`"<>\^`+"`{|}", rune(c)) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func acceptsHTML(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, p := range fields[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && k == "q" {
				q, _ = strconv.ParseFloat(v, 64)
			}
		}
		if q > 0 && (mt == "text/html" || mt == "text/*" || mt == "*/*") {
			return true
		}
	}
	return false
}

// setCookies is core's setCookiesOnContext: each array element is parsed
// with cookie.parse (name=value pairs only: attributes without "=", such as
// "HttpOnly", are lost) and re-set with the cookies module. A set-cookie
// that is not an array sets nothing useful (OpenHIM core src/middleware/router.js: send an array).
func (k *koaRes) setCookies(value any, secureConn bool, now time.Time) error {
	n, _ := get(value, "length").(float64)
	for i := 0; i < int(n); i++ {
		cv := get(value, strconv.Itoa(i))
		s, ok := cv.(string)
		if !ok {
			return typeError("argument str must be a string")
		}
		type pair struct{ k, v string }
		var vals []pair
		var path, domain, expires, secure, httpOnly string
		var maxAge float64
		for _, kv := range cookieParse(s) {
			switch strings.ToLower(kv[0]) {
			case "max-age":
				maxAge = jsParseInt(kv[1])
			case "expires":
				if t, ok := parseJSDate(kv[1]); ok {
					expires = t.Format(http.TimeFormat)
				} else {
					expires = "Invalid Date"
				}
			case "path":
				path = kv[1]
			case "domain":
				domain = kv[1]
			case "secure":
				secure = kv[1]
			case "signed":
				if kv[1] != "" {
					return &jsError{"Error", ".keys required for signed cookies"}
				}
			case "overwrite":
			case "httponly":
				httpOnly = kv[1]
			default:
				vals = append(vals, pair{kv[0], kv[1]})
			}
		}
		for _, p := range vals {
			if secure != "" && !secureConn {
				return &jsError{"Error", "Cannot send secure cookie over unencrypted connection"}
			}
			if !validCookiePart(p.k) {
				return typeError("argument name is invalid")
			}
			if p.v != "" && !validCookiePart(p.v) {
				return typeError("argument value is invalid")
			}
			h := p.k + "=" + p.v
			if path != "" {
				h += "; path=" + path
			}
			exp := expires
			if maxAge > 0 && !math.IsNaN(maxAge) {
				exp = now.Add(time.Duration(maxAge) * time.Millisecond).Format(http.TimeFormat)
			}
			if exp != "" {
				h += "; expires=" + exp
			}
			if domain != "" {
				h += "; domain=" + domain
			}
			if secure != "" {
				h += "; secure"
			}
			if httpOnly != "" {
				h += "; httponly"
			}
			i := k.find("Set-Cookie")
			if i < 0 {
				_ = k.set("Set-Cookie", h)
			} else {
				k.hdr[i].values = append(k.hdr[i].values, h)
			}
		}
	}
	return nil
}

func validCookiePart(s string) bool {
	for _, r := range s {
		if r == '\t' || (r >= 0x20 && r <= 0x7e) || (r >= 0x80 && r <= 0xff) {
			continue
		}
		return false
	}
	return s != ""
}

var cookieSep = regexp.MustCompile(`; *`)

// cookieParse is cookie.parse: "; "-separated name=value pairs, the first
// of a name winning, quotes stripped, values percent-decoded.
func cookieParse(s string) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	for _, p := range cookieSep.Split(s, -1) {
		i := strings.Index(p, "=")
		if i < 0 {
			continue
		}
		key := strings.TrimSpace(p[:i])
		val := strings.TrimSpace(p[i+1:])
		if strings.HasPrefix(val, `"`) && len(val) >= 2 {
			val = val[1 : len(val)-1]
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, [2]string{key, jsUnescapeURI(val)})
	}
	return out
}

// jsUnescapeURI is decodeURIComponent, leaving the value as is on error
// (cookie's tryDecode).
func jsUnescapeURI(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return s
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return s
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String()
}

// setKoaResponse copies a response object onto ctx.response as core does:
// status (numeric strings parsed), timestamp, body, then each header (the
// transaction id added when headers are present; set-cookie, location with
// 3xx and content-type handled specially; content-length,
// content-encoding and transfer-encoding dropped).
func (k *koaRes) setKoaResponse(response any, txID, accept string, secureConn bool, now time.Time) error {
	st, err := prop(response, "status")
	if err != nil {
		return err
	}
	if s, ok := st.(string); ok {
		st = jsParseInt(s)
	}
	if err := k.setStatus(st); err != nil {
		return err
	}
	k.timestamp = get(response, "timestamp")
	k.setBody(get(response, "body"))

	headers := get(response, "headers")
	if !isNullish(headers) && txID != "" {
		switch h := headers.(type) {
		case *object:
			h.set("X-OpenHIM-TransactionID", txID)
		case []any:
			// a property on an array: for…in still lists it
		default:
			return typeError("Cannot create property 'X-OpenHIM-TransactionID' on %s '%s'", typeOf(h), jsString(h))
		}
	}
	keys := forInKeys(headers)
	if _, isArr := headers.([]any); isArr && txID != "" {
		keys = append(keys, "X-OpenHIM-TransactionID")
	}
	for _, key := range keys {
		value := get(headers, key)
		if _, isArr := headers.([]any); isArr && key == "X-OpenHIM-TransactionID" {
			value = txID
		}
		switch strings.ToLower(key) {
		case "set-cookie":
			if err := k.setCookies(value, secureConn, now); err != nil {
				return err
			}
		case "location":
			if k.status >= 300 && k.status < 400 {
				k.redirect(jsString(value), accept)
			} else if err := k.set(key, headerValues(value)...); err != nil {
				return err
			}
		case "content-type":
			k.setType(value)
		case "content-length", "content-encoding", "transfer-encoding":
		default:
			if err := k.set(key, headerValues(value)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// headerValues is Koa's set(): arrays become several values, everything
// else String(value).
func headerValues(v any) []string {
	if arr, ok := v.([]any); ok {
		out := make([]string, len(arr))
		for i, e := range arr {
			out[i] = jsString(e)
		}
		return out
	}
	return []string{jsString(v)}
}

// bodyString is what core stores: `!body ? ” : body.toString()`.
func bodyString(v any) string {
	if !truthy(v) {
		return ""
	}
	return jsString(v)
}

// storedHeaders is ctx.response.header: lower-case names.
func (k *koaRes) storedHeaders() map[string]any {
	out := map[string]any{}
	for _, e := range k.hdr {
		if len(e.values) == 1 && !strings.EqualFold(e.name, "set-cookie") {
			out[strings.ToLower(e.name)] = e.values[0]
			continue
		}
		vals := make([]any, len(e.values))
		for i, v := range e.values {
			vals[i] = v
		}
		out[strings.ToLower(e.name)] = vals
	}
	return out
}

// write sends the response as Koa's respond() does.
func (k *koaRes) write(w http.ResponseWriter, method string) {
	h := w.Header()
	for _, e := range k.hdr {
		switch strings.ToLower(e.name) {
		case "content-length", "connection", "keep-alive", "transfer-encoding":
			continue
		case "x-openhim-transactionid":
			h[e.name] = e.values
			continue
		}
		for _, v := range e.values {
			h.Add(e.name, v)
		}
	}
	var body []byte
	switch x := k.body.(type) {
	case undef, nil:
		if !k.explicitNull {
			body = []byte(http.StatusText(k.status))
			if len(body) == 0 {
				body = []byte(strconv.Itoa(k.status))
			}
			h.Set("Content-Type", ctText)
		} else {
			h.Del("Content-Type")
		}
	case string:
		body = []byte(x)
	case jsBuffer:
		body = x
	default:
		body, _ = marshalJS(x)
	}
	if emptyStatus(k.status) {
		h.Del("Content-Type")
		body = nil
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = nil // no sniffing
	}
	w.WriteHeader(k.status)
	if method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
