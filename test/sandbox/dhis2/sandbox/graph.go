package sandbox

import "slices"

// graph holds the metadata as field-filterable nodes, per collection.
type graph struct {
	byID        map[string]*node
	collections map[string][]*node // "dataSets" → nodes in file order
	kinds       map[string]string  // "dataSets" → "DataSet" (for 404 messages)
}

// User is the sandbox's single DHIS2 user, the one that authenticates.
type User struct {
	ID          string   // uid, default "xE7jOejl9FI"
	Username    string   // set from Options.Username
	FirstName   string   // default "Sandbox"
	Surname     string   // default "Admin"
	OrgUnits    []string // data capture org units; default: every root org unit
	Authorities []string // default ["ALL"] (a superuser)
}

func (u *User) superuser() bool { return slices.Contains(u.Authorities, "ALL") }

func (u *User) authorized(auth string) bool {
	return u.superuser() || slices.Contains(u.Authorities, auth)
}

func named(n *node, id, name, shortName, code string) {
	n.add("id", id)
	n.add("name", name)
	if shortName != "" {
		n.add("shortName", shortName)
	}
	if code != "" {
		n.add("code", code)
	}
	n.add("displayName", name)
	if shortName != "" {
		n.add("displayShortName", shortName)
	}
}

// dhisDate renders a yyyy-MM-dd date as DHIS2 metadata dates.
func dhisDate(d string) string {
	if t := parseDay(d); !t.IsZero() {
		return t.Format("2006-01-02T15:04:05.000")
	}
	return d
}

