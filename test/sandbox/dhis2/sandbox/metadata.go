package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Default category combo and option combo of a new DHIS2 database (DHIS2
// Web API docs, metadata). LoadMetadata adds them when the file has no "default" ones.
const (
	DefaultCategoryComboID       = "bjDvmb4bfuf"
	DefaultCategoryOptionComboID = "HllvX50cXC0"
	defaultCategoryID            = "GLevLNI9wkl"
	defaultCategoryOptionID      = "xYerKDKCefk"
)

// Ref is a reference to another object, as in a DHIS2 metadata export.
type Ref struct {
	ID string `json:"id"`
}

// Metadata is what the sandbox knows about: the subset of a DHIS2
// metadata export (GET /api/metadata) that aggregate data entry needs.
// Unknown JSON fields are ignored, so a real export loads.
type Metadata struct {
	CategoryOptions      []CategoryOption      `json:"categoryOptions,omitempty"`
	Categories           []Category            `json:"categories,omitempty"`
	CategoryCombos       []CategoryCombo       `json:"categoryCombos"`
	CategoryOptionCombos []CategoryOptionCombo `json:"categoryOptionCombos"`
	OptionSets           []OptionSet           `json:"optionSets,omitempty"`
	DataElements         []DataElement         `json:"dataElements"`
	DataSets             []DataSet             `json:"dataSets"`
	OrganisationUnits    []OrganisationUnit    `json:"organisationUnits"`

	idx index
}

// CategoryOption is a DHIS2 category option.
type CategoryOption struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Code string `json:"code,omitempty"`
}

// Category is a DHIS2 category.
type Category struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Code            string `json:"code,omitempty"`
	CategoryOptions []Ref  `json:"categoryOptions,omitempty"`
}

// CategoryCombo is a DHIS2 category combination.
type CategoryCombo struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Code       string `json:"code,omitempty"`
	Categories []Ref  `json:"categories,omitempty"`
}

// CategoryOptionCombo is a DHIS2 category option combination; it belongs
// to the category combo it references.
type CategoryOptionCombo struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Code            string `json:"code,omitempty"`
	CategoryCombo   Ref    `json:"categoryCombo"`
	CategoryOptions []Ref  `json:"categoryOptions,omitempty"`
}

// OptionSet is a DHIS2 option set; values of its data elements must be
// option codes.
type OptionSet struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Code      string   `json:"code,omitempty"`
	ValueType string   `json:"valueType,omitempty"`
	Options   []Option `json:"options"`
}

// Option is an option of an option set.
type Option struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Code string `json:"code"`
}

// DataElement is a DHIS2 data element.
type DataElement struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	ShortName         string `json:"shortName,omitempty"`
	Code              string `json:"code,omitempty"`
	ValueType         string `json:"valueType"`
	AggregationType   string `json:"aggregationType,omitempty"` // default SUM
	DomainType        string `json:"domainType,omitempty"`      // default AGGREGATE
	ZeroIsSignificant bool   `json:"zeroIsSignificant,omitempty"`
	CategoryCombo     *Ref   `json:"categoryCombo,omitempty"` // default: the default combo
	OptionSet         *Ref   `json:"optionSet,omitempty"`
}

// DataSetElement puts a data element in a data set; a category combo set
// here overrides the data element's own inside this data set (DHIS2 Web API docs, metadata).
type DataSetElement struct {
	DataElement   Ref  `json:"dataElement"`
	CategoryCombo *Ref `json:"categoryCombo,omitempty"`
}

// DataInputPeriod opens a period for data entry between two dates
// (yyyy-MM-dd, either may be empty). Period.ID is the ISO period.
type DataInputPeriod struct {
	Period      Ref    `json:"period"`
	OpeningDate string `json:"openingDate,omitempty"`
	ClosingDate string `json:"closingDate,omitempty"`
}

// DataSet is a DHIS2 data set.
type DataSet struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	ShortName         string            `json:"shortName,omitempty"`
	Code              string            `json:"code,omitempty"`
	PeriodType        string            `json:"periodType"`
	OpenFuturePeriods int               `json:"openFuturePeriods"`
	ExpiryDays        int               `json:"expiryDays"`
	TimelyDays        int               `json:"timelyDays"`
	CategoryCombo     *Ref              `json:"categoryCombo,omitempty"` // attribute combo; default: the default combo
	DataSetElements   []DataSetElement  `json:"dataSetElements"`
	OrganisationUnits []Ref             `json:"organisationUnits"`
	DataInputPeriods  []DataInputPeriod `json:"dataInputPeriods,omitempty"`
	Workflow          *Ref              `json:"workflow,omitempty"`
}

