package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// conflictCodes lists errorCode (or, for 2.36, object) of each conflict
// with its indexes.
func conflictCodes(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	cs, _ := summaryOf(t, r)["conflicts"].([]any)
	for _, c := range cs {
		m := c.(map[string]any)
		code, _ := m["errorCode"].(string)
		if code == "" {
			code, _ = m["object"].(string)
		}
		out = append(out, fmt.Sprintf("%s%v", code, m["indexes"]))
	}
	return out
}

func status(t *testing.T, r response) string {
	t.Helper()
	s, _ := summaryOf(t, r)["status"].(string)
	return s
}

func TestPush_zeros(t *testing.T) {
	for _, v := range []string{"2.36", "2.40", "2.41", "2.42"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v)
			// A zero for a new value of a data element that does not store
			// zeros is skipped and not counted at all (dhis2-core DefaultDataValueSetService).
			r := e.push("", set("", dv(dePreg, "202402", ouAmani, "", "0"), dv(deU5, "202402", ouAmani, cocMale, "0.0")))
			if got := counts(t, r); got != [4]int{} || status(t, r) != statusSuccess {
				t.Errorf("zero for new values: %s %v; want SUCCESS and no counts", status(t, r), got)
			}
			if got := e.s.Stored(); len(got) != 0 {
				t.Errorf("zero stored: %v", storedValues(e.s))
			}
			// zeroIsSignificant stores it.
			r = e.push("", set("", dv(deVisits, "202402", ouAmani, "", "0")))
			if got := counts(t, r); got != [4]int{1, 0, 0, 0} {
				t.Errorf("significant zero counts %v; want imported 1", got)
			}
			// A zero for an existing value deletes it.
			e.push("", set("", dv(dePreg, "202402", ouAmani, "", "4")))
			r = e.push("", set("", dv(dePreg, "202402", ouAmani, "", "0")))
			if got := counts(t, r); got != [4]int{0, 0, 0, 1} {
				t.Errorf("zero for existing value counts %v; want deleted 1", got)
			}
			want := []string{
				deVisits + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=0",
				dePreg + "/202402/" + ouAmani + "/HllvX50cXC0/HllvX50cXC0=4 deleted",
			}
			if got := storedValues(e.s); !slices.Equal(got, want) {
				t.Errorf("stored %v; want %v", got, want)
			}
			// Sending it again restores it, counted as imported (dhis2-core DefaultDataValueSetService).
			r = e.push("", set("", dv(dePreg, "202402", ouAmani, "", "9")))
			if got := counts(t, r); got != [4]int{1, 0, 0, 0} {
				t.Errorf("restore counts %v; want imported 1", got)
			}
		})
	}
}

func TestPush_emptyNullAndDeletes(t *testing.T) {
	e := newEnv(t, "2.41")
	e.push("", set("", dv(dePreg, "202402", ouAmani, "", "4"), dv(deDeliv, "202402", ouAmani, "", "2")))

	// Empty value: ignored for a new value, a delete for an existing one.
	r := e.push("", set("", dv(dePreg, "202402", ouAmani, "", ""), dv(dePreg, "202402", ouBaraka, "", "  ")))
	if got := counts(t, r); got != [4]int{0, 0, 1, 1} {
		t.Errorf("empty values counts %v; want ignored 1, deleted 1", got)
	}
	if got := summaryOf(t, r)["rejectedIndexes"]; fmt.Sprint(got) != "[]" {
		t.Errorf("empty value rejectedIndexes = %v; want none", got)
	}
	// A missing value without a comment is E7618.
	r = e.push("", `{"dataValues":[{"dataElement":"`+deDeliv+`","period":"202402","orgUnit":"`+ouAmani+`"}]}`)
	if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7618[0]"}) {
		t.Errorf("null value conflicts %v; want E7618[0]", got)
	}
	// deleted: true deletes.
	r = e.push("", `{"dataValues":[{"dataElement":"`+deDeliv+`","period":"202402","orgUnit":"`+ouAmani+`","value":"2","deleted":true}]}`)
	if got := counts(t, r); got != [4]int{0, 0, 0, 1} {
		t.Errorf("deleted:true counts %v; want deleted 1", got)
	}
	if got := storedValues(e.s); len(got) != 2 || !strings.HasSuffix(got[0], "deleted") || !strings.HasSuffix(got[1], "deleted") {
		t.Errorf("stored %v; want both deleted", got)
	}
}

