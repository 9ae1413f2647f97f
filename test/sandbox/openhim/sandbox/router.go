package sandbox

// The HTTP router (OpenHIM core src/middleware/router.js; OpenHIM core src/model/channels.js): client authentication, channel matching and
// authorisation, forwarding to the routes, reading mediator envelopes, the
// client response and the transaction core records.

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// exchange is one request going through the router (ctx).
type exchange struct {
	chanRec  *docRec
	channel  Channel
	client   *docRec
	method   string
	path     string // ctx.path (as sent, not decoded)
	rawQuery string
	headers  *object // ctx.header: lower-case names, as Node gives them
	body     []byte
	host     string // ctx.host
	ip       string
	reqTime  time.Time
	parentID string
	taskID   string
	secure   bool
	// attempt is the auto-retry attempt of a rerun of a transaction
	// flagged autoRetry (ctx.currentAttempt); 0 otherwise.
	attempt int
}

// RouterHandler returns core's HTTP router (:5001 in core): it matches
// channels and forwards to their routes.
func (s *Server) RouterHandler() http.Handler { return http.HandlerFunc(s.serveRouter) }

func (s *Server) serveRouter(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		drop(w)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	ex := &exchange{
		method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery,
		headers: nodeHeaders(r), body: raw, host: r.Host, ip: remoteIP(r.RemoteAddr),
		reqTime: s.now(), secure: r.TLS != nil,
	}
	s.mu.Lock()
	if strings.Contains(r.Header.Get("Authorization"), "Basic") {
		ex.client = s.authenticateClient(r)
	}
	ex.chanRec = s.matchChannel(ex.path, r.Method, r.Header.Get("Content-Type"))
	if ex.chanRec == nil {
		s.mu.Unlock()
		s.log.Info("no channel matched the request", "method", r.Method, "path", ex.path)
		writeText(w, http.StatusNotFound, "Not Found")
		return
	}
	ex.channel = channelOf(ex.chanRec)
	if !authorised(ex.channel, ex.client, ex.ip) {
		s.mu.Unlock()
		s.log.Info("request not authorised for the channel", "path", ex.path, "channel", ex.channel.Name)
		w.Header().Set("WWW-Authenticate", "Basic")
		writeText(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if ex.client != nil {
		id, _ := ex.client.doc.vals["clientID"].(string)
		ex.headers.set("X-OpenHIM-ClientID", id)
	}
	setOrAppend(ex.headers, "x-forwarded-for", ex.ip)
	setOrAppend(ex.headers, "x-forwarded-host", ex.host)
	s.mu.Unlock()

	res, tx := s.process(ex)
	s.log.Info("transaction", "id", tx.ID, "channel", ex.channel.Name, "method", ex.method, "path", ex.path,
		"status", res.status, "tx_status", tx.Status)
	res.write(w, r.Method)
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", ctText)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// firstWins are the headers Node keeps once (the first) when repeated.
var firstWins = []string{"age", "authorization", "content-length", "content-type", "etag", "expires", "from",
	"host", "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
	"proxy-authorization", "referer", "retry-after", "server", "user-agent"}

// nodeHeaders is req.headers: lower-case names, repeated headers joined
// with ", " (cookie with "; ", set-cookie kept as an array).
func nodeHeaders(r *http.Request) *object {
	o := newObject()
	o.set("host", r.Host)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		vs := r.Header[k]
		switch {
		case lk == "host":
		case lk == "set-cookie":
			arr := make([]any, len(vs))
			for i, v := range vs {
				arr[i] = v
			}
			o.set(lk, arr)
		case slices.Contains(firstWins, lk):
			o.set(lk, vs[0])
		case lk == "cookie":
			o.set(lk, strings.Join(vs, "; "))
		default:
			o.set(lk, strings.Join(vs, ", "))
		}
	}
	return o
}

func setOrAppend(h *object, name, value string) {
	if value == "" {
		return
	}
	if cur, ok := h.get(name); ok && truthy(cur) {
		h.set(name, jsString(cur)+", "+value)
		return
	}
	h.set(name, value)
}

// routeCtx is the routing state of one transaction.
type routeCtx struct {
	ex        *exchange
	tx        *Transaction
	res       *koaRes
	mediator  any // ctx.mediatorResponse (undefined when none)
	err       any // ctx.error
	autoRetry atomic.Bool
	coreOrchs []any // core's own orchestration(s) for the primary route
	routes    []*object
	statusFor []*object // ctx.routes: non-primary results used for the status
	fatal     error     // a Koa-level error: the client gets 500 "Internal Server Error"
	total     int       // running total of stored bodies
}

// process records the transaction, runs the routes and stores the
// outcome. It returns the client response.
func (s *Server) process(ex *exchange) (*koaRes, Transaction) {
	s.mu.Lock()
	rc := &routeCtx{ex: ex, res: newKoaRes(), mediator: undefined, err: undefined}
	rc.tx = s.initiate(rc)
	s.mu.Unlock()

	ex.headers.del("x-openhim-transactionid")
	ex.headers.set("X-OpenHIM-TransactionID", rc.tx.ID)

	s.route(rc)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeRoutes(rc)
	if rc.fatal != nil {
		s.log.Error("routing failed", "tx", rc.tx.ID, "err", rc.fatal)
		k := newKoaRes()
		k.explicitStatus = true
		k.status = http.StatusInternalServerError
		k.setBody("Internal Server Error")
		return k, cloneTx(rc.tx)
	}
	s.setFinalStatus(rc)
	if err := s.storeResponse(rc); err != nil {
		// A throw in the response-storing middleware: Koa's error handler
		// answers 500 and drops the headers set so far (OpenHIM core src/middleware/router.js).
		s.log.Error("storing the response failed", "tx", rc.tx.ID, "err", err)
		k := newKoaRes()
		k.explicitStatus = true
		k.status = http.StatusInternalServerError
		k.setBody("Internal Server Error")
		return k, cloneTx(rc.tx)
	}
	return rc.res, cloneTx(rc.tx)
}

// initiate stores the new transaction (messageStore.initiateRequest).
func (s *Server) initiate(rc *routeCtx) *Transaction {
	ex := rc.ex
	tx := &Transaction{
		ID: s.newID(), Status: "Processing", CanRerun: true, ClientIP: ex.ip,
		ChannelID: ex.chanRec.id, ParentID: ex.parentID, TaskID: ex.taskID, Orchestrations: []Orchestration{},
		AutoRetryAttempt: ex.attempt,
	}
	if ex.client != nil {
		tx.ClientID = ex.client.id
	}
	host, port, _ := strings.Cut(ex.host, ":")
	req := &Request{
		Host: host, Port: port, Path: ex.path, Headers: escapedHeaders(ex.headers),
		Querystring: ex.rawQuery, Method: ex.method, Timestamp: ex.reqTime, Body: string(ex.body),
	}
	bodyMethod := ex.method == "POST" || ex.method == "PUT" || ex.method == "PATCH"
	if rb := ex.channel.RequestBody; rb != nil && !*rb {
		req.Body = ""
		if bodyMethod {
			tx.CanRerun = false
		}
	} else if b, cut := s.enforceMaxBodies(rc, req.Body); cut {
		req.Body = b
		tx.CanRerun = false
	}
	tx.Request = req
	if ex.channel.IsAsynchronousProcess {
		// storeTransaction: an asynchronous channel's transaction starts
		// "Pending Async" (OpenHIM core src/middleware/messageStore.js).
		tx.Status = "Pending Async"
	}
	s.txs = append(s.txs, tx)
	return tx
}

// escapedHeaders is copyMapWithEscapedReservedCharacters: the first "." and
// "$" of a name become their full-width forms (MongoDB keys).
func escapedHeaders(h *object) map[string]any {
	out := map[string]any{}
	for _, k := range h.keys {
		ek := strings.Replace(strings.Replace(k, ".", "\uff0e", 1), "$", "\uff04", 1)
		out[ek] = plain(h.vals[k])
	}
	return out
}

func unescapedName(k string) string {
	return strings.Replace(strings.Replace(k, "\uff0e", ".", 1), "\uff04", "$", 1)
}

// enforceMaxBodies is utils.enforceMaxBodiesSize (OpenHIM core src/utils.js): a running
// total per transaction; past it a body is cut and the marker appended.
func (s *Server) enforceMaxBodies(rc *routeCtx, body string) (string, bool) {
	n := len(body)
	cut := false
	if rc.total+n > s.opts.MaxBodiesSize {
		n = max(0, s.opts.MaxBodiesSize-rc.total)
		for n > 0 && n < len(body) && !isRuneStart(body[n]) {
			n--
		}
		body = body[:n] + truncateAppend
		cut = true
	}
	rc.total += n
	return body, cut
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// route sends the request to the channel's routes: non-primary routes in
// parallel with the primary (or after it with waitPrimaryResponse), and
// waits for all of them before answering (core answers once the primary is
// done; the sandbox waits for every route so that Transactions() is final
// when the client has its answer).
func (s *Server) route(rc *routeCtx) {
	routes := rc.ex.channel.Routes
	if numberOfPrimaryRoutes(routes) > 1 {
		rc.fatal = errors.New("Cannot route transaction: Channel contains multiple primary routes and only one primary is allowed")
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var after []Route
	for _, rt := range routes {
		if !isRouteEnabled(rt) || rt.Primary {
			continue
		}
		if rt.WaitPrimaryResponse {
			after = append(after, rt)
			continue
		}
		wg.Go(func() { s.nonPrimary(rc, rt, &mu) })
	}
	for _, rt := range routes {
		if isRouteEnabled(rt) && rt.Primary {
			s.primary(rc, rt)
		}
	}
	for _, rt := range after {
		if statusCodesMatch(rt.StatusCodesCheck, rc.res.status) {
			wg.Go(func() { s.nonPrimary(rc, rt, &mu) })
		}
	}
	wg.Wait()
}

// statusCodesMatch is the waitPrimaryResponse filter: exact codes, or
// "N**" wildcards, which decide at once (OpenHIM core src/middleware/router.js). Empty: always.
func statusCodesMatch(check string, status int) bool {
	if strings.TrimSpace(check) == "" {
		return true
	}
	st := strconv.Itoa(status)
	for _, c := range strings.Split(check, ",") {
		c = strings.TrimSpace(c)
		if strings.Contains(c, "*") {
			return c != "" && st[0] == c[0]
		}
		if c == st {
			return true
		}
	}
	return false
}

var jsReplacement = regexp.MustCompile(`\$(\$|&|\x60|'|[0-9]{1,2})`)

// transformPath applies a pathTransform s/from/to[/g] (core's
// transformPath; the regular expression is Go's RE2, the replacement
// follows String#replace's $-patterns).
func transformPath(path, expr string) (string, error) {
	e := strings.ReplaceAll(expr, `\/`, ":")
	sub := strings.Split(e, "/")
	if len(sub) < 3 {
		return "", typeError("Cannot read properties of undefined (reading 'replace')")
	}
	from := strings.ReplaceAll(sub[1], ":", "/")
	to := strings.ReplaceAll(sub[2], ":", "/")
	re, err := regexp.Compile(from)
	if err != nil {
		return "", &jsError{"SyntaxError", "Invalid regular expression: /" + from + "/: " + err.Error()}
	}
	global := len(sub) > 3 && sub[3] == "g"
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(path, -1) {
		b.WriteString(path[last:m[0]])
		b.WriteString(jsReplacement.ReplaceAllStringFunc(to, func(tok string) string {
			switch t := tok[1:]; t {
			case "$":
				return "$"
			case "&":
				return path[m[0]:m[1]]
			case "`":
				return path[:m[0]]
			case "'":
				return path[m[1]:]
			default:
				n, _ := strconv.Atoi(t)
				if n == 0 || 2*n+1 >= len(m) {
					return tok
				}
				if m[2*n] < 0 {
					return ""
				}
				return path[m[2*n]:m[2*n+1]]
			}
		}))
		last = m[1]
		if !global {
			break
		}
	}
	b.WriteString(path[last:])
	return b.String(), nil
}

func destinationPath(rt Route, path string) (string, error) {
	switch {
	case rt.Path != "":
		return rt.Path, nil
	case rt.PathTransform != "":
		return transformPath(path, rt.PathTransform)
	}
	return path, nil
}

// routeResp is a route's HTTP response.
type routeResp struct {
	status    int
	headers   *object // lower-case names
	body      any     // jsBuffer, or a string after gunzip/inflate
	timestamp time.Time
}

// sendOpts are the request options core builds for a route.
type sendOpts struct {
	host, port, path string // path with the query string
	headers          *object
}

// send makes one route request (sendHttpRequest).
func (s *Server) send(rc *routeCtx, rt Route) (sendOpts, *routeResp, error) {
	ex := rc.ex
	path, err := destinationPath(rt, ex.path)
	if err != nil {
		return sendOpts{}, nil, err
	}
	reqPath := path
	if ex.rawQuery != "" {
		reqPath += "?" + ex.rawQuery
	}
	hdr := clone(ex.headers).(*object)
	if !rt.ForwardAuthHeader {
		hdr.del("authorization")
	}
	hdr.del("host")
	opts := sendOpts{host: rt.Host, path: reqPath, headers: hdr}
	if rt.Port != 0 {
		opts.port = strconv.Itoa(rt.Port)
	}

	scheme := "http"
	if rt.Secured {
		scheme = "https"
	}
	host := rt.Host
	if host == "" {
		host = "localhost"
	}
	addr := host
	if opts.port != "" {
		addr = net.JoinHostPort(host, opts.port)
	}
	timeout := s.opts.RouterTimeout
	if ex.channel.Timeout != nil {
		timeout = time.Duration(*ex.channel.Timeout) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var body io.Reader = http.NoBody
	if ex.method == "POST" || ex.method == "PUT" || ex.method == "PATCH" {
		body = bytes.NewReader(ex.body)
	}
	req, err := http.NewRequestWithContext(ctx, ex.method, scheme+"://"+addr+reqPath, body)
	if err != nil {
		return opts, nil, err
	}
	for _, k := range hdr.keys {
		switch k {
		case "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade", "proxy-connection":
			continue
		}
		for _, v := range headerValues(hdr.vals[k]) {
			if k == "X-OpenHIM-TransactionID" || k == "X-OpenHIM-ClientID" {
				req.Header[k] = append(req.Header[k], v)
				continue
			}
			req.Header.Add(k, v)
		}
	}
	if _, ok := hdr.get("user-agent"); !ok {
		req.Header["User-Agent"] = nil // Node sends none
	}
	if rt.Username != "" && rt.Password != "" && !hdr.has("authorization") {
		req.SetBasicAuth(rt.Username, rt.Password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return opts, nil, nodeError(err, addr, timeout, ctx)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return opts, nil, fmt.Errorf("Request took longer than %dms", timeout.Milliseconds())
		}
		return opts, nil, err
	}
	up := &routeResp{status: resp.StatusCode, headers: responseHeaders(resp.Header), body: jsBuffer(raw), timestamp: s.now()}
	switch resp.Header.Get("Content-Encoding") {
	case "gzip":
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				up.body = string(b)
			}
		}
	case "deflate":
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				up.body = string(b)
			}
		}
	}
	return opts, up, nil
}

// nodeError words a request error as Node does.
func nodeError(err error, addr string, timeout time.Duration, ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("Request took longer than %dms", timeout.Milliseconds())
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if errors.Is(err, syscall.ECONNREFUSED) {
			a := addr
			if op.Addr != nil {
				a = op.Addr.String()
			}
			return fmt.Errorf("connect ECONNREFUSED %s", a)
		}
		var dns *net.DNSError
		if errors.As(err, &dns) {
			return fmt.Errorf("getaddrinfo ENOTFOUND %s", dns.Name)
		}
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

// responseHeaders is res.headers: lower-case names, repeated headers joined
// (set-cookie an array).
func responseHeaders(h http.Header) *object {
	o := newObject()
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		vs := h[k]
		if lk == "set-cookie" {
			arr := make([]any, len(vs))
			for i, v := range vs {
				arr[i] = v
			}
			o.set(lk, arr)
			continue
		}
		if slices.Contains(firstWins, lk) {
			o.set(lk, vs[0])
			continue
		}
		o.set(lk, strings.Join(vs, ", "))
	}
	return o
}

func errObject(err error) *object {
	o := newObject()
	o.set("message", errMessage(err))
	o.set("stack", errName(err)+": "+errMessage(err)+"\n    at OpenHIM sandbox")
	return o
}

// handleServerError: a failed primary answers 500 (OpenHIM core src/middleware/router.js; OpenHIM core src/middleware/messageStore.js); a
// failed non-primary keeps the error on its route object. Both flag the
// transaction for auto-retry.
func (s *Server) handleServerError(rc *routeCtx, err error, routeObj *object) {
	rc.autoRetry.Store(true)
	if routeObj != nil {
		routeObj.set("error", errObject(err))
		return
	}
	_ = rc.res.setStatus(500.0)
	rc.res.timestamp = jsDate(s.now())
	rc.res.setBody("An internal server error occurred")
	rc.err = errObject(err)
}

// coreOrchestration is the orchestration core records for a primary route
// call (router.js buildOrchestration).
func (s *Server) coreOrchestration(rc *routeCtx, rt Route, opts sendOpts, up *routeResp, err error) *object {
	o := newObject()
	o.set("name", rt.Name)
	req := newObject()
	if opts.host != "" {
		req.set("host", opts.host)
	}
	if opts.port != "" {
		req.set("port", opts.port)
	}
	req.set("path", opts.path)
	req.set("headers", opts.headers)
	req.set("method", rc.ex.method)
	req.set("body", string(rc.ex.body))
	req.set("timestamp", jsDate(rc.ex.reqTime))
	o.set("request", req)
	if err != nil {
		o.set("error", errObject(err))
		return o
	}
	res := newObject()
	res.set("headers", up.headers)
	res.set("status", float64(up.status))
	res.set("body", bodyString(up.body))
	res.set("timestamp", jsDate(up.timestamp))
	o.set("response", res)
	return o
}

const openhimType = "application/json+openhim"

// primary runs the primary route and sets the client response.
func (s *Server) primary(rc *routeCtx, rt Route) {
	opts, up, err := s.send(rc, rt)
	if opts.path != "" || err == nil {
		rc.coreOrchs = append(rc.coreOrchs, s.coreOrchestration(rc, rt, opts, up, err))
	}
	if err != nil {
		s.handleServerError(rc, err, nil)
		return
	}
	accept, _ := rc.ex.headers.get("accept")
	set := func(response any) error {
		return rc.res.setKoaResponse(response, rc.tx.ID, jsString(orEmpty(accept)), rc.ex.secure, s.now())
	}
	ct, _ := up.headers.get("content-type")
	if strings.Contains(jsString(orEmpty(ct)), openhimType) {
		env, err := parseJSON([]byte(jsString(up.body)))
		if err != nil {
			s.handleServerError(rc, err, nil)
			return
		}
		rc.mediator = env
		e, err := prop(env, "error")
		if err != nil {
			s.handleServerError(rc, err, nil)
			return
		}
		if !isNullish(e) {
			rc.autoRetry.Store(true)
			rc.err = e
		}
		if err := set(get(env, "response")); err != nil {
			s.handleServerError(rc, err, nil)
		}
		return
	}
	pass := newObject()
	pass.set("status", float64(up.status))
	pass.set("headers", up.headers)
	pass.set("body", up.body)
	pass.set("timestamp", jsDate(up.timestamp))
	if err := set(pass); err != nil {
		s.handleServerError(rc, err, nil)
	}
}

func orEmpty(v any) any {
	if isNullish(v) {
		return ""
	}
	return v
}

// nonPrimary runs a non-primary route and keeps its result for
// transaction.routes (OpenHIM core src/middleware/router.js).
func (s *Server) nonPrimary(rc *routeCtx, rt Route, mu *sync.Mutex) {
	opts, up, err := s.send(rc, rt)
	var routeObj *object
	forStatus := false
	if err == nil {
		routeObj, err = s.nonPrimaryResult(rc, rt, opts, up)
		forStatus = err == nil
	}
	if err != nil {
		routeObj = newObject()
		routeObj.set("name", rt.Name)
		s.handleServerError(rc, err, routeObj)
	}
	if isNullish(get(routeObj, "response")) {
		r := newObject()
		r.set("status", 500.0)
		r.set("timestamp", jsDate(rc.ex.reqTime))
		routeObj.set("response", r)
	}
	if isNullish(get(routeObj, "request")) {
		routeObj.set("request", s.routeRequest(rc, opts))
	}
	mu.Lock()
	defer mu.Unlock()
	if forStatus {
		rc.statusFor = append(rc.statusFor, routeObj)
	}
	rc.routes = append(rc.routes, routeObj)
}

func (s *Server) routeRequest(rc *routeCtx, opts sendOpts) *object {
	req := newObject()
	if opts.host != "" {
		req.set("host", opts.host)
	}
	if opts.port != "" {
		req.set("port", opts.port)
	}
	p, _, _ := strings.Cut(opts.path, "?")
	req.set("path", p)
	req.set("headers", rc.ex.headers)
	req.set("querystring", rc.ex.rawQuery)
	req.set("method", rc.ex.method)
	req.set("timestamp", jsDate(rc.ex.reqTime))
	return req
}

func (s *Server) nonPrimaryResult(rc *routeCtx, rt Route, opts sendOpts, up *routeResp) (*object, error) {
	routeObj := newObject()
	routeObj.set("name", rt.Name)
	routeObj.set("request", s.routeRequest(rc, opts))
	ct, _ := up.headers.get("content-type")
	if strings.Contains(jsString(orEmpty(ct)), openhimType) {
		env, err := parseJSON([]byte(jsString(up.body)))
		if err != nil {
			return nil, err
		}
		if isNullish(env) {
			return nil, typeError("Cannot read properties of null (reading 'x-mediator-urn')")
		}
		routeObj.set("mediatorURN", get(env, "x-mediator-urn"))
		routeObj.set("orchestrations", get(env, "orchestrations"))
		routeObj.set("properties", get(env, "properties"))
		routeObj.set("response", get(env, "response"))
		return routeObj, nil
	}
	res := newObject()
	res.set("status", float64(up.status))
	res.set("headers", up.headers)
	res.set("body", bodyString(up.body))
	res.set("timestamp", jsDate(up.timestamp))
	routeObj.set("response", res)
	return routeObj, nil
}
