package export

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// DataManager is what the data management around a push needs from DHIS2:
// who the mediator is there, DHIS2's clock, what DHIS2 holds, and the
// completeness registrations. *dhis2.Client implements it. A DHIS2Target
// without it gets the plain push of every valid value.
type DataManager interface {
	Me(ctx context.Context) (dhis2.User, error)
	ServerNow(ctx context.Context) (time.Time, bool, error)
	DataValues(ctx context.Context, dataSet, period string, scope dhis2.DataScope) ([]validate.Stored, error)
	Registrations(ctx context.Context, dataSet, period string, orgUnits []string) ([]dhis2.Registration, error)
	RegisterComplete(ctx context.Context, regs []dhis2.Registration, dryRun bool) (dhis2.ImportResult, error)
	Approvals(ctx context.Context, workflow, period string, orgUnits []string) ([]dhis2.Approval, error)
}

// Completeness registration modes (dhis2.complete_registration).
const (
	CompleteNever     = "never"
	CompleteWhenReady = "when_ready"
	CompleteAlways    = "always"
)

// DataOptions say what an export may do to what DHIS2 holds.
type DataOptions struct {
	// CompleteRegistration is CompleteNever, CompleteWhenReady (the
	// default) or CompleteAlways.
	CompleteRegistration string
	// DeleteStale deletes owned values the mediator no longer produces.
	DeleteStale bool
	// OverwriteOthers lets CHT's numbers replace values other DHIS2 users
	// stored.
	OverwriteOthers bool
}

