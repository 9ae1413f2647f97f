package sandbox

// Reruns (OpenHIM core src/tasks.js), polling channels (OpenHIM core src/model/channels.js) and the transactions API.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rerun reruns a stored transaction as a console rerun task does (POST
// /tasks): the stored request (method, path, query string, headers incl.
// the client's Authorization, the body only for POST and PUT) plus
// clientid, parentid and taskid headers, through the original channel as
// it is configured now, without client authentication or matching. It
// returns the new child transaction; the original gets childIDs and
// wasRerun. It fails when canRerun is false, when the channel is gone,
// disabled or deleted, or the transaction is unknown.
func (s *Server) Rerun(txID string) (Transaction, error) {
	s.mu.Lock()
	ex, err := s.rerunExchange(txID, s.newID())
	s.mu.Unlock()
	if err != nil {
		return Transaction{}, err
	}
	return s.runRerun(txID, ex), nil
}

func (s *Server) runRerun(parentID string, ex *exchange) Transaction {
	_, child := s.process(ex)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.findTx(parentID); p != nil {
		p.ChildIDs = append(p.ChildIDs, child.ID)
		p.WasRerun = true
	}
	s.log.Info("transaction rerun", "parent", parentID, "child", child.ID, "status", child.Status)
	return child
}

func (s *Server) rerunExchange(txID, taskID string) (*exchange, error) {
	tx := s.findTx(txID)
	if tx == nil {
		return nil, fmt.Errorf("rerun %s: transaction not found", txID)
	}
	if !tx.CanRerun {
		return nil, fmt.Errorf("rerun %s: the transaction cannot be rerun (canRerun is false)", txID)
	}
	chRec := s.channelByID(tx.ChannelID)
	if chRec == nil {
		return nil, fmt.Errorf("rerun %s: channel %s not found", txID, tx.ChannelID)
	}
	ch := channelOf(chRec)
	if ch.Status != "" && ch.Status != "enabled" {
		return nil, fmt.Errorf("rerun %s: channel %q is %s", txID, ch.Name, ch.Status)
	}
	req := tx.Request
	h := newObject()
	keys := make([]string, 0, len(req.Headers))
	for k := range req.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.set(strings.ToLower(unescapedName(k)), fromPlain(req.Headers[k]))
	}
	h.del("x-openhim-transactionid")
	if tx.ClientID != "" {
		h.set("clientid", tx.ClientID)
	}
	h.set("parentid", tx.ID)
	h.set("taskid", taskID)
	host := jsString(orEmpty(get(h, "host")))
	ex := &exchange{
		chanRec: chRec, channel: ch, method: req.Method, path: req.Path, rawQuery: req.Querystring,
		headers: h, host: host, ip: "127.0.0.1", reqTime: s.now(), parentID: tx.ID, taskID: taskID,
	}
	if req.Method == "POST" || req.Method == "PUT" {
		ex.body = []byte(req.Body)
	}
	if tx.ClientID != "" {
		ex.client = s.clientByID(tx.ClientID)
	}
	setOrAppend(h, "x-forwarded-for", ex.ip)
	setOrAppend(h, "x-forwarded-host", host)
	return ex, nil
}

// postTask is POST /tasks {"tids": [...], "batchSize"?, "paused"?}. The
// sandbox runs the reruns before answering (core queues them and a task
// runner picks them up); a paused task is never run.
func (s *Server) postTask(c *apiCtx) reply {
	tids := get(c.body, "tids")
	if _, err := prop(tids, "length"); err != nil {
		return text(http.StatusInternalServerError, "Could not add Task via the API: "+errString(err))
	}
	if b := get(c.body, "batchSize"); !isNullish(b) && jsNum(b) <= 0 {
		return text(http.StatusBadRequest, "Invalid batch size specified")
	}
	ids := arrayFrom(tids)
	if !c.isAdmin() {
		groups := arrayFrom(c.user.doc.vals["groups"])
		for _, id := range ids {
			tx := s.findTx(jsString(id))
			if tx == nil {
				continue
			}
			ch := s.channelByID(tx.ChannelID)
			ok := ch != nil && slices.ContainsFunc(arrayFrom(ch.doc.vals["txRerunAcl"]), func(g any) bool { return slices.Contains(groups, g) })
			if !ok {
				return text(http.StatusForbidden, "Insufficient permissions prevents this rerun task from being created")
			}
		}
	}
	for _, id := range ids {
		if tx := s.findTx(jsString(id)); tx != nil {
			if ch := s.channelByID(tx.ChannelID); ch != nil {
				if st, _ := ch.doc.vals["status"].(string); st != "" && st != "enabled" {
					return text(http.StatusBadRequest, "Cannot queue task as there are transactions with disabled or deleted channels")
				}
			}
		}
	}
	taskID := s.newID()
	if !truthy(get(c.body, "paused")) {
		var runs []func()
		for _, id := range ids {
			tid := jsString(id)
			ex, err := s.rerunExchange(tid, taskID)
			if err != nil {
				s.log.Warn("rerun task: transaction not rerun", "task", taskID, "err", err)
				continue
			}
			runs = append(runs, func() { s.runRerun(tid, ex) })
		}
		c.after = func() {
			for _, run := range runs {
				run()
			}
		}
	}
	return text(http.StatusCreated, fmt.Sprintf("User %s created task with id %s", c.email(), taskID))
}

