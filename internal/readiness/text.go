package readiness

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is a few lines for people, each starting with "readiness
// <period>: ": the verdict with the counts, then who has not synced. period
// is the DHIS2 period (YYYYMM).
func (o *Object) Summary(period string) string {
	var b strings.Builder
	p := "readiness " + period + ": "
	verdict := "ready"
	if !o.Ready {
		verdict = "NOT READY (" + o.Message + ")"
	}
	fmt.Fprintf(&b, "%s%s: %d of %d expected CHWs synced the month (%d final, %d no activity, %d pending, %d never synced; %s, min %s; %d target docs; last syncs from %s)\n",
		p, verdict, o.Final+o.NoActivity, o.Expected, o.Final, o.NoActivity, o.Pending, o.NeverSynced, percent(o.Ratio), percent(o.MinReady), o.TargetDocs, o.Source)
	for _, u := range o.PendingUsers {
		fmt.Fprintf(&b, "%spending: %s\n", p, describeUser(u))
	}
	for _, u := range o.NeverSyncedUsers {
		fmt.Fprintf(&b, "%snever synced: %s\n", p, describeUser(u))
	}
	if o.Note != "" {
		fmt.Fprintf(&b, "%snote: %s\n", p, o.Note)
	}
	return b.String()
}

func describeUser(u PendingUser) string {
	parts := []string{u.Username}
	if u.ContactName != "" {
		parts = append(parts, u.ContactName)
	}
	if u.OrgUnit != "" {
		parts = append(parts, u.OrgUnit)
	}
	switch {
	case u.LastReplication != nil:
		parts = append(parts, "last sync "+u.LastReplication.Format(stamp))
	case u.DocUpdated != nil:
		parts = append(parts, "target doc updated "+u.DocUpdated.Format(time.DateOnly))
	default:
		parts = append(parts, "no sync recorded")
	}
	return strings.Join(parts, ", ")
}

const stamp = "2006-01-02 15:04 MST"

// Table is the readiness as a table per org unit, then the users who have
// not synced, then the verdict: what mediator readiness prints.
func (o *Object) Table(dataSet, period string) string {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Data set %s, month %s (%s to %s), last syncs from %s\n\n", dataSet, period,
		o.MonthStart.Format(stamp), o.MonthEnd.Format(stamp), o.Source)
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ORG UNIT\tNAME\tEXPECTED\tFINAL\tNO ACTIVITY\tPENDING\tNEVER SYNCED\tREADY")
	for _, ou := range o.OrgUnits {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", ou.OrgUnit, ou.Name, ou.Expected, ou.Final, ou.NoActivity, ou.Pending, ou.NeverSynced, percent(ou.Ratio))
	}
	fmt.Fprintf(w, "all\t\t%d\t%d\t%d\t%d\t%d\t%s\n", o.Expected, o.Final, o.NoActivity, o.Pending, o.NeverSynced, percent(o.Ratio))
	_ = w.Flush()
	if len(o.PendingUsers)+len(o.NeverSyncedUsers) > 0 {
		fmt.Fprintln(&buf, "\nNot synced since the month ended:")
		w = tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  USER\tCONTACT\tORG UNIT\tLAST SYNC\tTARGET DOC UPDATED")
		row := func(u PendingUser, never bool) {
			last, doc := "unknown", "none"
			if never {
				last = "never"
			}
			if u.LastReplication != nil {
				last = u.LastReplication.Format(stamp)
			}
			if u.DocUpdated != nil {
				doc = u.DocUpdated.Format(time.DateOnly)
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", u.Username, u.ContactName, u.OrgUnit, last, doc)
		}
		for _, u := range o.PendingUsers {
			row(u, false)
		}
		for _, u := range o.NeverSyncedUsers {
			row(u, true)
		}
		_ = w.Flush()
	}
	if o.Note != "" {
		fmt.Fprintf(&buf, "\nNote: %s\n", o.Note)
	}
	fmt.Fprintf(&buf, "\n%d target docs. ", o.TargetDocs)
	if o.Ready {
		fmt.Fprintf(&buf, "Ready: %s of the expected CHWs have synced the month (at least %s needed).\n", percent(o.Ratio), percent(o.MinReady))
	} else {
		fmt.Fprintf(&buf, "Not ready: %s.\n", o.Message)
	}
	return buf.String()
}