// Changes is the diff of an export against DHIS2: counts always, the list
// itself on a dry run.
type Changes struct {
	New       int `json:"new"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
	// Kept counts the values DHIS2 holds that the mediator would change or
	// delete but may not (stored by another user, or deletion off).
	Kept int `json:"kept"`
	// Owner is the DHIS2 user whose values the mediator owns.
	Owner string `json:"owner"`
	// List is every value that is not unchanged (dry runs only).
	List []validate.Change `json:"list,omitempty"`
}

// Completeness says what became of the completeness registrations.
type Completeness struct {
	// Mode is the dhis2.complete_registration setting.
	Mode string `json:"mode"`
	// Registered are the org units registered complete by this export (on
	// a dry run: that would be).
	Registered []string `json:"registered"`
	// AlreadyComplete are the org units DHIS2 already had registered.
	AlreadyComplete []string `json:"alreadyComplete,omitempty"`
	// Skipped are the org units not registered, with the reason.
	Skipped []SkippedOrgUnit `json:"skipped,omitempty"`
	// Error says why the registration failed, when it did.
	Error string `json:"error,omitempty"`
}

// SkippedOrgUnit is an org unit left unregistered.
type SkippedOrgUnit struct {
	OrgUnit string `json:"orgUnit"`
	Reason  string `json:"reason"`
}

// readinessOK says whether the month's readiness lets "when_ready" register
// org unit ou complete: the month is ready, or (an export forced past the
// gate) it has ended, CHT holds target docs of it and ou's own share of
// synced CHWs reaches export.min_ready. Unknown readiness counts as ready.
func readinessOK(rep *Report, ou string) bool {
	r := rep.Readiness
	if r == nil || r.Ready {
		return true
	}
	if !r.Ended || r.TargetDocs == 0 {
		return false
	}
	for _, o := range r.OrgUnits {
		if o.OrgUnit == ou {
			return o.Ratio+1e-9 >= r.MinReady
		}
	}
	return false
}

// serverNow is DHIS2's clock when DHIS2 tells it, else the local one.
func (s *Service) serverNow(ctx context.Context) time.Time {
	if dm, ok := s.dhis2.(DataManager); ok {
		if t, ok, err := dm.ServerNow(ctx); err == nil && ok {
			return t
		}
	}
	return s.now()
}

// predictLocks judges the period with DHIS2's clock and the mediator's
// authorities. When DHIS2 would refuse the whole period, it returns no
// valid value and counts the dropped ones as rejected.
func (s *Service) predictLocks(ctx context.Context, rep *Report, md validate.Metadata, period string, now time.Time, valid []validate.Value) []validate.Value {
	editExpired := false
	if dm, ok := s.dhis2.(DataManager); ok {
		if u, err := dm.Me(ctx); err == nil {
			editExpired = validate.CanEditExpired(u.Authorities)
		}
	}
	v := validate.Locks(md, period, now, editExpired)
	for _, p := range v.Problems {
		rep.Problems = append(rep.Problems, Problem{Code: p.Code, Message: p.Message})
	}
	if v.Refused {
		rep.DataValues.Rejected += len(valid)
		return nil
	}
	return valid
}

// diff reads what DHIS2 holds for the export's scope and compares. It
// returns nil when DHIS2 cannot be asked (a target without DataManager).
func (s *Service) diff(ctx context.Context, req ExportRequest, md validate.Metadata, values, valid []validate.Value) (*validate.Diff, string, error) {
	dm, ok := s.dhis2.(DataManager)
	if !ok {
		return nil, "", nil
	}
	me, err := dm.Me(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("read the mediator's DHIS2 user: %w", err)
	}
	// The whole export reads below the user's own org units (DHIS2 refuses
	// a read naming an org unit outside them, E2012, and a data set may be
	// assigned to such org units) and keeps the data set's org units; an
	// export of one org unit reads that one (and those below it).
	scope := dhis2.DataScope{OrgUnits: me.OrgUnits, Children: true}
	switch {
	case req.OrgUnit != "":
		scope = dhis2.DataScope{OrgUnits: []string{req.OrgUnit}, Children: req.Children}
	case len(me.OrgUnits) == 0:
		scope = dhis2.DataScope{OrgUnits: slices.Sorted(maps.Keys(md.OrgUnits))}
	}
	stored, err := dm.DataValues(ctx, req.DataSet, req.Period.Period(), scope)
	if err != nil {
		return nil, "", fmt.Errorf("read what DHIS2 holds: %w", err)
	}
	if req.OrgUnit == "" {
		stored = slices.DeleteFunc(stored, func(v validate.Stored) bool { return !md.OrgUnits[v.OrgUnit] })
	}
	owners := []string{me.Username}
	for _, v := range values {
		if raw, ok := v.Attributes["storedBy"]; ok {
			if by := strings.Trim(strings.TrimSpace(string(raw)), `"`); by != "" && !slices.Contains(owners, by) {
				owners = append(owners, by)
			}
		}
	}
	d := validate.Compare(md, values, valid, stored, validate.DiffOptions{
		Owners: owners, DeleteStale: s.data.DeleteStale, OverwriteOthers: s.data.OverwriteOthers})
	return &d, me.Username, nil
}

// reportChanges puts the diff in the report.
func reportChanges(rep *Report, d *validate.Diff, owner string, dryRun bool) {
	rep.Changes = &Changes{New: d.New, Changed: d.Changed, Unchanged: d.Unchanged, Deleted: d.Deleted, Kept: d.Kept, Owner: owner}
	if dryRun {
		rep.Changes.List = d.Changes
	}
	for _, c := range d.Changes {
		if c.Kind == validate.ChangeKept && c.StoredBy != "" && c.New != "" && !validate.IsZero(c.New) {
			rep.Problems = append(rep.Problems, Problem{Code: codeValueKept, OrgUnit: c.OrgUnit, DataElement: c.DataElement,
				CategoryOptionCombo: c.CategoryOptionCombo, AttributeOptionCombo: c.AttributeOptionCombo, Value: c.New,
				Message: fmt.Sprintf("DHIS2 holds %q stored by %s; CHT's %q is not sent because dhis2.overwrite_others is off", c.Old, c.StoredBy, c.New)})
		}
	}
}