func TestPush_strategies(t *testing.T) {
	tests := []struct {
		strategy string
		want     [4]int
		rejected string
		stored   []string
	}{
		{"CREATE", [4]int{1, 0, 1, 0}, "[0]", []string{"=4", "=7"}},
		{"NEW", [4]int{1, 0, 1, 0}, "[0]", []string{"=4", "=7"}},
		{"UPDATE", [4]int{0, 1, 1, 0}, "[1]", []string{"=5"}},
		{"DELETE", [4]int{0, 0, 1, 1}, "[1]", []string{"=4 deleted"}},
		{"CREATE_AND_UPDATE", [4]int{1, 1, 0, 0}, "[]", []string{"=5", "=7"}},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			e := newEnv(t, "2.41")
			e.push("", set("", dv(dePreg, "202402", ouAmani, "", "4")))
			r := e.push("?importStrategy="+tt.strategy, set("",
				dv(dePreg, "202402", ouAmani, "", "5"),  // exists
				dv(dePreg, "202402", ouBaraka, "", "7"), // new
			))
			if got := counts(t, r); got != tt.want {
				t.Errorf("counts %v; want %v", got, tt.want)
			}
			if got := fmt.Sprint(summaryOf(t, r)["rejectedIndexes"]); got != tt.rejected {
				t.Errorf("rejectedIndexes %s; want %s", got, tt.rejected)
			}
			var got []string
			for _, s := range storedValues(e.s) {
				got = append(got, s[strings.Index(s, "="):])
			}
			if !slices.Equal(got, tt.stored) {
				t.Errorf("stored %v; want %v", got, tt.stored)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		e := newEnv(t, "2.41")
		if r := e.push("?importStrategy=MERGE", validPush); r.status != http.StatusBadRequest {
			t.Errorf("status %d; want 400", r.status)
		}
	})
}

// TestPush_notCheckedByDefault: org unit assignment, data set membership,
// COC ∈ combo and period type are only checked with strict* (dhis2-core DataValueSetImportValidator).
func TestPush_notCheckedByDefault(t *testing.T) {
	body := set(`"dataSet":"`+dsCHW+`"`,
		dv(deDeliv, "202402", ouDalili, "", "1"),    // org unit not assigned
		dv(deMalaria, "202402", ouAmani, "", "2"),   // data element not in the data set
		dv(dePreg, "202402", ouAmani, cocMale, "3"), // COC of another combo
		dv(deDeliv, "2024W5", ouAmani, "", "4"),     // weekly period for a monthly data set
		dv(deDeliv, "2024Q1", ouBaraka, "", "5"),    // quarterly
	)
	e := newEnv(t, "2.41")
	r := e.push("", body)
	if status(t, r) != statusSuccess || counts(t, r) != [4]int{5, 0, 0, 0} {
		t.Fatalf("default push: %s %v; want SUCCESS, 5 imported\n%s", status(t, r), counts(t, r), r.body)
	}
	e.s.Reset()
	r = e.push("?strictOrganisationUnits=true&strictCategoryOptionCombos=true&strictPeriods=true&strictDataElements=true", body)
	// The data element in no data set has no period type either: E7632
	// comes first (validator order).
	want := []string{"E7636[0]", "E7632[1]", "E7634[2]", "E7632[3]", "E7632[4]"}
	if got := conflictCodes(t, r); !slices.Equal(got, want) {
		t.Errorf("strict conflicts %v; want %v", got, want)
	}
	golden(t, "push_strict_2.41", r.body)
	e.s.Reset()
	r = e.push("?strictDataElements=true", body)
	if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7633[1]"}) {
		t.Errorf("strictDataElements conflicts %v; want E7633[1]", got)
	}
}

