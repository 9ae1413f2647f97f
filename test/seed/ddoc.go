package seed

// ContactsByDHISOrgUnitMap is the map function of CHT's view
// medic-admin/contacts_by_dhis_orgunit, copied verbatim from cht-core
// ddocs/medic-db/medic-admin/views/contacts_by_dhis_orgunit/map.js. It
// emits dhis.orgUnit (once per element of a dhis array) with
// no value for contacts of the five contact types; a config without orgUnit
// emits a null key, and a null array element makes the function throw, so
// the doc is left out of the view.
const ContactsByDHISOrgUnitMap = `function(doc) {
  if (
    doc.dhis &&
    ['contact', 'person', 'clinic', 'health_center', 'district_hospital'].indexOf(doc.type) !== -1
  ) {
    if (Array.isArray(doc.dhis)) {
      for (var i = 0; i < doc.dhis.length; ++i) {
        emit(doc.dhis[i].orgUnit);
      }
    } else {
      emit(doc.dhis.orgUnit);
    }
  }
}
`

// DesignDocID is the _id of the design doc holding the DHIS view.
const DesignDocID = "_design/medic-admin"

// ViewPath is the view's path below the database:
// /medic/_design/medic-admin/_view/contacts_by_dhis_orgunit.
const ViewPath = "/_design/medic-admin/_view/contacts_by_dhis_orgunit"

// DesignDocs returns the design docs the mediator reads through:
// _design/medic-admin with views.contacts_by_dhis_orgunit (map only, as in
// CHT; the real ddoc has more views the mediator does not use).
func DesignDocs() []any {
	return []any{
		map[string]any{
			"_id":      DesignDocID,
			"language": "javascript",
			"views": map[string]any{
				"contacts_by_dhis_orgunit": map[string]any{"map": ContactsByDHISOrgUnitMap},
			},
		},
	}
}
