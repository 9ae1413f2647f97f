package validate

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// FuzzParsePeriod: ParsePeriod never panics, and an accepted string is a
// whole month that re-parses from its ISO form to the same period.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"202401", "2024-01", "202413", "2024W5", "2024Q1", "2024", "20240115", "", "0000-00", "9999-12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			var pe *PeriodError
			if !errors.As(err, &pe) || pe.Period != s || pe.Reason == "" {
				t.Fatalf("ParsePeriod(%q) error %#v", s, err)
			}
			return
		}
		if p.Start.Day() != 1 || p.End.AddDate(0, 0, 1) != p.Start.AddDate(0, 1, 0) || p.Start.Location() != time.UTC {
			t.Fatalf("ParsePeriod(%q) = %+v: not a whole month", s, p)
		}
		q, err := ParsePeriod(p.ISO)
		if err != nil || q != p {
			t.Fatalf("ParsePeriod(%q) = %+v, but its ISO form re-parses to %+v, %v", s, p, q, err)
		}
		if r := p.Shift(1).Shift(-1); r != p {
			t.Fatalf("%s.Shift(1).Shift(-1) = %+v", p.ISO, r)
		}
	})
}

// FuzzCheckValue: CheckValue never panics, refuses with a *ValueError, and
// what it accepts for a numeric type is a finite number.
func FuzzCheckValue(f *testing.F) {
	for _, s := range []string{"0", "-0", "12.5", "01", "1.", "+1", "1e3", "١٢", "2147483648", "-2147483649",
		"true", "T", "2024-02-29", "2024-03-15T10:30:00Z", "[1,2]", "https://dhis2.org", "a", ""} {
		f.Add("NUMBER", s)
		f.Add("INTEGER_POSITIVE", s)
	}
	f.Add("DATETIME", "2024-03-15 10:30:00+03:00")
	f.Add("URL", "http://[::1]:80/")
	f.Add("COORDINATE", "[1e3,NaN]")
	f.Add("LETTER", "\xff")
	f.Fuzz(func(t *testing.T, typ, value string) {
		err := CheckValue(typ, value)
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Code == "" || ve.Reason == "" || ve.Accepts == "" {
				t.Fatalf("CheckValue(%q, %q) = %#v", typ, value, err)
			}
			return
		}
		if IsNumeric(typ) {
			if _, perr := strconv.ParseFloat(value, 64); perr != nil {
				t.Fatalf("CheckValue(%q, %q) accepted a value Go cannot parse: %v", typ, value, perr)
			}
		}
		if typ == "INTEGER" || typ == "INTEGER_POSITIVE" || typ == "INTEGER_NEGATIVE" || typ == "INTEGER_ZERO_OR_POSITIVE" {
			if _, perr := strconv.ParseInt(value, 10, 32); perr != nil {
				t.Fatalf("CheckValue(%q, %q) accepted a value outside int32: %v", typ, value, perr)
			}
		}
	})
}

// FuzzCompare: whatever DHIS2 holds and the mediator produces, Compare
// never deletes or overwrites another user's value unless told to, never
// sends a value that is not valid, and accounts for every valid value
// exactly once.
func FuzzCompare(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []byte{1, 2, 3, 250, 4, 5}, true, false)
	f.Add([]byte{}, []byte{9, 9, 9, 9, 9, 9}, true, true)
	f.Add([]byte{7, 7, 7, 7}, []byte{}, false, false)
	f.Fuzz(func(t *testing.T, prod, held []byte, deleteStale, overwrite bool) {
		md := chwMetadata()
		des := []string{"deANC000001", "deAGE000001"}
		ous := []string{"ouHC0000001", "ouHC0000002", "ouHC0000003"}
		cocs := []string{"", defaultCOC, "cocU5000001"}
		users := []string{"cht-mediator", "clerk", "CHT-MEDIATOR"}
		cell := func(b byte) (string, string, string) {
			return des[int(b)%len(des)], ous[int(b/2)%len(ous)], cocs[int(b/8)%len(cocs)]
		}
		var produced []Value
		seen := map[valueKey]bool{}
		for i := 0; i+1 < len(prod); i += 2 {
			de, ou, coc := cell(prod[i])
			k := valueKey{de, "202401", ou, coc, ""}
			if coc == defaultCOC {
				k.coc = ""
			}
			if seen[k] { // Check refuses duplicates before Compare
				continue
			}
			seen[k] = true
			produced = append(produced, Value{DataElement: de, Period: "202401", OrgUnit: ou, CategoryOptionCombo: coc, Value: strconv.Itoa(int(prod[i+1]) % 4)})
		}
		var valid []Value
		for i, v := range produced {
			if i%3 != 2 { // every third value failed a check
				valid = append(valid, v)
			}
		}
		var stored []Stored
		seenHeld := map[valueKey]bool{}
		for i := 0; i+2 < len(held); i += 3 {
			de, ou, coc := cell(held[i])
			k := valueKey{de, "202401", ou, coc, ""}
			if coc == "" || coc == defaultCOC {
				k.coc = defaultCOC
			}
			if seenHeld[k] {
				continue
			}
			seenHeld[k] = true
			stored = append(stored, Stored{DataElement: de, Period: "202401", OrgUnit: ou, CategoryOptionCombo: k.coc, AttributeOptionCombo: defaultCOC,
				Value: strconv.Itoa(int(held[i+1]) % 4), StoredBy: users[int(held[i+2])%len(users)]})
		}
		d := Compare(md, produced, valid, stored, DiffOptions{Owners: []string{"cht-mediator"}, DeleteStale: deleteStale, OverwriteOthers: overwrite})

		if got := d.New + d.Changed + d.Unchanged; got > len(valid) {
			t.Fatalf("new+changed+unchanged = %d > %d valid values", got, len(valid))
		}
		if len(d.Send) != d.New+d.Changed || len(d.Delete) != d.Deleted {
			t.Fatalf("send %d / delete %d do not match counts %+v", len(d.Send), len(d.Delete), d)
		}
		if !deleteStale && len(d.Delete) > 0 {
			t.Fatalf("deleted %v with deletion off", d.Delete)
		}
		isValid := map[string]bool{}
		for _, v := range valid {
			isValid[v.DataElement+v.OrgUnit+v.CategoryOptionCombo+v.Value] = true
		}
		for _, v := range d.Send {
			if !isValid[v.DataElement+v.OrgUnit+v.CategoryOptionCombo+v.Value] {
				t.Fatalf("sent %+v, which is not a valid value", v)
			}
		}
		byKey := map[string]Stored{}
		for _, s := range stored {
			byKey[s.DataElement+s.OrgUnit+s.CategoryOptionCombo] = s
		}
		for _, v := range d.Delete {
			if s := byKey[v.DataElement+v.OrgUnit+v.CategoryOptionCombo]; s.StoredBy == "clerk" {
				t.Fatalf("deleted %+v, stored by clerk", v)
			}
		}
		for _, c := range d.Changes {
			if c.Kind == ChangeChanged && c.StoredBy == "clerk" && !overwrite {
				t.Fatalf("overwrote clerk's value with overwriting off: %+v", c)
			}
			if c.Kind == ChangeDelete && c.StoredBy != "" {
				t.Fatalf("deletion of another user's value: %+v", c)
			}
		}
	})
}
