package sandbox

// Storing a transaction's outcome (core:src/middleware/messageStore.js):
// the final status, then the response, error, orchestrations and
// properties in one validated update (OpenHIM core src/middleware/router.js; OpenHIM core src/middleware/messageStore.js; OpenHIM core src/utils.js).

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

// transactionStatuses are the values of the Transaction status enum.
var transactionStatuses = []string{"Processing", "Failed", "Completed", "Successful", "Completed with error(s)", "Pending Async"}

// jsNum is the number a relational comparison coerces to.
func jsNum(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		return jsToNumber(x)
	case bool:
		if x {
			return 1
		}
		return 0
	case nil:
		return 0
	}
	return math.NaN()
}

// setFinalStatus is messageStore.setFinalStatus (OpenHIM core src/middleware/messageStore.js).
func (s *Server) setFinalStatus(rc *routeCtx) {
	tx := rc.tx
	var status string
	if st := get(rc.mediator, "status"); !isNullish(st) {
		switch x := st.(type) {
		case string:
			status = x // unknown strings are written unchecked (OpenHIM core src/middleware/router.js)
			if !slices.Contains(transactionStatuses, x) {
				s.log.Warn("unknown transaction status written; core fails later saves of this transaction", "tx", tx.ID, "status", x)
			}
		case float64, bool:
			status = jsString(x)
		default:
			s.log.Warn("transaction status not stored: cast error", "tx", tx.ID, "status", inspect(st))
			return
		}
	} else {
		routeFailures, routeSuccess := false, true
		for _, ro := range rc.statusFor {
			st := jsNum(get(get(ro, "response"), "status"))
			if st >= 500 && st <= 599 {
				routeFailures = true
			}
			if !(st >= 200 && st <= 299) {
				routeSuccess = false
			}
		}
		p := rc.res.status
		status = "Processing"
		if p >= 500 && p <= 599 {
			status = "Failed"
		} else {
			if routeFailures {
				status = "Completed with error(s)"
			}
			if p >= 200 && p <= 299 && routeSuccess {
				status = "Successful"
				if rc.ex.channel.IsAsynchronousProcess {
					// The service finishes the transaction later, through
					// PUT /transactions/:id.
					status = "Pending Async"
				}
			}
			if p >= 400 && p <= 499 && routeSuccess {
				status = "Completed"
			}
		}
		if status == "Processing" {
			status = "Completed"
		}
	}
	tx.Status = status
	if rc.autoRetry.Load() {
		ch := rc.ex.channel
		reached := ch.AutoRetryMaxAttempts != nil && *ch.AutoRetryMaxAttempts > 0 && tx.AutoRetryAttempt >= *ch.AutoRetryMaxAttempts
		tx.AutoRetry = !reached
		if tx.AutoRetry {
			// messageStore.js: queueForRetry after the update.
			s.retryQueue = append(s.retryQueue, retryEntry{txID: tx.ID, channelID: tx.ChannelID, requestTime: tx.Request.Timestamp})
		}
	}
}

// byteLengthError is what Buffer.byteLength throws for a non-string body.
func byteLengthError(v any) error {
	return &jsError{"TypeError [ERR_INVALID_ARG_TYPE]", fmt.Sprintf(
		`The "string" argument must be of type string or an instance of Buffer or ArrayBuffer. Received %s`, describeArg(v))}
}

func describeArg(v any) string {
	switch x := v.(type) {
	case *object:
		return "an instance of Object"
	case []any:
		return "an instance of Array"
	case float64:
		return "type number (" + jsNumber(x) + ")"
	case bool:
		return fmt.Sprintf("type boolean (%t)", x)
	}
	return "type " + typeOf(v)
}

// objectAssign is Object.assign({}, v).
func objectAssign(v any) *object {
	o := newObject()
	switch x := v.(type) {
	case *object:
		for _, k := range x.keys {
			o.set(k, x.vals[k])
		}
	case []any, string:
		for _, k := range forInKeys(x) {
			o.set(k, get(x, k))
		}
	}
	return o
}

// truncateBodies applies the body limit to an orchestration's request and
// response bodies; a truthy non-string body throws (OpenHIM core src/middleware/router.js).
func (s *Server) truncateBodies(rc *routeCtx, orch *object) error {
	for _, part := range []string{"request", "response"} {
		p := get(orch, part)
		if !truthy(p) {
			continue
		}
		b := get(p, "body")
		if !truthy(b) {
			continue
		}
		str, ok := b.(string)
		if !ok {
			return byteLengthError(b)
		}
		if nb, cut := s.enforceMaxBodies(rc, str); cut {
			setProp(p, "body", nb)
		}
	}
	return nil
}

