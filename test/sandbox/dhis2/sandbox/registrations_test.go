package sandbox

import (
	"net/http"
	"slices"
	"testing"
)

// A lock exception opens an expired period for its org unit only, in the
// 2.36–2.42 importer and in 2.43's.
func TestPush_lockException(t *testing.T) {
	expiry := func(o *Options) { o.Metadata.DataSets[0].ExpiryDays = 10 }
	body := set(`"dataSet":"`+dsCHW+`"`, dv(dePreg, "202401", ouAmani, "", "1"), dv(dePreg, "202401", ouBaraka, "", "2"))
	e := newEnv(t, "2.41", expiry, nonSuperuser(ouRoot))
	e.s.AddLockException(dsCHW, "202401", ouAmani)
	if got := conflictCodes(t, e.push("", body)); !slices.Equal(got, []string{"E7640[1]"}) {
		t.Errorf("2.41 conflicts %v; want E7640[1] only (Amani has a lock exception)", got)
	}
	e = newEnv(t, "2.43", expiry, nonSuperuser(ouRoot))
	e.s.AddLockException(dsCHW, "202401", ouAmani)
	e.s.AddLockException(dsCHW, "202401", ouBaraka)
	if r := e.push("", body); status(t, r) != statusSuccess {
		t.Errorf("2.43 with lock exceptions for both: status %s; want SUCCESS\n%s", status(t, r), r.body)
	}
}

func registration(ds, pe, ou, aoc string) string {
	s := `{"dataSet":"` + ds + `","period":"` + pe + `","organisationUnit":"` + ou + `"`
	if aoc != "" {
		s += `,"attributeOptionCombo":"` + aoc + `"`
	}
	return s + `,"completed":true}`
}

func TestCompleteDataSetRegistrations(t *testing.T) {
	body := `{"completeDataSetRegistrations":[` + registration(dsCHW, "202402", ouAmani, "") + `,` +
		registration(dsCHW, "202402", ouBaraka, cocDefault) + `,` + registration(unknownUID, "202402", ouAmani, "") + `]}`
	for _, v := range []string{"2.36", "2.37", "2.40", "2.42", "2.43"} {
		t.Run(v, func(t *testing.T) {
			e := newEnv(t, v)
			r := e.do(http.MethodPost, "/api/completeDataSetRegistrations", body)
			wrapped := v != "2.36" && v != "2.37"
			m := r.json(t)
			if _, isWM := m["httpStatusCode"]; isWM != wrapped || r.status != http.StatusOK {
				t.Fatalf("status %d, wrapped %t; want 200, wrapped %t\n%s", r.status, isWM, wrapped, r.body)
			}
			sum := summaryOf(t, r)
			if got := counts(t, r); got != [4]int{2, 0, 1, 0} || sum["status"] != "SUCCESS" || sum["description"] != "Import process complete." {
				t.Errorf("counts %v, status %v, description %v; want [2 0 1 0] SUCCESS", got, sum["status"], sum["description"])
			}
			cs, _ := sum["conflicts"].([]any)
			if len(cs) != 1 || cs[0].(map[string]any)["object"] != unknownUID || cs[0].(map[string]any)["value"] != "Data set not found or not accessible" {
				t.Errorf("conflicts %v; want the unknown data set, as {object, value}", cs)
			}
			regs := e.s.Registrations()
			if len(regs) != 2 || regs[0].OrgUnit != ouAmani || regs[1].OrgUnit != ouBaraka || regs[0].AttributeOptionCombo != cocDefault || regs[0].StoredBy != testUser || !regs[0].Completed {
				t.Errorf("registrations %+v; want Amani and Baraka with the default combo, stored by %s", regs, testUser)
			}
			// Again: both updated; a dry run writes nothing.
			r = e.do(http.MethodPost, "/api/completeDataSetRegistrations?dryRun=true", `{"completeDataSetRegistrations":[`+registration(dsCHW, "202402", ouChanya, "")+`]}`)
			if got := counts(t, r); got != [4]int{1, 0, 0, 0} || len(e.s.Registrations()) != 2 {
				t.Errorf("dry run: counts %v, %d registrations; want [1 0 0 0] and still 2", got, len(e.s.Registrations()))
			}
			r = e.do(http.MethodPost, "/api/completeDataSetRegistrations", body)
			if got := counts(t, r); got != [4]int{0, 2, 1, 0} {
				t.Errorf("second time: counts %v; want [0 2 1 0]", got)
			}
			// Every registration ignored: ERROR, 409 when wrapped.
			r = e.do(http.MethodPost, "/api/completeDataSetRegistrations", `{"completeDataSetRegistrations":[`+registration(dsCHW, "2024-99", ouAmani, "")+`]}`)
			if want := map[bool]int{true: http.StatusConflict, false: http.StatusOK}[wrapped]; r.status != want || summaryOf(t, r)["status"] != "ERROR" {
				t.Errorf("all ignored: status %d %v; want %d ERROR", r.status, summaryOf(t, r)["status"], want)
			}

			// GET lists them; it needs a data set, a period and an org unit.
			g := e.get("/api/completeDataSetRegistrations?dataSet=" + dsCHW + "&period=202402&orgUnit=" + ouDistrict + "&children=true")
			list, _ := g.json(t)["completeDataSetRegistrations"].([]any)
			if g.status != http.StatusOK || len(list) != 2 || list[0].(map[string]any)["organisationUnit"] != ouAmani || list[0].(map[string]any)["completed"] != true {
				t.Errorf("GET: %d %s; want Amani and Baraka", g.status, g.body)
			}
			if g := e.get("/api/completeDataSetRegistrations?period=202402&orgUnit=" + ouAmani); g.status != http.StatusConflict || g.json(t)["errorCode"] != "E2013" {
				t.Errorf("GET without a data set: %d %s; want 409 E2013", g.status, g.body)
			}
		})
	}
}