func TestPush_futurePeriods(t *testing.T) {
	// Now is 2024-03-10; openFuturePeriods 0 closes March (DHIS2 Web API docs, metadata).
	for _, v := range []string{"2.36", "2.40", "2.42"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v)
			r := e.push("", set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202403", ouAmani, "", "1"), dv(dePreg, "202402", ouAmani, "", "2")))
			want := []string{"E7641[0]"}
			if v == "2.36" {
				want = []string{"202403<nil>"}
			}
			if got := conflictCodes(t, r); !slices.Equal(got, want) {
				t.Errorf("conflicts %v; want %v\n%s", got, want, r.body)
			}
			// Without dataSet the data element's data sets are the targets.
			r = e.push("", set("", dv(dePreg, "202404", ouAmani, "", "1")))
			if len(conflictCodes(t, r)) != 1 {
				t.Errorf("without dataSet: conflicts %v; want one", conflictCodes(t, r))
			}
			// force=true skips the check for a superuser.
			r = e.push("?force=true", set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202403", ouAmani, "", "1")))
			if got := counts(t, r); got != [4]int{1, 0, 0, 0} {
				t.Errorf("force: counts %v; want imported 1", got)
			}
		})
	}
	t.Run("openFuturePeriods=2", func(t *testing.T) {
		e := newEnv(t, "2.41", func(o *Options) { o.Metadata.DataSets[0].OpenFuturePeriods = 2 })
		r := e.push("", set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202403", ouAmani, "", "1"), dv(dePreg, "202404", ouAmani, "", "1"), dv(dePreg, "202405", ouAmani, "", "1")))
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7641[2]"}) {
			t.Errorf("conflicts %v; want E7641[2]", got)
		}
	})
}

// nonSuperuser is a data entry user without F_EDIT_EXPIRED.
func nonSuperuser(ous ...string) func(*Options) {
	return func(o *Options) {
		o.User = &User{Authorities: []string{"F_DATAVALUE_ADD"}, OrgUnits: ous}
	}
}

func TestPush_locking(t *testing.T) {
	expiry := func(o *Options) { o.Metadata.DataSets[0].ExpiryDays = 10 }
	body := set(`"dataSet":"`+dsCHW+`"`,
		dv(dePreg, "202401", ouAmani, "", "1"), // ended 31 Jan + 10 days < 10 Mar: locked
		dv(dePreg, "202402", ouAmani, "", "2"), // ends 29 Feb + 10 days = 10 Mar 00:00 < now: locked
	)
	e := newEnv(t, "2.41", expiry, nonSuperuser(ouRoot))
	r := e.push("", body)
	if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7640[0]", "E7640[1]"}) {
		t.Errorf("conflicts %v; want E7640 for both", got)
	}
	// A superuser has F_EDIT_EXPIRED.
	e = newEnv(t, "2.41", expiry)
	if r := e.push("", body); status(t, r) != statusSuccess {
		t.Errorf("superuser: status %s; want SUCCESS\n%s", status(t, r), r.body)
	}
	// 2.43: the whole group is rejected (E8030).
	e = newEnv(t, "2.43", expiry, nonSuperuser(ouRoot))
	r = e.push("", body)
	if got := conflictCodes(t, r); !slices.Equal(got, []string{"E8030[0 1]"}) {
		t.Errorf("2.43 conflicts %v; want E8030[0 1]", got)
	}
}