// storeResponse is messageStore.storeResponse. A returned error is a throw
// (the client then gets Koa's 500); a failed validation only leaves the
// response unstored, as the update is rejected as a whole.
func (s *Server) storeResponse(rc *routeCtx) error {
	k := rc.res
	if rc.ex.channel.IsAsynchronousProcess && k.status < 400 {
		// An asynchronous channel's successful answer becomes a 202, for
		// the client and in the stored response (OpenHIM core src/middleware/messageStore.js
		// storeResponse).
		_ = k.setStatus(float64(http.StatusAccepted)) // a valid code: cannot fail
	}
	res := &Response{Status: k.status, Headers: k.storedHeaders(), Body: bodyString(k.body)}
	if rb := rc.ex.channel.ResponseBody; rb != nil && !*rb {
		res.Body = ""
	}
	if b, cut := s.enforceMaxBodies(rc, res.Body); cut {
		res.Body = b
	}
	var orchs []any
	var props any = undefined
	if !isNullish(rc.mediator) {
		if o := get(rc.mediator, "orchestrations"); truthy(o) {
			arr, ok := o.([]any)
			if !ok {
				return typeError("ctx.mediatorResponse.orchestrations.map is not a function")
			}
			for i, orch := range arr {
				if isNullish(get(orch, "request")) {
					s.log.Warn("orchestration without request: core's event code would crash its worker on it (OpenHIM core src/middleware/router.js)",
						"tx", rc.tx.ID, "orchestration", i)
				}
				c := objectAssign(orch)
				if err := s.truncateBodies(rc, c); err != nil {
					return err
				}
				orchs = append(orchs, c)
			}
		}
		if p := get(rc.mediator, "properties"); truthy(p) {
			props = p
		}
	}
	for _, co := range rc.coreOrchs {
		c := objectAssign(co)
		if err := s.truncateBodies(rc, c); err != nil {
			return err
		}
		orchs = append(orchs, c)
	}

	// The update runs with runValidators: one bad path rejects it all.
	fail := func(err error) error {
		s.log.Warn("transaction response not stored", "tx", rc.tx.ID, "err", errString(err))
		return nil
	}
	ts, err := castDateValue(k.timestamp, "timestamp")
	if err != nil {
		return fail(err)
	}
	res.Timestamp = ts
	errDetails, err := castErrorDetails(rc.err)
	if err != nil {
		return fail(err)
	}
	stored := make([]Orchestration, 0, len(orchs))
	for i, o := range orchs {
		so, err := castOrchestration(o, true, fmt.Sprintf("orchestrations.%d", i))
		if err != nil {
			return fail(err)
		}
		stored = append(stored, so)
	}
	tx := rc.tx
	tx.Response = res
	tx.Error = errDetails
	tx.Orchestrations = stored
	if !isNullish(props) {
		tx.Properties = plain(props)
	}
	return nil
}

// storeRoutes stores the non-primary results (storeNonPrimaryResponse): the
// body blanked when the channel's responseBody is false; a result that does
// not cast is not stored.
func (s *Server) storeRoutes(rc *routeCtx) {
	for _, ro := range rc.routes {
		if r, ok := get(ro, "response").(*object); ok {
			if rb := rc.ex.channel.ResponseBody; rb != nil && !*rb {
				r.set("body", "")
			}
			if b, ok := r.vals["body"].(string); ok {
				if nb, cut := s.enforceMaxBodies(rc, b); cut {
					r.set("body", nb)
				}
			}
		}
		rr, err := castRouteResult(ro)
		if err != nil {
			s.log.Warn("route result not stored", "tx", rc.tx.ID, "err", errString(err))
			continue
		}
		rc.tx.Routes = append(rc.tx.Routes, rr)
	}
}

func castFailure(kind string, v any, path string) error {
	s := inspect(v)
	if len(s) > 1 && s[0] == '\'' {
		s = s[1 : len(s)-1]
	}
	return &castError{fmt.Sprintf(`Cast to %s failed for value "%s" (type %s) at path "%s"`, kind, s, valueType(v), path)}
}

func castStr(v any, path string) (string, error) {
	switch x := v.(type) {
	case nil, undef:
		return "", nil
	case string:
		return x, nil
	case float64, bool:
		return jsString(x), nil
	}
	return "", castFailure("string", v, path)
}

func castDateValue(v any, path string) (time.Time, error) {
	if isNullish(v) {
		return time.Time{}, nil
	}
	if s, ok := v.(string); ok && s == "" {
		return time.Time{}, nil
	}
	d, ok := castDate(v)
	if !ok {
		return time.Time{}, castFailure("date", v, path)
	}
	return time.Time(d), nil
}

func castHeaders(v any) map[string]any {
	if o, ok := v.(*object); ok {
		m, _ := plain(o).(map[string]any)
		return m
	}
	return nil
}

