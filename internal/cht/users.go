package cht

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"
)

// UserSettingsPrefix starts the _id of every user-settings doc in the medic
// database: org.couchdb.user:<username>. The same prefix ends a target doc's
// _id (target~<month>~<contact>~org.couchdb.user:<username>).
const UserSettingsPrefix = "org.couchdb.user:"

// User is a CHT user as its user-settings doc in the medic database
// describes it (shared-libs/user-management/src/users.js: type
// "user-settings", name, contact_id, facility_id, roles). The login doc in
// _users holds the same fields but needs admin rights; this copy is
// readable by an online user.
type User struct {
	Name string
	// FullName is the user's full name (fullname), usually its contact's
	// name.
	FullName  string
	ContactID string
	// FacilityIDs is facility_id: one place, or several in CHT versions
	// that allow users with multiple places.
	FacilityIDs []string
	Roles       []string
}

// Users streams every user-settings doc of the medic database to fn, in
// _id order. It pages _all_docs from "org.couchdb.user:" to
// "org.couchdb.user:\ufff0" with include_docs; docs that are not
// user-settings docs, deleted docs, docs of deleted users (inactive: true)
// and docs without a name are skipped. An
// error from fn stops the read and is returned as is.
func (c *Client) Users(ctx context.Context, fn func(User) error) error {
	const op = "fetch user-settings docs"
	params := url.Values{}
	params.Set("include_docs", "true")
	params.Set("endkey", string(encodeJSONString(UserSettingsPrefix+"\ufff0")))
	var dec userDecoder
	return c.scan(ctx, scan{op: op, path: c.dbEndpoint("_all_docs"), params: params,
		startKey: encodeJSONString(UserSettingsPrefix), doc: dec.splitDoc}, func(r *row) error {
		if !r.hasDoc() {
			return nil
		}
		u, ok := decodeUserRow(&dec, r)
		if !ok {
			return nil
		}
		if err := fn(u); err != nil {
			return callbackError{err}
		}
		return nil
	})
}

// decodeUser reads a user-settings doc with the walker of jsonscan.go
// (the doc is one row of a validated answer). The name comes from the
// doc's name, else from its _id. Member names match exactly and the last
// of repeated names counts, as with encoding/json.
func decodeUser(id string, raw []byte) (User, bool) {
	var m userMembers
	if !walkMembers(raw, &m) {
		return User{}, false
	}
	return m.user(id)
}

// userMembers are the raw values of the members of a user-settings doc
// that make a User (nil when absent).
type userMembers struct {
	typ, name, fullName, contactID, facilityID, roles, inactive []byte
}

func (m *userMembers) member(name, val []byte) {
	switch string(name) {
	case "type":
		m.typ = val
	case "name":
		m.name = val
	case "fullname":
		m.fullName = val
	case "contact_id":
		m.contactID = val
	case "facility_id":
		m.facilityID = val
	case "roles":
		m.roles = val
	case "inactive":
		m.inactive = val
	}
}

// user makes the User of the doc whose _id is id.
func (m *userMembers) user(id string) (User, bool) {
	// A deleted CHT user keeps its user-settings doc, marked inactive
	// (shared-libs/user-management/src/users.js deleteUser): not a user.
	if t, ok := jsonString(m.typ); !ok || t != "user-settings" || truthy(m.inactive) {
		return User{}, false
	}
	u := User{Name: strings.TrimPrefix(id, UserSettingsPrefix)}
	if n, ok := jsonString(m.name); ok && n != "" {
		u.Name = n
	}
	u.FullName, _ = jsonString(m.fullName)
	u.ContactID, _ = jsonString(m.contactID)
	u.FacilityIDs = stringOrStrings(m.facilityID)
	u.Roles = stringOrStrings(m.roles)
	return u, u.Name != ""
}

// userDecoder reads the user-settings docs of one read, while their rows
// are split when it can.
type userDecoder = memberDecoder[userMembers, *userMembers]

// decodeUserRow decodes the user-settings doc of r (see decodeUser).
func decodeUserRow(d *userDecoder, r *row) (User, bool) {
	m, ok := d.of(r)
	if !ok {
		return User{}, false
	}
	return m.user(r.ID)
}