func TestPush_hierarchyApprovalInputPeriods(t *testing.T) {
	t.Run("E7617", func(t *testing.T) {
		e := newEnv(t, "2.40", nonSuperuser(ouBaraka))
		r := e.push("", set("", dv(dePreg, "202402", ouAmani, "", "1"), dv(dePreg, "202402", ouBaraka, "", "1")))
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7617[0]"}) {
			t.Errorf("conflicts %v; want E7617[0]", got)
		}
	})
	t.Run("E7642", func(t *testing.T) {
		e := newEnv(t, "2.40", func(o *Options) { o.Metadata.DataSets[0].Workflow = &Ref{ID: "Wf1aB2cD3eF"} })
		e.s.Approve("Wf1aB2cD3eF", "202402", ouAmani, "")
		r := e.push("", set("", dv(dePreg, "202402", ouAmani, "", "1"), dv(dePreg, "202402", ouBaraka, "", "1")))
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7642[0]"}) {
			t.Errorf("conflicts %v; want E7642[0]", got)
		}
	})
	t.Run("E7643", func(t *testing.T) {
		e := newEnv(t, "2.40", func(o *Options) {
			o.Metadata.DataSets[0].DataInputPeriods = []DataInputPeriod{
				{Period: Ref{ID: "202402"}, OpeningDate: "2024-03-01", ClosingDate: "2024-03-15"},
				{Period: Ref{ID: "202401"}, OpeningDate: "2024-02-01", ClosingDate: "2024-02-15"},
			}
		})
		r := e.push("", set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202402", ouAmani, "", "1"), dv(dePreg, "202401", ouAmani, "", "1"), dv(dePreg, "202312", ouAmani, "", "1")))
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7643[1]", "E7643[2]"}) {
			t.Errorf("conflicts %v; want E7643[1], E7643[2]", got)
		}
	})
}

func TestPush_valuesAndOptions(t *testing.T) {
	md := func(o *Options) {
		o.Metadata.OptionSets = append(o.Metadata.OptionSets, OptionSet{ID: "Os1aB2cD3eF", Name: "Yes/No", ValueType: "TEXT",
			Options: []Option{{ID: "Op1aB2cD3eF", Name: "Yes", Code: "Y"}, {ID: "Op2aB2cD3eF", Name: "No", Code: "N"}}})
		o.Metadata.DataElements = append(o.Metadata.DataElements,
			DataElement{ID: "Yn1aB2cD3eF", Name: "Supervised", ValueType: "TEXT", OptionSet: &Ref{ID: "Os1aB2cD3eF"}},
			DataElement{ID: "Bo1aB2cD3eF", Name: "Active", ValueType: "BOOLEAN"},
			DataElement{ID: "Pi1aB2cD3eF", Name: "Referrals", ValueType: "INTEGER_POSITIVE"})
		o.Metadata.idx = index{} // re-resolve in New
	}
	e := newEnv(t, "2.41", md)
	r := e.push("", `{"dataValues":[`+strings.Join([]string{
		dv("Yn1aB2cD3eF", "202402", ouAmani, "", "Y"),
		dv("Yn1aB2cD3eF", "202402", ouBaraka, "", "Maybe"),
		dv("Bo1aB2cD3eF", "202402", ouAmani, "", "T"),
		dv("Pi1aB2cD3eF", "202402", ouAmani, "", "0"), // type check before the zero rule: E7619
		`{"dataElement":"` + dePreg + `","period":"202402","orgUnit":"` + ouAmani + `","value":12}`,
		`{"dataElement":"` + deVisits + `","period":"202402","orgUnit":"` + ouAmani + `","value":1.50}`,
		dv(deRemarks, "202402", ouAmani, "", "All good <ok> & fine"),
	}, ",")+`]}`)
	if got := conflictCodes(t, r); !slices.Equal(got, []string{"E7621[1]", "E7619[3]"}) {
		t.Errorf("conflicts %v; want E7621[1], E7619[3]", got)
	}
	var got []string
	for _, v := range e.s.Stored() {
		got = append(got, v.DataElement+"="+v.Value)
	}
	want := []string{"Bo1aB2cD3eF=true", "Yn1aB2cD3eF=Y", dePreg + "=12", deVisits + "=1.50", deRemarks + "=All good <ok> & fine"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("stored %v; want %v", got, want)
	}
}