// deleteStale deletes the owned stale values (importStrategy=DELETE) and
// adds DHIS2's conflicts to the report. It returns DHIS2's result, the org
// units of values it could not delete, and the error of a push that
// stopped.
func (s *Service) deleteStale(ctx context.Context, rep *Report, dataSet string, dels []validate.Value, dryRun bool) (dhis2.ImportResult, map[string]bool, error) {
	failed := map[string]bool{}
	if len(dels) == 0 {
		return dhis2.ImportResult{}, failed, nil
	}
	res, err := s.dhis2.PushDataValues(ctx, dels, dhis2.PushOptions{DryRun: dryRun, DataSet: dataSet, Delete: true})
	for _, c := range res.Conflicts {
		for _, i := range c.Indexes {
			if i >= 0 && i < len(dels) {
				v := dels[i]
				failed[v.OrgUnit] = true
				rep.Problems = append(rep.Problems, Problem{Code: "dhis2_delete_conflict", Message: "DHIS2 refused to delete the stale value" + conflictSuffix(c),
					OrgUnit: v.OrgUnit, DataElement: v.DataElement, CategoryOptionCombo: v.CategoryOptionCombo, AttributeOptionCombo: v.AttributeOptionCombo, Value: v.Value})
			}
		}
		if len(c.Indexes) == 0 {
			rep.Problems = append(rep.Problems, Problem{Code: "dhis2_delete_conflict", Message: "DHIS2 refused to delete a stale value" + conflictSuffix(c)})
		}
	}
	if err != nil {
		for _, v := range dels {
			failed[v.OrgUnit] = true
		}
	}
	return res, failed, err
}

// mergeResults adds the deletions' result to the push's.
func mergeResults(a, b dhis2.ImportResult) dhis2.ImportResult {
	if b.Chunks == 0 {
		return a
	}
	if a.Chunks == 0 {
		a.Status = b.Status
	} else if rankStatus(b.Status) > rankStatus(a.Status) {
		a.Status = b.Status
	}
	a.Imported += b.Imported
	a.Updated += b.Updated
	a.Ignored += b.Ignored
	a.Deleted += b.Deleted
	a.Chunks += b.Chunks
	a.Conflicts = append(a.Conflicts, b.Conflicts...)
	if b.Description != "" && !strings.Contains(a.Description, b.Description) {
		a.Description = strings.TrimPrefix(a.Description+"; "+b.Description, "; ")
	}
	return a
}

func rankStatus(s string) int {
	switch s {
	case dhis2.ImportSuccess:
		return 0
	case dhis2.ImportWarning:
		return 1
	}
	return 2
}

