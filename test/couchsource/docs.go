package couchsource

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// gen holds the scratch state of one request's document writer.
type gen struct {
	pcg  rand.PCG
	r    *rand.Rand
	vals []seed.Value
}

func (d *Data) newGen() *gen {
	g := &gen{vals: make([]seed.Value, len(d.targets))}
	g.r = rand.New(&g.pcg)
	return g
}

// A seq is one kind of document, in id order. The database's _all_docs is
// the merge of the seqs.
type seq int

const (
	seqDDoc seq = iota // _design/medic-admin
	seqDistrict
	seqHC
	seqClinic
	seqPerson
	seqSettings // "settings"
	seqTarget   // target~<month>~<person>~org.couchdb.user:chwNNNNNN
	seqSuper    // supervisors (persons)
	seqReport   // data_record docs
	seqUser     // org.couchdb.user:chwNNNNNN user-settings docs
	seqLog      // replication-count-chwNNNNNN, in the logs database only
	nSeqs
)

// medicSeqs are the seqs of the database, logsSeqs those of the logs
// database.
var (
	medicSeqs = []seq{seqDDoc, seqDistrict, seqHC, seqClinic, seqPerson, seqSettings, seqTarget, seqSuper, seqReport, seqUser}
	logsSeqs  = []seq{seqLog}
)

var seqKind = [nSeqs]int{seqDistrict: kindDistrict, seqHC: kindHC, seqClinic: kindClinic, seqPerson: kindCHW, seqTarget: kindCHW,
	seqSuper: kindSuper, seqReport: kindReport}

// Id prefixes of the per-user docs; their ids sort in CHW index order
// (chwNNNNNN is fixed-width).
const (
	userPrefix = "org.couchdb.user:"
	logPrefix  = "replication-count-"
)

// seqLen is the number of docs of s.
func (d *Data) seqLen(s seq) int {
	switch s {
	case seqDDoc, seqSettings:
		return 1
	case seqUser, seqLog:
		if d.opts.Users {
			return d.nCHWs
		}
		return 0
	default:
		return len(d.sorted[seqKind[s]])
	}
}

// index returns the generated index (CHW, clinic, …) of the i-th doc of s.
func (d *Data) index(s seq, i int) int {
	switch s {
	case seqDDoc, seqSettings:
		return 0
	case seqUser, seqLog:
		return i
	}
	return int(d.sorted[seqKind[s]][i])
}

// appendID appends the id of the doc with generated index idx of s.
func (d *Data) appendID(dst []byte, s seq, idx int) []byte {
	switch s {
	case seqDDoc:
		return append(dst, seed.DesignDocID...)
	case seqSettings:
		return append(dst, "settings"...)
	case seqTarget:
		dst = append(dst, "target~"...)
		dst = append(dst, d.month...)
		dst = append(dst, '~')
		dst = appendUID(dst, d.ids[kindCHW][idx])
		dst = append(dst, "~org.couchdb.user:"...)
		return appendUser(dst, idx)
	case seqUser:
		return appendUser(append(dst, userPrefix...), idx)
	case seqLog:
		return appendUser(append(dst, logPrefix...), idx)
	default:
		return appendUID(dst, d.ids[seqKind[s]][idx])
	}
}

// appendUser appends chwNNNNNN, seed's user name of CHW c.
func appendUser(dst []byte, c int) []byte {
	dst = append(dst, "chw"...)
	n := c + 1
	var digits [6]byte
	for k := 5; k >= 0; k-- {
		digits[k] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, digits[:]...)
}