func TestPush_requestErrors(t *testing.T) {
	t.Run("content type", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "application/xml", "application/csv", "text/csv", ""} {
			e := newEnv(t, "2.40")
			r := e.do(http.MethodPost, "/api/dataValueSets", validPush, "Content-Type", ct)
			if r.status != http.StatusUnsupportedMediaType {
				t.Errorf("Content-Type %q: status %d; want 415", ct, r.status)
			}
			if m := r.json(t); m["httpStatusCode"] != float64(415) || m["status"] != "ERROR" {
				t.Errorf("Content-Type %q: body %s", ct, r.body)
			}
		}
		e := newEnv(t, "2.40")
		if r := e.do(http.MethodPost, "/api/dataValueSets", validPush, "Content-Type", "application/json;charset=UTF-8"); r.status != 200 {
			t.Errorf("application/json;charset=UTF-8: status %d; want 200", r.status)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		for _, tt := range []struct {
			version string
			status  int
		}{{"2.36", 200}, {"2.37", 200}, {"2.40", 409}, {"2.43", 409}} {
			e := newEnv(t, tt.version)
			r := e.push("", `{"dataValues":[{"dataElement":`)
			if r.status != tt.status || status(t, r) != statusError {
				t.Errorf("%s: %d %s; want %d ERROR", tt.version, r.status, status(t, r), tt.status)
			}
			if d, _ := summaryOf(t, r)["description"].(string); !strings.HasPrefix(d, "The import process failed: ") {
				t.Errorf("%s: description %q", tt.version, d)
			}
		}
	})
	t.Run("abort", func(t *testing.T) {
		for _, tt := range []struct {
			version string
			status  int
		}{{"2.36", 200}, {"2.41", 409}} {
			e := newEnv(t, tt.version)
			r := e.push("", set(`"dataSet":"`+unknownUID+`","orgUnit":"`+unknownUID+`"`, dv(dePreg, "202402", ouAmani, "", "1")))
			if r.status != tt.status {
				t.Errorf("%s: status %d; want %d", tt.version, r.status, tt.status)
			}
			golden(t, "push_abort_"+tt.version, r.body)
			if len(e.s.Stored()) != 0 {
				t.Errorf("%s: aborted import stored %v", tt.version, storedValues(e.s))
			}
		}
	})
}

func TestPush_completeDate(t *testing.T) {
	e := newEnv(t, "2.40")
	r := e.push("", set(`"dataSet":"`+dsCHW+`","completeDate":"2024-03-05","period":"202402","orgUnit":"`+ouAmani+`"`,
		dv(dePreg, "", "", "", "1")))
	if got := summaryOf(t, r)["dataSetComplete"]; got != "2024-03-05" {
		t.Errorf("dataSetComplete %v; want 2024-03-05", got)
	}
	regs := e.s.Registrations()
	if len(regs) != 1 || regs[0].Period != "202402" || regs[0].OrgUnit != ouAmani || regs[0].AttributeOptionCombo != cocDefault {
		t.Errorf("registrations %+v", regs)
	}
	p := e.get("/api/dataValueSets?dataSet=" + dsCHW + "&period=202402&orgUnit=" + ouAmani)
	if got := p.json(t)["completeDate"]; got != "2024-03-05T00:00:00.000+0000" {
		t.Errorf("pulled completeDate %v", got)
	}
}

