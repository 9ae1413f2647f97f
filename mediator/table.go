package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
)

// writeDryRun prints a dry run's report for people: the counts, every
// value that would change in DHIS2 (old → new, who stored the old one), the
// completeness registrations and the problems.
func writeDryRun(w io.Writer, rep *app.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Dry run of data set %s, period %s: DHIS2 was not changed.\n", rep.DataSet, rep.Period)
	status := rep.Status
	if rep.Error != "" {
		status += ": " + rep.Error
	}
	fmt.Fprintf(&b, "Status:  %s\n", status)
	fmt.Fprintf(&b, "Values:  %d built from CHT, %d valid, %d rejected\n", rep.DataValues.Built, rep.DataValues.Valid, rep.DataValues.Rejected)
	if c := rep.Changes; c != nil {
		fmt.Fprintf(&b, "Changes: %d new, %d changed, %d unchanged, %d to delete, %d kept (values owned by DHIS2 user %s)\n",
			c.New, c.Changed, c.Unchanged, c.Deleted, c.Kept, c.Owner)
		if len(c.List) > 0 {
			b.WriteString("\n")
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CHANGE\tORG UNIT\tDATA ELEMENT\tCATEGORY OPTION COMBO\tATTRIBUTE OPTION COMBO\tDHIS2 NOW\tAFTER\tNOTE")
			for _, ch := range c.List {
				after := ch.New
				if ch.Kind == "delete" {
					after = "(deleted)"
				}
				if ch.Kind == "kept" {
					after = ch.Old + " (kept)"
				}
				note := ch.Reason
				if ch.StoredBy != "" && ch.Kind == "changed" {
					note = "stored by " + ch.StoredBy
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ch.Kind, ch.OrgUnit, ch.DataElement,
					dash(ch.CategoryOptionCombo), dash(ch.AttributeOptionCombo), dash(ch.Old), after, note)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	if imp := rep.Import; imp != nil {
		fmt.Fprintf(&b, "\nDHIS2 (dry run): %s, %d imported, %d updated, %d deleted, %d ignored, %d conflicts\n",
			imp.Status, imp.Imported, imp.Updated, imp.Deleted, imp.Ignored, len(imp.Conflicts))
	}
	if c := rep.Completeness; c != nil {
		fmt.Fprintf(&b, "Completeness (%s): would register %s", c.Mode, list(c.Registered))
		if len(c.AlreadyComplete) > 0 {
			fmt.Fprintf(&b, "; already complete: %s", list(c.AlreadyComplete))
		}
		b.WriteString("\n")
		for _, s := range c.Skipped {
			fmt.Fprintf(&b, "  not registered: %s (%s)\n", s.OrgUnit, s.Reason)
		}
		if c.Error != "" {
			fmt.Fprintf(&b, "  %s\n", c.Error)
		}
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(&b, "\nProblems (%d):\n", len(rep.Problems))
		for _, p := range rep.Problems {
			where := strings.TrimSpace(strings.Join([]string{p.OrgUnit, p.DataElement}, " "))
			if where != "" {
				where = " [" + where + "]"
			}
			fmt.Fprintf(&b, "  - %s%s: %s\n", p.Code, where, p.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