func castErrorDetails(v any) (*ErrorDetails, error) {
	if isNullish(v) {
		return nil, nil
	}
	o, ok := v.(*object)
	if !ok {
		return nil, castFailure("Embedded", v, "error")
	}
	msg, err := castStr(get(o, "message"), "error.message")
	if err != nil {
		return nil, err
	}
	stack, err := castStr(get(o, "stack"), "error.stack")
	if err != nil {
		return nil, err
	}
	return &ErrorDetails{Message: msg, Stack: stack}, nil
}

func castRequest(v any, validate bool, path string) (*Request, error) {
	if isNullish(v) {
		return nil, nil
	}
	o, ok := v.(*object)
	if !ok {
		return nil, castFailure("Embedded", v, path)
	}
	var r Request
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"host", &r.Host}, {"port", &r.Port}, {"path", &r.Path}, {"querystring", &r.Querystring},
		{"body", &r.Body}, {"method", &r.Method}} {
		if *f.dst, err = castStr(get(o, f.name), path+"."+f.name); err != nil {
			return nil, err
		}
	}
	r.Headers = castHeaders(get(o, "headers"))
	if r.Timestamp, err = castDateValue(get(o, "timestamp"), path+".timestamp"); err != nil {
		return nil, err
	}
	if validate && r.Timestamp.IsZero() {
		return nil, &validationError{model: "Transaction", errs: []fieldError{{path: path + ".timestamp", msg: "Path `timestamp` is required."}}}
	}
	return &r, nil
}

func castResponse(v any, path string) (*Response, error) {
	if isNullish(v) {
		return nil, nil
	}
	o, ok := v.(*object)
	if !ok {
		return nil, castFailure("Embedded", v, path)
	}
	var r Response
	switch st := get(o, "status").(type) {
	case nil, undef:
	case float64:
		r.Status = int(st)
	case bool:
		if st {
			r.Status = 1
		}
	case string:
		n := jsToNumber(st)
		if st != "" && math.IsNaN(n) {
			return nil, castFailure("Number", st, path+".status")
		}
		r.Status = int(n)
	default:
		return nil, castFailure("Number", st, path+".status")
	}
	var err error
	if r.Body, err = castStr(get(o, "body"), path+".body"); err != nil {
		return nil, err
	}
	r.Headers = castHeaders(get(o, "headers"))
	if r.Timestamp, err = castDateValue(get(o, "timestamp"), path+".timestamp"); err != nil {
		return nil, err
	}
	return &r, nil
}

// castOrchestration casts (and with validate, validates: name and
// request.timestamp required) one orchestration (OpenHIM core src/middleware/router.js).
func castOrchestration(v any, validate bool, path string) (Orchestration, error) {
	o, ok := v.(*object)
	if !ok {
		return Orchestration{}, castFailure("Embedded", v, path)
	}
	var out Orchestration
	var err error
	if out.Name, err = castStr(get(o, "name"), path+".name"); err != nil {
		return out, err
	}
	if validate && out.Name == "" {
		return out, &validationError{model: "Transaction", errs: []fieldError{{path: path + ".name", msg: "Path `name` is required."}}}
	}
	if out.Group, err = castStr(get(o, "group"), path+".group"); err != nil {
		return out, err
	}
	if out.Request, err = castRequest(get(o, "request"), validate, path+".request"); err != nil {
		return out, err
	}
	if out.Response, err = castResponse(get(o, "response"), path+".response"); err != nil {
		return out, err
	}
	if out.Error, err = castErrorDetails(get(o, "error")); err != nil {
		return out, err
	}
	return out, nil
}

func castRouteResult(ro *object) (RouteResult, error) {
	var rr RouteResult
	var err error
	if rr.Name, err = castStr(get(ro, "name"), "routes.name"); err != nil {
		return rr, err
	}
	if rr.Request, err = castRequest(get(ro, "request"), false, "routes.request"); err != nil {
		return rr, err
	}
	if rr.Response, err = castResponse(get(ro, "response"), "routes.response"); err != nil {
		return rr, err
	}
	if orchs := get(ro, "orchestrations"); !isNullish(orchs) {
		arr, ok := orchs.([]any)
		if !ok {
			arr = []any{orchs}
		}
		for i, o := range arr {
			so, err := castOrchestration(o, false, fmt.Sprintf("routes.orchestrations.%d", i))
			if err != nil {
				return rr, err
			}
			rr.Orchestrations = append(rr.Orchestrations, so)
		}
	}
	if p := get(ro, "properties"); !isNullish(p) {
		rr.Properties = plain(p)
	}
	if rr.MediatorURN, err = castStr(get(ro, "mediatorURN"), "routes.mediatorURN"); err != nil {
		return rr, err
	}
	if rr.Error, err = castErrorDetails(get(ro, "error")); err != nil {
		return rr, err
	}
	return rr, nil
}