// Poll triggers a polling channel now, as core's poller does on schedule:
// a GET to core's polling port, path /trigger, no query string, headers
// channel-id and X-OpenHIM-LastRunAt, routed without client
// authentication or matching. The route therefore needs a path (or a
// pathTransform applied to "/trigger"). The sandbox does not run
// pollingSchedule itself.
func (s *Server) Poll(channelName string) (Transaction, error) {
	s.mu.Lock()
	r := s.channelByName(channelName)
	if r == nil {
		s.mu.Unlock()
		return Transaction{}, fmt.Errorf("poll %q: no such channel", channelName)
	}
	ex, err := s.pollExchange(r)
	s.mu.Unlock()
	if err != nil {
		return Transaction{}, err
	}
	_, tx := s.process(ex)
	return tx, nil
}

var errNotPolling = errors.New("not a polling channel")

func (s *Server) pollExchange(r *docRec) (*exchange, error) {
	ch := channelOf(r)
	if ch.Type != "polling" {
		return nil, fmt.Errorf("poll %q: %w (type %q)", ch.Name, errNotPolling, ch.Type)
	}
	if ch.Status != "" && ch.Status != "enabled" {
		return nil, fmt.Errorf("poll %q: channel is %s", ch.Name, ch.Status)
	}
	now := s.now()
	const host = "localhost:7788"
	h := newObject()
	h.set("channel-id", r.id)
	h.set("x-openhim-lastrunat", jsDateString(now))
	h.set("host", host)
	h.set("connection", "close")
	dummy := newObject()
	dummy.set("clientID", "DUMMY-POLLING-USER")
	dummy.set("clientDomain", "openhim.org")
	dummy.set("name", "DUMMY-POLLING-USER")
	dummy.set("roles", []any{"polling"})
	ex := &exchange{
		chanRec: r, channel: ch, client: &docRec{id: s.newID(), doc: dummy}, method: http.MethodGet,
		path: "/trigger", headers: h, host: host, ip: "127.0.0.1", reqTime: now,
	}
	setOrAppend(h, "x-forwarded-for", ex.ip)
	setOrAppend(h, "x-forwarded-host", host)
	return ex, nil
}

// jsDateString is Date#toString in UTC.
func jsDateString(t time.Time) string {
	return t.UTC().Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (Coordinated Universal Time)"
}

// postTrigger is POST /channels/:id/trigger (manual poll).
func (s *Server) postTrigger(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("triggerChannel")
	}
	r := s.channelByID(c.params[0])
	if r == nil {
		return text(http.StatusNotFound, fmt.Sprintf("We could not find a channel with Id:'%s'.", c.params[0]))
	}
	ex, err := s.pollExchange(r)
	if err != nil {
		return text(http.StatusBadRequest, err.Error())
	}
	c.after = func() { s.process(ex) }
	return statusOnly(http.StatusOK)
}