// register registers the data set complete per org unit, as the mode says:
// never; when_ready when every built value was accepted (and the month is
// ready); always for each org unit none of whose values failed. An org unit
// whose values failed is never registered, nor one DHIS2 already has.
func (s *Service) register(ctx context.Context, rep *Report, req ExportRequest, md validate.Metadata, values, valid []validate.Value, failed map[string]bool, pushFailed bool) {
	mode := cmp.Or(s.data.CompleteRegistration, CompleteWhenReady)
	failed = maps.Clone(failed)
	if failed == nil {
		failed = map[string]bool{}
	}
	ok := make(map[cell]bool, len(valid))
	for _, v := range valid {
		ok[comparable(v)] = true
	}
	for _, v := range values {
		if !ok[comparable(v)] {
			failed[v.OrgUnit] = true // refused by validation or a lock prediction
		}
	}
	for _, p := range rep.Problems {
		if p.Code == codeValueKept || p.Code == codeDataApproved {
			failed[p.OrgUnit] = true // CHT's number is not what DHIS2 holds
		}
	}
	c := &Completeness{Mode: mode, Registered: []string{}}
	rep.Completeness = c
	dm, isDM := s.dhis2.(DataManager)
	if mode == CompleteNever || !isDM {
		return
	}
	allAccepted := rep.DataValues.Rejected == 0 && len(failed) == 0 && !pushFailed
	aocs := map[string]map[string]bool{} // org unit → attribute option combos
	for _, v := range values {
		if aocs[v.OrgUnit] == nil {
			aocs[v.OrgUnit] = map[string]bool{}
		}
		aocs[v.OrgUnit][cmp.Or(v.AttributeOptionCombo, md.DefaultCategoryOptionCombo)] = true
	}
	ous := slices.Sorted(maps.Keys(aocs))
	var candidates []string
	for _, ou := range ous {
		switch {
		case failed[ou] || pushFailed:
			c.Skipped = append(c.Skipped, SkippedOrgUnit{OrgUnit: ou, Reason: "some of its values were not accepted"})
		case mode == CompleteWhenReady && !allAccepted:
			c.Skipped = append(c.Skipped, SkippedOrgUnit{OrgUnit: ou, Reason: "not every value of the export was accepted (dhis2.complete_registration is when_ready)"})
		case mode == CompleteWhenReady && !readinessOK(rep, ou):
			c.Skipped = append(c.Skipped, SkippedOrgUnit{OrgUnit: ou, Reason: "the month is not ready: not every CHW under it has synced since it ended (dhis2.complete_registration is when_ready)"})
		default:
			candidates = append(candidates, ou)
		}
	}
	if len(candidates) == 0 {
		return
	}
	period := req.Period.Period()
	existing, err := dm.Registrations(ctx, req.DataSet, period, candidates)
	if err != nil {
		c.Error = err.Error()
		rep.Problems = append(rep.Problems, Problem{Code: "complete_registration_failed", Message: "could not read DHIS2's completeness registrations: " + err.Error()})
		return
	}
	done := map[[2]string]bool{}
	for _, r := range existing {
		if r.Completed && r.DataSet == req.DataSet && r.Period == period {
			done[[2]string{r.OrgUnit, cmp.Or(r.AttributeOptionCombo, md.DefaultCategoryOptionCombo)}] = true
		}
	}
	var regs []dhis2.Registration
	var regOUs []string
	for _, ou := range candidates {
		todo := false
		for _, aoc := range slices.Sorted(maps.Keys(aocs[ou])) {
			if !done[[2]string{ou, aoc}] {
				todo = true
				regs = append(regs, dhis2.Registration{DataSet: req.DataSet, Period: period, OrgUnit: ou, AttributeOptionCombo: aoc})
			}
		}
		if todo {
			regOUs = append(regOUs, ou)
		} else {
			c.AlreadyComplete = append(c.AlreadyComplete, ou)
		}
	}
	if len(regs) == 0 {
		return
	}
	res, err := dm.RegisterComplete(ctx, regs, req.DryRun)
	switch {
	case err != nil:
		c.Error = err.Error()
	case res.Ignored > 0 || len(res.Conflicts) > 0 || res.Status == dhis2.ImportError:
		var msgs []string
		for _, cf := range res.Conflicts {
			msgs = append(msgs, strings.TrimSpace(cf.Object+": "+cf.Value))
		}
		c.Error = fmt.Sprintf("DHIS2 ignored %d of %d registrations: %s", res.Ignored, len(regs), strings.Join(msgs, "; "))
	default:
		c.Registered = regOUs
		return
	}
	rep.Problems = append(rep.Problems, Problem{Code: "complete_registration_failed", Message: "the data set was not registered complete: " + c.Error})
}

// codeDataApproved: the data of an org unit is approved in DHIS2, so its
// changes are not sent.
const codeDataApproved = "data_approved"

// codeValueKept: DHIS2 holds another user's value where CHT has a number,
// and overwriting is off.
const codeValueKept = "value_kept"

func hasProblem(rep *Report, code string) bool {
	return slices.ContainsFunc(rep.Problems, func(p Problem) bool { return p.Code == code })
}

