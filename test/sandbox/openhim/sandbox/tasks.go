package sandbox

// Reruns (OpenHIM core src/tasks.js), polling channels (OpenHIM core src/model/channels.js) and the transactions API.

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	for i := len(s.txs) - 1; i >= 0; i-- {
		tx := s.txs[i]
		if !c.isAdmin() {
			ch := s.channelByID(tx.ChannelID)
			if ch == nil || !s.userMayView(c, ch) {
				continue
			}
		}
		if q := c.r.URL.Query().Get("channelID"); q != "" && q != tx.ChannelID {
			continue
		}
		out = append(out, cloneTx(tx))
	}
	return jsonReply(http.StatusOK, out)
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