// getTransactions is GET /transactions: newest first; non-admins see the
// channels whose txViewAcl holds one of their groups.
func (s *Server) getTransactions(c *apiCtx) reply {
	out := []Transaction{}
	match, err := transactionFilter(c.r.URL.Query())
	if err != nil {
		// JSON.parse throws in the handler's try: 500 (OpenHIM core src/api/transactions.js).
		return text(http.StatusInternalServerError, "Could not retrieve transactions via the API: "+err.Error())
	}
	limit, _ := strconv.Atoi(c.r.URL.Query().Get("filterLimit"))
	page, _ := strconv.Atoi(c.r.URL.Query().Get("filterPage"))
	skip := page * limit
	for i := len(s.txs) - 1; i >= 0; i-- {
		tx := s.txs[i]
		if !match(tx) {
			continue
		}
		if !c.isAdmin() {
			ch := s.channelByID(tx.ChannelID)
			if ch == nil || !s.userMayView(c, ch) {
				continue
			}
		}
		if q := c.r.URL.Query().Get("channelID"); q != "" && q != tx.ChannelID {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, cloneTx(tx))
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return jsonReply(http.StatusOK, out)
}

// transactionFilter is the part of getTransactions' filters query
// parameter (a JSON object, OpenHIM core src/api/transactions.js
// parseTransactionFilters) the sandbox models: status and channelID by
// equality, and properties: {key: value} (only its first key; null: the
// property exists). Newest first, filterLimit and filterPage as core.
func transactionFilter(q url.Values) (func(*Transaction) bool, error) {
	raw := q.Get("filters")
	if raw == "" {
		return func(*Transaction) bool { return true }, nil
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return nil, fmt.Errorf("SyntaxError: %v", err)
	}
	var status, channel *string
	var propKey string
	var propVal *string
	for k, v := range f {
		switch k {
		case "status", "channelID":
			var str string
			if err := json.Unmarshal(v, &str); err != nil {
				return nil, fmt.Errorf("sandbox: filter %s must be a string", k)
			}
			if k == "status" {
				status = &str
			} else {
				channel = &str
			}
		case "properties":
			var props map[string]*string
			if err := json.Unmarshal(v, &props); err != nil || len(props) != 1 {
				return nil, fmt.Errorf("sandbox: the properties filter must be an object of one string (or null) member")
			}
			for pk, pv := range props {
				propKey, propVal = pk, pv
			}
		default:
			return nil, fmt.Errorf("sandbox: filter %s is not modelled", k)
		}
	}
	return func(tx *Transaction) bool {
		if status != nil && tx.Status != *status || channel != nil && tx.ChannelID != *channel {
			return false
		}
		if propKey != "" {
			props, _ := tx.Properties.(map[string]any)
			v, ok := props[propKey]
			if !ok || propVal != nil && v != *propVal {
				return false
			}
		}
		return true
	}, nil
}

func (s *Server) getTransaction(c *apiCtx) reply {
	tx := s.findTx(c.params[0])
	if tx == nil {
		return text(http.StatusNotFound, fmt.Sprintf("Could not find transaction with ID: %s", c.params[0]))
	}
	if !c.isAdmin() {
		ch := s.channelByID(tx.ChannelID)
		if ch == nil || !s.userMayView(c, ch) {
			return c.notAdmin("getTransactionById")
		}
	}
	return jsonReply(http.StatusOK, cloneTx(tx))
}

// putTransaction is updateTransaction of core 8.5.0 (OpenHIM core
// src/api/transactions.js): admins only; an update with an error member
// (or a route with one) marks the transaction for auto-retry and queues it,
// unless the channel's autoRetryMaxAttempts is reached; the fields are then
// set as given (findByIdAndUpdate, cast to the schema, unknown fields
// dropped, no validators). A missing transaction throws in core: 500.
// Core's enforceMaxBodiesSize on the update is not modelled (the bodies
// here stay far below its 15 MiB).
func (s *Server) putTransaction(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("updateTransaction")
	}
	id := c.params[0]
	fail := func(err string) reply {
		return text(http.StatusInternalServerError, "Could not update transaction via the API: "+err)
	}
	tx := s.findTx(id)
	if tx == nil {
		return fail("TypeError: Cannot read properties of null (reading 'channelID')")
	}
	updates, _ := c.body.(*object)
	if updates == nil {
		updates = newObject()
	}
	hasError := !isNullish(get(updates, "error"))
	for _, r := range arrayFrom(get(updates, "routes")) {
		if truthy(get(r, "error")) {
			hasError = true
		}
	}
	next := cloneTx(tx)
	if hasError {
		ch := s.channelByID(tx.ChannelID)
		var max *int
		if ch != nil {
			max = channelOf(ch).AutoRetryMaxAttempts
		}
		if !(max != nil && *max > 0 && tx.AutoRetryAttempt >= *max) {
			updates.set("autoRetry", true)
			s.retryQueue = append(s.retryQueue, retryEntry{txID: tx.ID, channelID: tx.ChannelID, requestTime: tx.Request.Timestamp})
		}
	}
	for _, k := range updates.keys {
		v := updates.vals[k]
		var err error
		switch k {
		case "status":
			next.Status, err = castStr(v, "status")
		case "response":
			next.Response, err = castResponse(v, "response")
		case "error":
			next.Error, err = castErrorDetails(v)
		case "properties":
			next.Properties = plain(v)
		case "autoRetry":
			next.AutoRetry = truthy(v)
		case "orchestrations":
			next.Orchestrations = []Orchestration{}
			for i, o := range arrayFrom(v) {
				var so Orchestration
				if so, err = castOrchestration(o, false, fmt.Sprintf("orchestrations.%d", i)); err != nil {
					break
				}
				next.Orchestrations = append(next.Orchestrations, so)
			}
		}
		if err != nil {
			return fail(errString(err))
		}
	}
	*tx = next
	return text(http.StatusOK, "Transaction with ID: "+id+" successfully updated")
}