// cell is a value without its attributes, usable as a map key.
type cell struct{ de, pe, ou, coc, aoc, value string }

func comparable(v validate.Value) cell {
	return cell{v.DataElement, v.Period, v.OrgUnit, v.CategoryOptionCombo, v.AttributeOptionCombo, v.Value}
}

// conflictSuffix renders a DHIS2 conflict's code, message and, for the
// conflicts a data manager can act on, the fix.
func conflictSuffix(c dhis2.Conflict) string {
	msg := ""
	if c.ErrorCode != "" {
		msg += " (" + c.ErrorCode + ")"
	}
	if c.Value != "" {
		msg += ": " + c.Value
	}
	if hint := conflictHint(c.ErrorCode); hint != "" {
		msg += "; " + hint
	}
	return msg
}

// conflictHint is the fix for DHIS2's locking, input-period and approval
// conflicts (2.37–2.42 codes and their 2.43 successors).
func conflictHint(code string) string {
	switch code {
	case "E7640", "E8032":
		return "the period is locked (expiry days): ask a DHIS2 administrator for a lock exception for this org unit, then export again"
	case "E7641":
		return "the period is not open yet: export it once it has ended"
	case "E7643", "E7644", "E8030":
		return "the period is closed for data entry: ask a DHIS2 administrator to open it (data input periods, expiry) or add a lock exception"
	case "E7642", "E8033":
		return "the data is approved: an approver must unapprove it in DHIS2 before it can change; the mediator never pushes over approved data"
	}
	return ""
}

// groupRefusals are DHIS2 2.43's refusals of a whole data set group (not
// open for data entry, org unit closed, expired, approved): 2.43 refuses
// every value of the data set in the request for one org unit's sake
// (DataEntryPipeline checks them per data set group).
var groupRefusals = map[string]bool{"E8030": true, "E8031": true, "E8032": true, "E8033": true}

// isolateOrgUnits re-sends, one org unit per request, the values that a
// group refusal rejected when they span several org units, so that one
// approved or locked org unit does not hold back the others. It returns
// res with those conflicts replaced by the answers per org unit (indexes
// still into sent). When one of those pushes stops, the error is its
// *dhis2.PushError and rest the values of that org unit and the ones after
// it, the slice the error's indexes refer to.
func (s *Service) isolateOrgUnits(ctx context.Context, res dhis2.ImportResult, sent []validate.Value, opts dhis2.PushOptions) (_ dhis2.ImportResult, rest []validate.Value, _ error) {
	split := map[int]bool{}
	var kept []dhis2.Conflict
	for _, c := range res.Conflicts {
		ous := map[string]bool{}
		for _, i := range c.Indexes {
			if i >= 0 && i < len(sent) {
				ous[sent[i].OrgUnit] = true
			}
		}
		if !groupRefusals[c.ErrorCode] || len(ous) < 2 {
			kept = append(kept, c)
			continue
		}
		for _, i := range c.Indexes {
			if i >= 0 && i < len(sent) {
				split[i] = true
			}
		}
	}
	if len(split) == 0 {
		return res, nil, nil
	}
	s.log.Info("dhis2 refused a data set group for some org units; sending those org units one by one", "values", len(split))
	out := res
	out.Conflicts = kept
	out.Ignored = max(out.Ignored-len(split), 0)
	out.RejectedIndexes = slices.DeleteFunc(slices.Clone(res.RejectedIndexes), func(i int) bool { return split[i] })
	out.Status = dhis2.ImportSuccess
	if len(kept) > 0 {
		out.Status = dhis2.ImportWarning
	}
	byOU := map[string][]int{}
	for i := range split {
		byOU[sent[i].OrgUnit] = append(byOU[sent[i].OrgUnit], i)
	}
	order := slices.Sorted(maps.Keys(byOU))
	for n, ou := range order {
		idx := byOU[ou]
		slices.Sort(idx)
		vals := make([]validate.Value, len(idx))
		for j, i := range idx {
			vals[j] = sent[i]
		}
		r, err := s.dhis2.PushDataValues(ctx, vals, opts)
		global := func(local []int) []int {
			var g []int
			for _, l := range local {
				if l >= 0 && l < len(idx) {
					g = append(g, idx[l])
				}
			}
			return g
		}
		for _, c := range r.Conflicts {
			c.Indexes = global(c.Indexes)
			out.Conflicts = append(out.Conflicts, c)
		}
		out.RejectedIndexes = append(out.RejectedIndexes, global(r.RejectedIndexes)...)
		out.Imported += r.Imported
		out.Updated += r.Updated
		out.Ignored += r.Ignored
		out.Deleted += r.Deleted
		out.Chunks += r.Chunks
		if r.Chunks > 0 && rankStatus(r.Status) > rankStatus(out.Status) {
			out.Status = r.Status
		}
		if err != nil {
			slices.Sort(out.RejectedIndexes)
			for _, later := range order[n:] {
				for _, i := range byOU[later] {
					rest = append(rest, sent[i])
				}
			}
			return out, rest, err
		}
	}
	slices.Sort(out.RejectedIndexes)
	out.RejectedIndexes = slices.Compact(out.RejectedIndexes)
	return out, nil, nil
}