// appendRev appends a deterministic revision of the doc.
func (d *Data) appendRev(dst []byte, s seq, idx int) []byte {
	dst = append(dst, "1-"...)
	var u uid
	switch s {
	case seqDDoc, seqSettings:
		return append(dst, "00000000000000000000000000000001"...)
	case seqTarget:
		u = d.ids[kindCHW][idx]
		u.a ^= 0x9e3779b97f4a7c15
	case seqUser:
		u = d.ids[kindCHW][idx]
		u.b ^= 0x9e3779b97f4a7c15
	case seqLog:
		u = d.ids[kindCHW][idx]
		u.a ^= 0xc2b2ae3d27d4eb4f
	default:
		u = d.ids[seqKind[s]][idx]
	}
	for _, w := range []uint64{u.a ^ u.b, u.b*0x100000001b3 + u.a} {
		for k := 15; k >= 0; k-- {
			dst = append(dst, hexDigits[w>>(4*k)&0xf])
		}
	}
	return dst
}

// search returns the position in s of the first doc whose id is >= key.
func (d *Data) search(s seq, key []byte, buf *[]byte) int {
	return sort.Search(d.seqLen(s), func(i int) bool {
		*buf = d.appendID((*buf)[:0], s, d.index(s, i))
		return bytes.Compare(*buf, key) >= 0
	})
}

// lookupIn finds the doc with id among seqs; ok is false when there is
// none.
func (d *Data) lookupIn(seqs []seq, id []byte) (s seq, idx int, ok bool) {
	s, idx, ok = d.lookup(id)
	return s, idx, ok && slices.Contains(seqs, s)
}

// lookup finds the doc with id in either database; ok is false when there
// is none.
func (d *Data) lookup(id []byte) (s seq, idx int, ok bool) {
	switch {
	case string(id) == seed.DesignDocID:
		return seqDDoc, 0, true
	case string(id) == "settings":
		return seqSettings, 0, true
	case bytes.HasPrefix(id, []byte(userPrefix)):
		idx, ok := d.userIndex(id[len(userPrefix):])
		return seqUser, idx, ok
	case bytes.HasPrefix(id, []byte(logPrefix)):
		idx, ok := d.userIndex(id[len(logPrefix):])
		return seqLog, idx, ok
	case len(id) == 36:
		u, ok := parseUID(id)
		if !ok {
			return 0, 0, false
		}
		for _, s := range []seq{seqDistrict, seqHC, seqClinic, seqPerson, seqSuper, seqReport} {
			kind := seqKind[s]
			ids, order := d.ids[kind], d.sorted[kind]
			i, found := slices.BinarySearchFunc(order, u, func(x int32, u uid) int { return cmpUID(ids[x], u) })
			if found {
				return s, int(order[i]), true
			}
		}
		return 0, 0, false
	}
	prefix := "target~" + string(d.month) + "~"
	rest, found := bytes.CutPrefix(id, []byte(prefix))
	if !found || len(rest) < 37 || rest[36] != '~' {
		return 0, 0, false
	}
	s, idx, ok = d.lookup(rest[:36])
	if !ok || s != seqPerson {
		return 0, 0, false
	}
	if want := d.appendID(nil, seqTarget, idx); !bytes.Equal(want, id) {
		return 0, 0, false
	}
	return seqTarget, idx, true
}