func TestPush_idSchemes(t *testing.T) {
	e := newEnv(t, "2.40")
	body := `{"dataSet":"CHW_MONTHLY","dataValues":[{"dataElement":"CHW_U5_ASSESSMENTS","period":"202402","orgUnit":"SBX_N_AMANI","categoryOptionCombo":"FEMALE","value":"2"}]}`
	r := e.push("?idScheme=CODE", body)
	if got := counts(t, r); got != [4]int{1, 0, 0, 0} {
		t.Fatalf("idScheme=CODE counts %v\n%s", got, r.body)
	}
	if got := storedValues(e.s); len(got) != 1 || got[0] != deU5+"/202402/"+ouAmani+"/"+cocFemale+"/HllvX50cXC0=2" {
		t.Errorf("stored %v", got)
	}
	// A specific scheme wins over the general one.
	// A specific scheme wins over the general one (the unchanged value
	// counts as updated on 2.40.0).
	r = e.push("?idScheme=CODE&orgUnitIdScheme=UID", strings.Replace(body, "SBX_N_AMANI", ouAmani, 1))
	if got := counts(t, r); got != [4]int{0, 1, 0, 0} {
		t.Errorf("orgUnitIdScheme=UID counts %v; want updated 1\n%s", got, r.body)
	}
	// A scheme in the payload wins over the URL.
	r = e.push("?idScheme=UID", strings.Replace(body, "{", `{"idScheme":"CODE",`, 1))
	if got := counts(t, r); got != [4]int{0, 1, 0, 0} {
		t.Errorf("payload idScheme counts %v; want updated 1\n%s", got, r.body)
	}
}

func TestPush43(t *testing.T) {
	t.Run("bad uid rejects the whole input", func(t *testing.T) {
		e := newEnv(t, "2.43")
		r := e.push("", set("", dv(dePreg, "202402", ouAmani, "", "1"), dv("not-a-uid", "202402", ouAmani, "", "1")))
		if r.status != 409 || status(t, r) != statusError {
			t.Errorf("status %d %s; want 409 ERROR", r.status, status(t, r))
		}
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E8104[-1]"}) {
			t.Errorf("conflicts %v; want E8104[-1]", got)
		}
		if len(e.s.Stored()) != 0 {
			t.Errorf("stored %v", storedValues(e.s))
		}
	})
	t.Run("value errors", func(t *testing.T) {
		e := newEnv(t, "2.43")
		r := e.push("", set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202402", ouAmani, "", "1"), dv(dePreg, "202402", ouBaraka, "", "x"), dv(deDeliv, "202402", ouBaraka, "", "")))
		if r.status != 409 || status(t, r) != statusWarning || counts(t, r) != [4]int{0, 1, 2, 0} {
			t.Errorf("%d %s %v; want 409 WARNING [0 1 2 0]", r.status, status(t, r), counts(t, r))
		}
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E8122[1]", "E8120[2]"}) {
			t.Errorf("conflicts %v", got)
		}
		golden(t, "push_valueerrors_2.43", r.body)
		// Only invalid values: ERROR.
		r = e.push("", set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202402", ouBaraka, "", "x")))
		if status(t, r) != statusError {
			t.Errorf("status %s; want ERROR", status(t, r))
		}
		// atomic: nothing is written when a value is invalid.
		e.s.Reset()
		r = e.push("?atomic=true", set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202402", ouAmani, "", "1"), dv(dePreg, "202402", ouBaraka, "", "x")))
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E8000[0 1]"}) || len(e.s.Stored()) != 0 {
			t.Errorf("atomic: conflicts %v, stored %v", got, storedValues(e.s))
		}
	})
	t.Run("auto groups and deletes", func(t *testing.T) {
		e := newEnv(t, "2.43")
		r := e.push("", set("", dv(dePreg, "202402", ouAmani, "", "1"), dv(deMalaria, "202402", ouAmani, "", "1")))
		if got := conflictCodes(t, r); !slices.Equal(got, []string{"E8003[-1]"}) {
			t.Errorf("data element in no data set: conflicts %v; want E8003[-1]", got)
		}
		e.push("", set("", dv(dePreg, "202402", ouAmani, "", "1"), dv(deDeliv, "202402", ouAmani, "", "2")))
		r = e.push("?importStrategy=DELETE", set("", dv(dePreg, "202402", ouAmani, "", "1"), dv(deDeliv, "202402", ouBaraka, "", "2")))
		if got := counts(t, r); got != [4]int{0, 0, 1, 1} {
			t.Errorf("DELETE counts %v; want deleted 1, ignored 1", got)
		}
	})
}
