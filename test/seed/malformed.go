package seed

import "time"

// Malformed documents for the error paths of the end-to-end tests (CHT's quirks in
// api/src/services/export/dhis.js and its view contacts_by_dhis_orgunit). Each target doc has a proper
// target~<month>~<owner>~org.couchdb.user:<username> id, so it falls inside
// the month's _all_docs range; add it next to a demo district and pick the
// owner from Manifest.CHWs to hit the mapped path. Each returns a fresh map
// that the caller may change.

// malformedUpdated is the updated_date of malformed docs: the month's 28th.
func malformedUpdated(month Month) time.Time { return month.Start().AddDate(0, 0, 27) }

// NoTargets returns a target doc without a targets field (CHT: 500 when the
// owner is mapped).
func NoTargets(month Month, owner, username string) map[string]any {
	d := TargetDoc(month, owner, username, malformedUpdated(month), nil)
	delete(d, "targets")
	return d
}

// TargetsNotArray returns a target doc whose targets is an object keyed by
// target id instead of an array (CHT: 500 when the owner is mapped).
func TargetsNotArray(month Month, owner, username string, values []TargetValue) map[string]any {
	d := TargetDoc(month, owner, username, malformedUpdated(month), nil)
	obj := map[string]any{}
	for _, v := range values {
		obj[v.ID] = map[string]any{"id": v.ID, "value": v.Value.JSON()}
	}
	d["targets"] = obj
	return d
}

// TotalAsString returns a target doc whose entry for targetID has total as a
// JSON string, e.g. "5" (CHT concatenates: 0+"5"+3 → "053").
func TotalAsString(month Month, owner, username, targetID, total string) map[string]any {
	d := TargetDoc(month, owner, username, malformedUpdated(month), nil)
	d["targets"] = []any{map[string]any{"id": targetID, "value": map[string]any{"pass": 0, "total": total}}}
	return d
}

// TotalMissing returns a target doc whose entry for targetID has no total
// (CHT: NaN, exported as null).
func TotalMissing(month Month, owner, username, targetID string) map[string]any {
	d := TargetDoc(month, owner, username, malformedUpdated(month), nil)
	d["targets"] = []any{map[string]any{"id": targetID, "value": map[string]any{"pass": 1}}}
	return d
}

// ValueNull returns a target doc whose entry for targetID has value null
// (CHT: 500 when the owner is mapped).
func ValueNull(month Month, owner, username, targetID string) map[string]any {
	d := TargetDoc(month, owner, username, malformedUpdated(month), nil)
	d["targets"] = []any{map[string]any{"id": targetID, "value": nil}}
	return d
}

// UnknownOwner returns a well-formed target doc whose owner is not in the
// database (CHT: skipped).
func UnknownOwner(month Month, username string, values []TargetValue) map[string]any {
	return TargetDoc(month, "00000000-0000-4000-8000-00000000dead", username, malformedUpdated(month), values)
}

// DuplicateOwner returns two well-formed target docs for one owner from two
// users (two devices or a replaced user); CHT sums both.
func DuplicateOwner(month Month, owner, username1, username2 string, values1, values2 []TargetValue) []any {
	return []any{
		TargetDoc(month, owner, username1, malformedUpdated(month), values1),
		TargetDoc(month, owner, username2, malformedUpdated(month), values2),
	}
}

// WrongType returns a well-formed target doc with type "data_record": CHT
// does not check type, so it still counts.
func WrongType(month Month, owner, username string, values []TargetValue) map[string]any {
	d := TargetDoc(month, owner, username, malformedUpdated(month), values)
	d["type"] = "data_record"
	return d
}

// Deleted returns a tombstone for a target doc (`_deleted: true`); _all_docs
// leaves it out. Load it after the doc with its _rev, or alone to create a
// deleted doc.
func Deleted(month Month, owner, username string) map[string]any {
	return map[string]any{"_id": TargetDocID(month, owner, username), "_deleted": true}
}

// Contacts the DHIS view treats specially (CHT's view medic-admin/contacts_by_dhis_orgunit).

// DataRecordWithDHIS returns a report carrying a dhis field: not a contact
// type, so the view ignores it.
func DataRecordWithDHIS(id, orgUnit string) map[string]any {
	return map[string]any{"_id": id, "type": "data_record", "form": "dhis_test", "dhis": map[string]any{"orgUnit": orgUnit}, "reported_date": int64(0)}
}

// PlaceWithoutOrgUnit returns a health centre whose dhis config has a
// dataSet but no orgUnit: the view emits a null key for it and it maps to
// nothing.
func PlaceWithoutOrgUnit(id, parentID, dataSet string) map[string]any {
	return map[string]any{"_id": id, "type": "health_center", "name": "No OrgUnit Health Centre",
		"parent": Lineage(parentID), "dhis": map[string]any{"dataSet": dataSet}}
}

// PlaceWithNullDHISEntry returns a health centre whose dhis array holds
// null: CHT's map function throws on it and CouchDB leaves the whole doc out
// of the view, so orgUnit is never seen.
func PlaceWithNullDHISEntry(id, parentID, orgUnit string) map[string]any {
	return map[string]any{"_id": id, "type": "health_center", "name": "Null Entry Health Centre",
		"parent": Lineage(parentID), "dhis": []any{map[string]any{"orgUnit": orgUnit}, nil}}
}