func buildGraph(md *Metadata, user *User) *graph {
	x := &md.idx
	g := &graph{byID: map[string]*node{}, collections: map[string][]*node{}, kinds: map[string]string{
		"dataSets": "DataSet", "dataElements": "DataElement", "organisationUnits": "OrganisationUnit",
		"categoryOptionCombos": "CategoryOptionCombo", "categoryCombos": "CategoryCombo", "categories": "Category",
		"categoryOptions": "CategoryOption", "optionSets": "OptionSet",
	}}
	mk := func(coll, kind, id string) *node {
		n := &node{kind: kind, id: id}
		g.byID[id] = n
		g.collections[coll] = append(g.collections[coll], n)
		return n
	}
	for _, o := range md.CategoryOptions {
		mk("categoryOptions", "CategoryOption", o.ID)
	}
	for _, o := range md.Categories {
		mk("categories", "Category", o.ID)
	}
	for _, o := range md.CategoryCombos {
		mk("categoryCombos", "CategoryCombo", o.ID)
	}
	for _, o := range md.CategoryOptionCombos {
		mk("categoryOptionCombos", "CategoryOptionCombo", o.ID)
	}
	for _, o := range md.OptionSets {
		mk("optionSets", "OptionSet", o.ID)
	}
	for _, o := range md.DataElements {
		mk("dataElements", "DataElement", o.ID)
	}
	for _, o := range md.DataSets {
		mk("dataSets", "DataSet", o.ID)
	}
	for _, o := range md.OrganisationUnits {
		mk("organisationUnits", "OrganisationUnit", o.ID)
	}
	refs := func(rs []Ref) []*node {
		out := []*node{}
		for _, r := range rs {
			if n := g.byID[r.ID]; n != nil {
				out = append(out, n)
			}
		}
		return out
	}
	ids := func(ss []string) []*node {
		out := []*node{}
		for _, s := range ss {
			if n := g.byID[s]; n != nil {
				out = append(out, n)
			}
		}
		return out
	}

	for _, o := range md.CategoryOptions {
		named(g.byID[o.ID], o.ID, o.Name, "", o.Code)
	}
	for _, o := range md.Categories {
		n := g.byID[o.ID]
		named(n, o.ID, o.Name, "", o.Code)
		n.add("categoryOptions", refs(o.CategoryOptions))
	}
	for _, o := range md.CategoryCombos {
		n := g.byID[o.ID]
		named(n, o.ID, o.Name, "", o.Code)
		n.add("isDefault", o.ID == x.defaultCC)
		n.add("categories", refs(o.Categories))
		n.add("categoryOptionCombos", ids(x.cocsOf[o.ID]))
	}
	for _, o := range md.CategoryOptionCombos {
		n := g.byID[o.ID]
		named(n, o.ID, o.Name, "", o.Code)
		n.add("categoryCombo", g.byID[o.CategoryCombo.ID])
		n.add("categoryOptions", refs(o.CategoryOptions))
		n.add("ignoreApproval", false)
	}
	for _, o := range md.OptionSets {
		n := g.byID[o.ID]
		named(n, o.ID, o.Name, "", o.Code)
		if o.ValueType != "" {
			n.add("valueType", o.ValueType)
		}
		var opts []*node
		for _, op := range o.Options {
			on := &node{kind: "Option", id: op.ID}
			named(on, op.ID, op.Name, "", op.Code)
			if op.Code == "" {
				on.add("code", "")
			}
			opts = append(opts, on)
		}
		n.add("options", opts)
	}
	dseOf := map[string][]*node{}
	for _, ds := range md.DataSets {
		var dses []*node
		for _, e := range ds.DataSetElements {
			dse := &node{kind: "DataSetElement", embedded: true}
			dse.add("dataSet", g.byID[ds.ID])
			dse.add("dataElement", g.byID[e.DataElement.ID])
			if e.CategoryCombo != nil {
				dse.add("categoryCombo", g.byID[e.CategoryCombo.ID])
			}
			dses = append(dses, dse)
			dseOf[e.DataElement.ID] = append(dseOf[e.DataElement.ID], dse)
		}
		n := g.byID[ds.ID]
		named(n, ds.ID, ds.Name, ds.ShortName, ds.Code)
		n.add("periodType", ds.PeriodType)
		n.add("openFuturePeriods", ds.OpenFuturePeriods)
		n.add("expiryDays", ds.ExpiryDays)
		n.add("timelyDays", ds.TimelyDays)
		n.add("categoryCombo", g.byID[ds.CategoryCombo.ID])
		if dses == nil {
			dses = []*node{}
		}
		n.add("dataSetElements", dses)
		n.add("organisationUnits", refs(ds.OrganisationUnits))
		dips := []*node{}
		for _, p := range ds.DataInputPeriods {
			pn := &node{kind: "Period", embedded: true}
			pn.add("id", p.Period.ID)
			pn.add("name", p.Period.ID)
			dip := &node{kind: "DataInputPeriod", embedded: true}
			dip.add("period", pn)
			if p.OpeningDate != "" {
				dip.add("openingDate", dhisDate(p.OpeningDate))
			}
			if p.ClosingDate != "" {
				dip.add("closingDate", dhisDate(p.ClosingDate))
			}
			dips = append(dips, dip)
		}
		n.add("dataInputPeriods", dips)
		if ds.Workflow != nil {
			n.add("workflow", &node{kind: "DataApprovalWorkflow", id: ds.Workflow.ID, props: []prop{{"id", ds.Workflow.ID}}})
		}
		n.add("compulsoryDataElementOperands", []*node{})
	}
	for _, de := range md.DataElements {
		n := g.byID[de.ID]
		named(n, de.ID, de.Name, de.ShortName, de.Code)
		n.add("valueType", de.ValueType)
		n.add("aggregationType", de.AggregationType)
		n.add("domainType", de.DomainType)
		n.add("zeroIsSignificant", de.ZeroIsSignificant)
		n.add("categoryCombo", g.byID[de.CategoryCombo.ID])
		n.add("optionSetValue", de.OptionSet != nil)
		if de.OptionSet != nil {
			n.add("optionSet", g.byID[de.OptionSet.ID])
		}
		dses := dseOf[de.ID]
		if dses == nil {
			dses = []*node{}
		}
		n.add("dataSetElements", dses)
	}
	children := map[string][]*node{}
	for _, ou := range md.OrganisationUnits {
		if ou.Parent != nil {
			children[ou.Parent.ID] = append(children[ou.Parent.ID], g.byID[ou.ID])
		}
	}
	for _, ou := range md.OrganisationUnits {
		n := g.byID[ou.ID]
		named(n, ou.ID, ou.Name, ou.ShortName, ou.Code)
		n.add("path", ou.Path)
		n.add("level", ou.Level)
		if ou.Parent != nil {
			n.add("parent", g.byID[ou.Parent.ID])
		}
		ch := children[ou.ID]
		if ch == nil {
			ch = []*node{}
		}
		n.add("children", ch)
		var dss []*node
		for _, ds := range x.dataSetsOfOU[ou.ID] {
			dss = append(dss, g.byID[ds.ID])
		}
		if dss == nil {
			dss = []*node{}
		}
		n.add("dataSets", dss)
		if ou.OpeningDate != "" {
			n.add("openingDate", dhisDate(ou.OpeningDate))
		}
		if ou.ClosedDate != "" {
			n.add("closedDate", dhisDate(ou.ClosedDate))
		}
	}
	return g
}

// userNode renders the current user for /api/me.
func (g *graph) userNode(u *User) *node {
	n := &node{kind: "User", id: u.ID}
	name := u.FirstName + " " + u.Surname
	n.add("id", u.ID)
	n.add("username", u.Username)
	n.add("firstName", u.FirstName)
	n.add("surname", u.Surname)
	n.add("name", name)
	n.add("displayName", name)
	creds := &node{kind: "UserCredentials", embedded: true}
	creds.add("username", u.Username)
	n.add("userCredentials", creds)
	var ous []*node
	for _, id := range u.OrgUnits {
		if o := g.byID[id]; o != nil {
			ous = append(ous, o)
		}
	}
	if ous == nil {
		ous = []*node{}
	}
	n.add("organisationUnits", ous)
	n.add("dataViewOrganisationUnits", ous)
	n.add("teiSearchOrganisationUnits", []*node{})
	n.add("authorities", append([]string{}, u.Authorities...))
	return n
}