// stringOrStrings reads a JSON string or an array of strings, skipping
// empty strings and anything else.
func stringOrStrings(raw []byte) []string {
	if s, ok := jsonString(raw); ok {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	if !isArray(raw) {
		return nil
	}
	var out []string
	it := elements(raw)
	for e, ok := it.next(); ok; e, ok = it.next() {
		if s, ok := jsonString(e); ok && s != "" {
			out = append(out, s)
		}
	}
	if it.bad {
		return nil
	}
	return out
}

// ReplicationLogPrefix starts the _id of the docs in which CHT API records
// each user's last successful replication, in the medic-logs database:
// replication-count-<username>, with user, date (ms since the epoch, the
// server's clock), count and all_docs_count. CHT rewrites the doc on every
// replication (api/src/services/replication/replication-limit-log.js,
// since CHT 3.10).
const ReplicationLogPrefix = "replication-count-"

// LogsDatabase is the name of the logs database of the configured medic
// database: CHT names it after the medic database with "-logs".
func (c *Client) LogsDatabase() string { return c.db + "-logs" }

// ErrNoLogsAccess wraps the error of a LastReplications call that could not
// read the logs database: 401, 403 (the configured user is not admitted by
// its _security) or 404 (no such database). Callers fall back to what the
// medic database tells.
var ErrNoLogsAccess = errors.New("cht: the logs database cannot be read")

type noLogsAccess struct{ err error }

func (e noLogsAccess) Error() string { return e.err.Error() }
func (e noLogsAccess) Unwrap() []error {
	return []error{e.err, ErrNoLogsAccess}
}

// LastReplications reads every replication-count-<user> doc of the logs
// database and returns each user's last successful replication. When the
// database cannot be read (401, 403, 404) the error matches
// ErrNoLogsAccess.
func (c *Client) LastReplications(ctx context.Context) (map[string]time.Time, error) {
	const op = "fetch replication logs"
	params := url.Values{}
	params.Set("include_docs", "true")
	params.Set("endkey", string(encodeJSONString(ReplicationLogPrefix+"\ufff0")))
	out := map[string]time.Time{}
	var dec logDecoder
	err := c.scan(ctx, scan{op: op, path: c.endpoint(c.LogsDatabase(), "_all_docs"), params: params,
		startKey: encodeJSONString(ReplicationLogPrefix), doc: dec.splitDoc}, func(r *row) error {
		if !r.hasDoc() {
			return nil
		}
		user, ms, ok := decodeLogRow(&dec, r)
		if !ok {
			return nil
		}
		t := time.UnixMilli(int64(ms)).UTC()
		if t.After(out[user]) {
			out[user] = t
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) {
			return nil, noLogsAccess{err}
		}
		return nil, err
	}
	return out, nil
}

// decodeReplicationLog reads a replication-count doc: its user (else the
// name in its _id) and its date in ms since the epoch, which must be a
// positive number.
func decodeReplicationLog(id string, raw []byte) (user string, ms float64, ok bool) {
	var m logMembers
	if !walkMembers(raw, &m) {
		return "", 0, false
	}
	return m.log(id)
}

// logMembers are the raw user and date of a replication-count doc (nil
// when absent).
type logMembers struct{ user, date []byte }

func (m *logMembers) member(name, val []byte) {
	switch string(name) {
	case "user":
		m.user = val
	case "date":
		m.date = val
	}
}

// log reads the user and date of the doc whose _id is id.
func (m *logMembers) log(id string) (user string, ms float64, ok bool) {
	ms, err := jsonNumber(m.date) // absent and null are not numbers
	if err != nil || ms <= 0 {
		return "", 0, false
	}
	user, ok = jsonString(m.user)
	if !ok || user == "" {
		user = strings.TrimPrefix(id, ReplicationLogPrefix)
	}
	return user, ms, true
}

// logDecoder reads the replication-count docs of one read, while their
// rows are split when it can.
type logDecoder = memberDecoder[logMembers, *logMembers]

// decodeLogRow decodes the replication-count doc of r (see
// decodeReplicationLog).
func decodeLogRow(d *logDecoder, r *row) (user string, ms float64, ok bool) {
	m, ok := d.of(r)
	if !ok {
		return "", 0, false
	}
	return m.log(r.ID)
}

// Role is one entry of app_settings roles ({"chw": {"name":
// "usertype.chw", "offline": true}}).
type Role struct {
	Offline bool
}

// decodeRoles reads app_settings roles and permissions; a part of the
// wrong shape is skipped with a warning.
func decodeRoles(rolesRaw, permsRaw json.RawMessage, warn warnFunc) (map[string]Role, map[string][]string) {
	var roles map[string]Role
	if len(rolesRaw) > 0 && !isNull(rolesRaw) {
		var w map[string]json.RawMessage
		if !isObject(rolesRaw) || json.Unmarshal(rolesRaw, &w) != nil {
			warn("roles is not an object; every role counts as unconfigured")
		} else {
			roles = make(map[string]Role, len(w))
			for name, r := range w {
				var role struct {
					Offline json.RawMessage `json:"offline"`
				}
				if isObject(r) {
					_ = json.Unmarshal(r, &role)
				}
				roles[name] = Role{Offline: truthy(role.Offline)}
			}
		}
	}
	var perms map[string][]string
	if len(permsRaw) > 0 && !isNull(permsRaw) {
		var w map[string]json.RawMessage
		if !isObject(permsRaw) || json.Unmarshal(permsRaw, &w) != nil {
			warn("permissions is not an object; ignored")
		} else {
			perms = make(map[string][]string, len(w))
			for name, r := range w {
				perms[name] = stringOrStrings(r)
			}
		}
	}
	return roles, perms
}

// Online roles: CouchDB and CHT admins and the role CHT API gives online
// users (shared-libs/constants/src/index.js DB_ADMIN_ROLES and
// USER_ROLES.ONLINE).
var onlineRoles = map[string]bool{"_admin": true, "admin": true, "mm-online": true}

// Offline reports whether a user with roles replicates, by CHT's own rule
// (shared-libs/user-management/src/roles.js isOffline): it has roles, none
// of them is an online role, and either none of its roles is configured in
// app_settings roles or at least one configured one has offline: true.
func (s Settings) Offline(roles []string) bool {
	if len(roles) == 0 {
		return false
	}
	configured, offline := 0, false
	for _, r := range roles {
		if onlineRoles[r] {
			return false
		}
		if cfg, ok := s.Roles[r]; ok {
			configured++
			offline = offline || cfg.Offline
		}
	}
	return configured == 0 || offline
}

// ComputesTargets reports whether a user with roles has its device write
// target docs: an offline user holding can_view_tasks or
// can_view_analytics (webapp/src/ts/services/rules-engine.service.ts starts
// the rules engine only then). When app_settings has no permissions at all
// the permission part cannot be judged and is taken as held.
func (s Settings) ComputesTargets(roles []string) bool {
	if !s.Offline(roles) {
		return false
	}
	if s.Permissions == nil {
		return true
	}
	for _, perm := range []string{"can_view_tasks", "can_view_analytics"} {
		for _, r := range s.Permissions[perm] {
			for _, mine := range roles {
				if r == mine {
					return true
				}
			}
		}
	}
	return false
}