// OrganisationUnit is a DHIS2 organisation unit. Path ("/root/…/id") is
// computed from Parent when absent.
type OrganisationUnit struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ShortName   string `json:"shortName,omitempty"`
	Code        string `json:"code,omitempty"`
	Path        string `json:"path,omitempty"`
	Level       int    `json:"level,omitempty"`
	Parent      *Ref   `json:"parent,omitempty"`
	OpeningDate string `json:"openingDate,omitempty"`
	ClosedDate  string `json:"closedDate,omitempty"`
}

// index holds the lookups derived from the metadata.
type index struct {
	co    map[string]*CategoryOption
	cat   map[string]*Category
	cc    map[string]*CategoryCombo
	coc   map[string]*CategoryOptionCombo
	os    map[string]*OptionSet
	de    map[string]*DataElement
	ds    map[string]*DataSet
	ou    map[string]*OrganisationUnit
	ouIx  []*OrganisationUnit // in file order
	deIx  []*DataElement
	dsIx  []*DataSet
	cocIx []*CategoryOptionCombo

	defaultCC, defaultCOC string
	cocsOf                map[string][]string        // category combo → its COCs, in file order
	dataSetsOfDE          map[string][]*DataSet      // data element → data sets holding it
	dataSetsOfOU          map[string][]*DataSet      // org unit → data sets assigned to it
	deInDS                map[string]map[string]bool // data set → data elements
	ouInDS                map[string]map[string]bool // data set → org units
	dseCombo              map[string]string          // ds+"/"+de → effective category combo
	options               map[string]map[string]bool // data element → option codes
}