// predictApproval asks DHIS2 whether the data set's workflow has approved
// the data of the org units about to change. Approved data is never pushed
// over: DHIS2 refuses it anyway (E7642, E8033), so those values and
// deletions are held back and the fix is reported once per org unit. When
// the approvals cannot be read, everything is sent and DHIS2 decides.
func (s *Service) predictApproval(ctx context.Context, rep *Report, md validate.Metadata, period string, send, del []validate.Value) ([]validate.Value, []validate.Value) {
	dm, ok := s.dhis2.(DataManager)
	if !ok || md.DataSet.Workflow == "" || len(send)+len(del) == 0 {
		return send, del
	}
	ous := map[string]bool{}
	for _, v := range slices.Concat(send, del) {
		ous[v.OrgUnit] = true
	}
	apps, err := dm.Approvals(ctx, md.DataSet.Workflow, period, slices.Sorted(maps.Keys(ous)))
	if err != nil {
		s.log.Warn("could not read DHIS2's approvals; sending anyway, DHIS2 decides", "workflow", md.DataSet.Workflow, "period", period, "error", err)
		return send, del
	}
	approved := map[[2]string]string{} // (org unit, combo or "") → state
	for _, a := range apps {
		if a.Approved() {
			approved[[2]string{a.OrgUnit, a.AttributeOptionCombo}] = a.State
		}
	}
	if len(approved) == 0 {
		return send, del
	}
	held := map[string]int{}
	states := map[string]string{}
	keep := func(v validate.Value) bool {
		st, hit := approved[[2]string{v.OrgUnit, cmp.Or(v.AttributeOptionCombo, md.DefaultCategoryOptionCombo)}]
		if !hit {
			st, hit = approved[[2]string{v.OrgUnit, ""}]
		}
		if hit {
			held[v.OrgUnit]++
			states[v.OrgUnit] = st
		}
		return !hit
	}
	var send2, del2 []validate.Value
	for _, v := range send {
		if keep(v) {
			send2 = append(send2, v)
		} else {
			rep.DataValues.Rejected++
		}
	}
	for _, v := range del {
		if keep(v) {
			del2 = append(del2, v)
		}
	}
	for _, ou := range slices.Sorted(maps.Keys(held)) {
		rep.Problems = append(rep.Problems, Problem{Code: codeDataApproved, OrgUnit: ou, Message: fmt.Sprintf(
			"the data of org unit %s for period %s is approved in DHIS2 (%s), so its %d changes are not sent: an approver must unapprove it in DHIS2 first; the mediator never pushes over approved data",
			ou, period, states[ou], held[ou])})
	}
	return send2, del2
}
