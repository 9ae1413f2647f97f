package sandbox

// Metadata import and export (OpenHIM core src/api/metadata.js, core:src/api/metadata.js).

import (
	"fmt"
	"net/http"
)

type collection struct {
	name   string
	model  string
	fields []field
	uidKey string
	list   func(s *Server) *[]*docRec
}

var collections = []collection{
	{"Channels", "Channel", channelFields, "name", func(s *Server) *[]*docRec { return &s.channels }},
	{"Clients", "Client", clientFields, "clientID", func(s *Server) *[]*docRec { return &s.clients }},
	{"Mediators", "Mediator", mediatorFields, "urn", nil},
	{"Users", "User", userFields, "email", func(s *Server) *[]*docRec { return &s.users }},
	{"ContactGroups", "ContactGroup", contactGroupFields, "group", func(s *Server) *[]*docRec { return &s.contactGroups }},
	{"Passports", "Passport", passportFields, "email", func(s *Server) *[]*docRec { return &s.passports }},
}

func findCollection(name string) *collection {
	for i := range collections {
		if collections[i].name == name {
			return &collections[i]
		}
	}
	return nil
}

// ImportMetadata does what POST /metadata does with body (a JSON object
// keyed by collection: Channels, Clients, Mediators, Users, Passports,
// ContactGroups). Documents are upserted by their unique key with mongoose
// validation on insert and none of the API checks. Check every result's
// Status; the error is only for a body that is not JSON.
func (s *Server) ImportMetadata(body []byte) ([]MetadataResult, error) {
	v, err := parseJSON(body)
	if err != nil {
		return nil, fmt.Errorf("import metadata: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.importMetadata(v, "import"), nil
}

// existing finds the stored document with the collection's unique key.
func (s *Server) existing(col *collection, doc any) (mediator *mediatorRec, rec *docRec) {
	uid := get(doc, col.uidKey)
	if isNullish(uid) {
		return nil, nil
	}
	if col.name == "Mediators" {
		return s.findMediator(jsString(uid)), nil
	}
	for _, r := range *col.list(s) {
		if strictEquals(r.doc.vals[col.uidKey], uid) {
			if col.name == "Passports" && !strictEquals(r.doc.vals["protocol"], get(doc, "protocol")) {
				continue
			}
			return nil, r
		}
	}
	return nil, nil
}

func (s *Server) importMetadata(body any, action string) []MetadataResult {
	out := []MetadataResult{}
	for _, key := range forInKeys(body) {
		for _, doc := range arrayFrom(get(body, key)) {
			col := findCollection(key)
			if col == nil {
				out = append(out, MetadataResult{Model: key, Record: plain(doc), Status: "Error", Message: "Invalid Collection in Import Object", UID: nil})
				continue
			}
			uid := plain(get(doc, col.uidKey))
			status, record, err := s.importDoc(col, doc, action)
			res := MetadataResult{Model: key, Record: record, Status: status, UID: uid}
			if err != nil {
				res.Status, res.Message = "Error", errMessage(err)
				if record == nil {
					res.Record = plain(doc)
				}
			}
			out = append(out, res)
		}
	}
	return out
}

func (s *Server) importDoc(col *collection, doc any, action string) (status string, record any, err error) {
	med, rec := s.existing(col, doc)
	found := med != nil || rec != nil
	if action == "validate" {
		if found {
			return "Conflict", plain(doc), nil
		}
		if _, err := castInsert(col.model, col.fields, doc, s.newID); err != nil {
			return "", nil, fmt.Errorf("Document Validation failed: %s", errString(err))
		}
		return "Valid", plain(doc), nil
	}
	if found {
		d, _ := doc.(*object)
		if d != nil {
			d = clone(d).(*object)
			d.del("_id")
		}
		upd, err := castUpdate(col.fields, d, s.newID)
		if err != nil {
			return "", nil, err
		}
		target := rec
		if med != nil {
			target = &med.docRec
			med.writes++
		}
		for _, k := range upd.keys {
			target.doc.set(k, upd.vals[k])
		}
		return "Updated", plain(d), nil
	}
	var saved *docRec
	switch col.name {
	case "Channels":
		saved, err = s.insertChannel(doc)
	case "Clients":
		saved, err = s.insertClient(doc)
	case "Mediators":
		var d *object
		if d, err = castInsert(col.model, col.fields, doc, s.newID); err == nil {
			m := &mediatorRec{docRec: docRec{id: s.newID(), doc: d}, writes: 1}
			s.mediators = append(s.mediators, m)
			saved = &m.docRec
		}
	default:
		var d *object
		if d, err = castInsert(col.model, col.fields, doc, s.newID); err == nil {
			saved = &docRec{id: s.newID(), doc: d}
			list := col.list(s)
			*list = append(*list, saved)
		}
	}
	if err != nil {
		return "", nil, err
	}
	return "Inserted", plain(withID(saved)), nil
}

func (s *Server) postMetadata(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("importMetadata")
	}
	return jsonReply(http.StatusCreated, s.importMetadata(c.body, "import"))
}

func (s *Server) postMetadataValidate(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("importMetadata")
	}
	return jsonReply(http.StatusCreated, s.importMetadata(c.body, "validate"))
}

// getMetadata is GET /metadata: an array holding one object keyed by
// collection, _id and __v removed.
func (s *Server) getMetadata(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("getMetadata")
	}
	exp := newObject()
	for _, col := range collections {
		var docs []any
		if col.name == "Mediators" {
			for _, m := range s.mediators {
				docs = append(docs, withoutIDs(clone(m.doc)))
			}
		} else {
			for _, r := range *col.list(s) {
				docs = append(docs, withoutIDs(clone(r.doc)))
			}
		}
		if docs == nil {
			docs = []any{}
		}
		exp.set(col.name, docs)
	}
	return koaBody(http.StatusOK, []any{exp})
}

// withoutIDs removes _id and __v everywhere (removeProperties).
func withoutIDs(v any) any {
	switch x := v.(type) {
	case *object:
		x.del("_id")
		x.del("__v")
		for _, k := range x.keys {
			withoutIDs(x.vals[k])
		}
	case []any:
		for _, e := range x {
			withoutIDs(e)
		}
	}
	return v
}