var reUID = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]{10}$`)

// LoadMetadata reads metadata in the JSON format of a DHIS2 metadata
// export (see the package testdata/metadata.json) and checks it.
func LoadMetadata(r io.Reader) (*Metadata, error) {
	var md Metadata
	if err := json.NewDecoder(r).Decode(&md); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	if err := md.resolve(); err != nil {
		return nil, err
	}
	return &md, nil
}

// resolve adds the default combo, fills defaults, checks references and
// builds the index. It reports every problem it finds.
func (md *Metadata) resolve() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	md.addDefaults()
	x := index{
		co: map[string]*CategoryOption{}, cat: map[string]*Category{}, cc: map[string]*CategoryCombo{},
		coc: map[string]*CategoryOptionCombo{}, os: map[string]*OptionSet{}, de: map[string]*DataElement{},
		ds: map[string]*DataSet{}, ou: map[string]*OrganisationUnit{},
		cocsOf: map[string][]string{}, dataSetsOfDE: map[string][]*DataSet{}, dataSetsOfOU: map[string][]*DataSet{},
		deInDS: map[string]map[string]bool{}, ouInDS: map[string]map[string]bool{}, dseCombo: map[string]string{},
		options: map[string]map[string]bool{},
	}
	seen := map[string]string{}
	checkID := func(kind, id string) bool {
		if !reUID.MatchString(id) {
			bad("%s %q: id is not a DHIS2 uid (11 alphanumerics, starting with a letter)", kind, id)
			return false
		}
		if prev, dup := seen[id]; dup {
			bad("%s %q: id already used by a %s", kind, id, prev)
			return false
		}
		seen[id] = kind
		return true
	}
	for i := range md.CategoryOptions {
		o := &md.CategoryOptions[i]
		if checkID("categoryOption", o.ID) {
			x.co[o.ID] = o
		}
	}
	for i := range md.Categories {
		o := &md.Categories[i]
		if checkID("category", o.ID) {
			x.cat[o.ID] = o
		}
	}
	for i := range md.CategoryCombos {
		o := &md.CategoryCombos[i]
		if checkID("categoryCombo", o.ID) {
			x.cc[o.ID] = o
		}
		if o.Name == "default" && x.defaultCC == "" {
			x.defaultCC = o.ID
		}
	}
	for i := range md.CategoryOptionCombos {
		o := &md.CategoryOptionCombos[i]
		if checkID("categoryOptionCombo", o.ID) {
			x.coc[o.ID] = o
			x.cocIx = append(x.cocIx, o)
		}
	}
	for i := range md.OptionSets {
		o := &md.OptionSets[i]
		if checkID("optionSet", o.ID) {
			x.os[o.ID] = o
		}
	}
	for i := range md.DataElements {
		o := &md.DataElements[i]
		if checkID("dataElement", o.ID) {
			x.de[o.ID] = o
			x.deIx = append(x.deIx, o)
		}
	}
	for i := range md.DataSets {
		o := &md.DataSets[i]
		if checkID("dataSet", o.ID) {
			x.ds[o.ID] = o
			x.dsIx = append(x.dsIx, o)
		}
	}
	for i := range md.OrganisationUnits {
		o := &md.OrganisationUnits[i]
		if checkID("organisationUnit", o.ID) {
			x.ou[o.ID] = o
			x.ouIx = append(x.ouIx, o)
		}
	}

	for _, c := range md.Categories {
		for _, r := range c.CategoryOptions {
			if x.co[r.ID] == nil {
				bad("category %s: unknown category option %q", c.ID, r.ID)
			}
		}
	}
	for _, c := range md.CategoryCombos {
		for _, r := range c.Categories {
			if x.cat[r.ID] == nil {
				bad("categoryCombo %s: unknown category %q", c.ID, r.ID)
			}
		}
	}
	for _, c := range md.CategoryOptionCombos {
		if x.cc[c.CategoryCombo.ID] == nil {
			bad("categoryOptionCombo %s: unknown categoryCombo %q", c.ID, c.CategoryCombo.ID)
			continue
		}
		x.cocsOf[c.CategoryCombo.ID] = append(x.cocsOf[c.CategoryCombo.ID], c.ID)
		if c.Name == "default" && c.CategoryCombo.ID == x.defaultCC && x.defaultCOC == "" {
			x.defaultCOC = c.ID
		}
		for _, r := range c.CategoryOptions {
			if x.co[r.ID] == nil {
				bad("categoryOptionCombo %s: unknown category option %q", c.ID, r.ID)
			}
		}
	}
	for _, c := range md.CategoryCombos {
		if len(x.cocsOf[c.ID]) == 0 {
			bad("categoryCombo %s: has no category option combos", c.ID)
		}
	}
	for i := range md.DataElements {
		de := &md.DataElements[i]
		if _, ok := valueTypes[de.ValueType]; !ok {
			bad("dataElement %s: unknown valueType %q", de.ID, de.ValueType)
		}
		if de.AggregationType == "" {
			de.AggregationType = "SUM"
		}
		if de.DomainType == "" {
			de.DomainType = "AGGREGATE"
		}
		if de.CategoryCombo == nil {
			de.CategoryCombo = &Ref{ID: x.defaultCC}
		} else if x.cc[de.CategoryCombo.ID] == nil {
			bad("dataElement %s: unknown categoryCombo %q", de.ID, de.CategoryCombo.ID)
		}
		if de.OptionSet != nil {
			os := x.os[de.OptionSet.ID]
			if os == nil {
				bad("dataElement %s: unknown optionSet %q", de.ID, de.OptionSet.ID)
				continue
			}
			codes := map[string]bool{}
			for _, o := range os.Options {
				codes[o.Code] = true
			}
			x.options[de.ID] = codes
		}
	}
	for i := range md.OrganisationUnits {
		ou := &md.OrganisationUnits[i]
		if ou.Parent != nil && x.ou[ou.Parent.ID] == nil {
			bad("organisationUnit %s: unknown parent %q", ou.ID, ou.Parent.ID)
		}
	}
	for i := range md.OrganisationUnits {
		ou := &md.OrganisationUnits[i]
		path, err := x.pathOf(ou)
		if err != nil {
			bad("organisationUnit %s: %w", ou.ID, err)
			continue
		}
		if ou.Path != "" && ou.Path != path {
			bad("organisationUnit %s: path %q does not match its parents (%q)", ou.ID, ou.Path, path)
		}
		ou.Path = path
		ou.Level = strings.Count(path, "/")
	}
	for i := range md.DataSets {
		ds := &md.DataSets[i]
		if !knownPeriodType(ds.PeriodType, maxMinor) {
			bad("dataSet %s: unknown periodType %q", ds.ID, ds.PeriodType)
		}
		if ds.CategoryCombo == nil {
			ds.CategoryCombo = &Ref{ID: x.defaultCC}
		} else if x.cc[ds.CategoryCombo.ID] == nil {
			bad("dataSet %s: unknown categoryCombo %q", ds.ID, ds.CategoryCombo.ID)
		}
		x.deInDS[ds.ID] = map[string]bool{}
		x.ouInDS[ds.ID] = map[string]bool{}
		for _, e := range ds.DataSetElements {
			de := x.de[e.DataElement.ID]
			if de == nil {
				bad("dataSet %s: unknown dataElement %q", ds.ID, e.DataElement.ID)
				continue
			}
			combo := de.CategoryCombo.ID
			if e.CategoryCombo != nil {
				if x.cc[e.CategoryCombo.ID] == nil {
					bad("dataSet %s: dataElement %s: unknown categoryCombo %q", ds.ID, de.ID, e.CategoryCombo.ID)
				}
				combo = e.CategoryCombo.ID
			}
			x.deInDS[ds.ID][de.ID] = true
			x.dseCombo[ds.ID+"/"+de.ID] = combo
			x.dataSetsOfDE[de.ID] = append(x.dataSetsOfDE[de.ID], ds)
		}
		for _, r := range ds.OrganisationUnits {
			if x.ou[r.ID] == nil {
				bad("dataSet %s: unknown organisationUnit %q", ds.ID, r.ID)
				continue
			}
			x.ouInDS[ds.ID][r.ID] = true
			x.dataSetsOfOU[r.ID] = append(x.dataSetsOfOU[r.ID], ds)
		}
		for _, p := range ds.DataInputPeriods {
			if _, ok := ParsePeriod(p.Period.ID, maxMinor); !ok {
				bad("dataSet %s: dataInputPeriod: invalid period %q", ds.ID, p.Period.ID)
			}
			for _, d := range []string{p.OpeningDate, p.ClosingDate} {
				if d != "" && parseDay(d).IsZero() {
					bad("dataSet %s: dataInputPeriod %s: invalid date %q", ds.ID, p.Period.ID, d)
				}
			}
		}
	}
	md.idx = x
	return errors.Join(errs...)
}

func (x *index) pathOf(ou *OrganisationUnit) (string, error) {
	var ids []string
	seen := map[string]bool{}
	for cur := ou; cur != nil; {
		if seen[cur.ID] {
			return "", fmt.Errorf("parent cycle")
		}
		seen[cur.ID] = true
		ids = append(ids, cur.ID)
		if cur.Parent == nil {
			break
		}
		cur = x.ou[cur.Parent.ID]
	}
	slices.Reverse(ids)
	return "/" + strings.Join(ids, "/"), nil
}

// addDefaults adds the default category option, category, combo and
// option combo unless the metadata has a combo named "default".
func (md *Metadata) addDefaults() {
	for _, c := range md.CategoryCombos {
		if c.Name == "default" {
			return
		}
	}
	md.CategoryOptions = append([]CategoryOption{{ID: defaultCategoryOptionID, Name: "default", Code: "default"}}, md.CategoryOptions...)
	md.Categories = append([]Category{{ID: defaultCategoryID, Name: "default", Code: "default", CategoryOptions: []Ref{{defaultCategoryOptionID}}}}, md.Categories...)
	md.CategoryCombos = append([]CategoryCombo{{ID: DefaultCategoryComboID, Name: "default", Code: "default", Categories: []Ref{{defaultCategoryID}}}}, md.CategoryCombos...)
	md.CategoryOptionCombos = append([]CategoryOptionCombo{{
		ID: DefaultCategoryOptionComboID, Name: "default", Code: "default",
		CategoryCombo: Ref{DefaultCategoryComboID}, CategoryOptions: []Ref{{defaultCategoryOptionID}},
	}}, md.CategoryOptionCombos...)
}

// cocInCombo reports whether coc belongs to category combo cc.
func (x *index) cocInCombo(coc, cc string) bool {
	return slices.Contains(x.cocsOf[cc], coc)
}

// isAncestorOrSelf reports whether org unit ou is at or below one of roots.
func (x *index) inHierarchy(ou string, roots []string) bool {
	o := x.ou[ou]
	if o == nil {
		return false
	}
	for _, r := range roots {
		if strings.Contains(o.Path+"/", "/"+r+"/") {
			return true
		}
	}
	return false
}

// idScheme is an identifier scheme for objects in a payload (dhis2-core ImportOptions.java).
type idScheme string

const (
	schemeUID  idScheme = "UID"
	schemeCode idScheme = "CODE"
	schemeName idScheme = "NAME"
)

// parseIDScheme maps UID, ID, CODE, NAME (any case) to a scheme; anything
// else (ATTRIBUTE:… included) is returned upper-cased and matches nothing.
func parseIDScheme(s string) idScheme {
	switch u := strings.ToUpper(strings.TrimSpace(s)); u {
	case "", "UID", "ID":
		return schemeUID
	default:
		return idScheme(u)
	}
}

type identifiable interface {
	ident() (id, code, name string)
}

func (o *DataElement) ident() (string, string, string)         { return o.ID, o.Code, o.Name }
func (o *DataSet) ident() (string, string, string)             { return o.ID, o.Code, o.Name }
func (o *OrganisationUnit) ident() (string, string, string)    { return o.ID, o.Code, o.Name }
func (o *CategoryOptionCombo) ident() (string, string, string) { return o.ID, o.Code, o.Name }

func lookup[T identifiable](m map[string]T, list []T, scheme idScheme, key string) T {
	var zero T
	if key == "" {
		return zero
	}
	if scheme == schemeUID {
		return m[key]
	}
	for _, o := range list {
		_, code, name := o.ident()
		if (scheme == schemeCode && code == key) || (scheme == schemeName && name == key) {
			return o
		}
	}
	return zero
}

// identify renders an object's identifier in the output scheme; raw when
// the object is unknown (a value stored with Put).
func identify[T identifiable](o T, raw string, scheme idScheme) string {
	var nilT T
	if any(o) == any(nilT) {
		return raw
	}
	id, code, name := o.ident()
	switch scheme {
	case schemeCode:
		return code
	case schemeName:
		return name
	}
	return id
}