// userIndex reads chwNNNNNN, the user name of an existing CHW with a
// login; ok is false for anything else.
func (d *Data) userIndex(name []byte) (int, bool) {
	if !d.opts.Users || len(name) != 9 || string(name[:3]) != "chw" {
		return 0, false
	}
	n := 0
	for _, c := range name[3:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n - 1, n >= 1 && n <= d.nCHWs
}

// appendDoc appends the JSON of the doc with generated index idx of s.
func (d *Data) appendDoc(dst []byte, s seq, idx int, g *gen) []byte {
	head := func(dst []byte) []byte {
		dst = append(dst, `{"_id":"`...)
		dst = d.appendID(dst, s, idx)
		dst = append(dst, `","_rev":"`...)
		dst = d.appendRev(dst, s, idx)
		return append(dst, '"')
	}
	contactHead := func(dst []byte, typ, name string) []byte {
		dst = head(dst)
		dst = append(dst, `,"type":"`...)
		dst = append(dst, typ...)
		dst = append(dst, `","name":"`...)
		dst = append(dst, name...)
		dst = append(dst, ' ')
		dst = appendInt(dst, int64(idx+1))
		dst = append(dst, '"')
		return dst
	}
	reported := func(dst []byte) []byte {
		dst = append(dst, `,"reported_date":`...)
		return appendInt(dst, d.created)
	}
	dhis := func(dst []byte, ou string) []byte {
		dst = append(dst, `,"dhis":{"orgUnit":"`...)
		dst = append(dst, ou...)
		return append(dst, `"}}`...)
	}
	switch s {
	case seqDDoc:
		return append(dst, d.ddoc...)
	case seqSettings:
		return append(dst, d.settings...)
	case seqDistrict:
		dst = contactHead(dst, "district_hospital", "District")
		dst = reported(dst)
		return dhis(dst, districtOrgUnit(idx))
	case seqHC:
		dst = contactHead(dst, "health_center", "Health Centre")
		dst = reported(dst)
		dst = append(dst, `,"parent":`...)
		dst = d.appendLineage(dst, kindDistrict, d.districtOf(idx))
		return dhis(dst, hcOrgUnit(idx))
	case seqClinic:
		dst = contactHead(dst, "clinic", "CHW Area")
		dst = reported(dst)
		dst = append(dst, `,"parent":`...)
		dst = d.appendLineage(dst, kindHC, d.hcOf(idx))
		dst = append(dst, `,"contact":{"_id":"`...)
		dst = appendUID(dst, d.ids[kindCHW][idx*d.opts.CHWsPerClinic])
		dst = append(dst, `","parent":`...)
		dst = d.appendLineage(dst, kindClinic, idx)
		dst = append(dst, '}')
		if d.opts.MapClinics {
			return dhis(dst, clinicOrgUnit(idx))
		}
		return append(dst, '}')
	case seqPerson:
		dst = contactHead(dst, "person", "CHW")
		dst = append(dst, `,"role":"chw"`...)
		dst = reported(dst)
		dst = append(dst, `,"parent":`...)
		dst = d.appendLineage(dst, kindClinic, d.clinicOf(idx))
		return append(dst, '}')
	case seqSuper:
		dst = contactHead(dst, "person", "Supervisor")
		dst = append(dst, `,"role":"supervisor","phone":"+2547`...)
		dst = appendInt(dst, int64(10_000_000+idx))
		dst = append(dst, '"')
		dst = reported(dst)
		dst = append(dst, `,"parent":`...)
		dst = d.appendLineage(dst, kindClinic, idx)
		return append(dst, '}')
	case seqReport:
		// A home visit form submitted by CHW idx/ReportsPerCHW, as CHT
		// stores an app form (type data_record, contact with its minified
		// lineage, the form's fields).
		c := idx / d.opts.ReportsPerCHW
		dst = head(dst)
		dst = append(dst, `,"type":"data_record","form":"home_visit","content_type":"xml","reported_date":`...)
		dst = appendInt(dst, d.updated-int64(idx%28)*86_400_000)
		dst = append(dst, `,"contact":{"_id":"`...)
		dst = appendUID(dst, d.ids[kindCHW][c])
		dst = append(dst, `","parent":`...)
		dst = d.appendLineage(dst, kindClinic, d.clinicOf(c))
		dst = append(dst, `},"fields":{"patient_id":"`...)
		dst = appendInt(dst, int64(100_000+idx))
		dst = append(dst, `","visit_outcome":"completed","danger_signs":"none","meta":{"instanceID":"uuid:`...)
		dst = appendUID(dst, d.ids[kindReport][idx])
		return append(dst, `"}}}`...)
	case seqUser:
		// As CHT's user management writes it
		// (shared-libs/user-management/src/users.js).
		dst = head(dst)
		dst = append(dst, `,"name":"`...)
		dst = appendUser(dst, idx)
		dst = append(dst, `","type":"user-settings","fullname":"CHW `...)
		dst = appendInt(dst, int64(idx+1))
		dst = append(dst, `","contact_id":"`...)
		dst = appendUID(dst, d.ids[kindCHW][idx])
		dst = append(dst, `","facility_id":"`...)
		dst = appendUID(dst, d.ids[kindClinic][d.clinicOf(idx)])
		return append(dst, `","roles":["chw"],"language":"en","known":true}`...)
	case seqLog:
		// As CHT API's replication-limit-log.js writes it: the last
		// replication, a few days after the month.
		dst = head(dst)
		dst = append(dst, `,"user":"`...)
		dst = appendUser(dst, idx)
		dst = append(dst, `","date":`...)
		dst = appendInt(dst, d.updated+2*86_400_000+int64(idx%3600)*1000)
		dst = append(dst, `,"count":`...)
		dst = appendInt(dst, int64(900+idx%200))
		dst = append(dst, `,"all_docs_count":`...)
		dst = appendInt(dst, int64(1200+idx%300))
		return append(dst, '}')
	case seqTarget:
		dst = head(dst)
		dst = append(dst, `,"type":"target","user":"org.couchdb.user:`...)
		dst = appendUser(dst, idx)
		dst = append(dst, `","owner":"`...)
		dst = appendUID(dst, d.ids[kindCHW][idx])
		dst = append(dst, `","reporting_period":"`...)
		dst = append(dst, d.month...)
		dst = append(dst, `","updated_date":`...)
		dst = appendInt(dst, d.updated)
		dst = append(dst, `,"targets":[`...)
		d.values(idx, g.r, &g.pcg, g.vals)
		for j, v := range g.vals {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":"`...)
			dst = append(dst, d.targets[j].ID...)
			dst = append(dst, `","value":{"pass":`...)
			dst = appendInt(dst, int64(v.Pass))
			dst = append(dst, `,"total":`...)
			dst = appendInt(dst, int64(v.Total))
			if v.Percent {
				dst = append(dst, `,"percent":`...)
				dst = appendInt(dst, int64(percent(v)))
			}
			dst = append(dst, "}}"...)
		}
		return append(dst, "]}"...)
	}
	return append(dst, "null"...)
}

// appendLineage appends the minified lineage starting at the contact of
// kind with index idx: {"_id": …, "parent": {"_id": …}}.
func (d *Data) appendLineage(dst []byte, kind, idx int) []byte {
	closing := 0
	for {
		dst = append(dst, `{"_id":"`...)
		dst = appendUID(dst, d.ids[kind][idx])
		dst = append(dst, '"')
		closing++
		switch kind {
		case kindClinic:
			kind, idx = kindHC, d.hcOf(idx)
		case kindHC:
			kind, idx = kindDistrict, d.districtOf(idx)
		default:
			for range closing {
				dst = append(dst, '}')
			}
			return dst
		}
		dst = append(dst, `,"parent":`...)
	}
}

// A view row is one mapped contact, keyed by its org unit. Rows sort by
// key: clinics (ouC…), then districts (ouD…), then health centres (ouH…),
// each in index order (the keys are fixed-width); every key is unique.
func (d *Data) viewLen() int {
	n := d.nDistricts + d.nHCs
	if d.opts.MapClinics {
		n += d.nClinics
	}
	return n
}

// viewRow returns the seq and index of the i-th view row.
func (d *Data) viewRow(i int) (seq, int) {
	if d.opts.MapClinics {
		if i < d.nClinics {
			return seqClinic, i
		}
		i -= d.nClinics
	}
	if i < d.nDistricts {
		return seqDistrict, i
	}
	return seqHC, i - d.nDistricts
}

// viewKey returns the org unit of the i-th view row.
func (d *Data) viewKey(i int) string {
	switch s, idx := d.viewRow(i); s {
	case seqClinic:
		return clinicOrgUnit(idx)
	case seqDistrict:
		return districtOrgUnit(idx)
	default:
		return hcOrgUnit(idx)
	}
}
