package dhis2

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// readBatch is how many org units one GET names: the URL stays well under
// the 8 KB a reverse proxy typically allows (20 characters per orgUnit=).
const readBatch = 100

// User is DHIS2's current user (GET /api/me): the owner of a personal
// access token, or the basic-auth user.
type User struct {
	ID          string
	Username    string
	Authorities []string
	// OrgUnits are the user's data capture org units, the roots of what it
	// may read and write.
	OrgUnits []string
}

type wireMe struct {
	ID          string   `json:"id"`
	Username    string   `json:"username"`
	Authorities []string `json:"authorities"`
	OrgUnits    []struct {
		ID string `json:"id"`
	} `json:"organisationUnits"`
	UserCredentials *struct {
		Username string `json:"username"`
	} `json:"userCredentials"`
}

// Me returns the user DHIS2 sees behind the client's credentials, asked
// once for the client's life (a failed call is asked again next time).
// Older servers carry the username only in userCredentials.
func (c *Client) Me(ctx context.Context) (User, error) {
	c.meMu.Lock()
	defer c.meMu.Unlock()
	if c.me != nil {
		return *c.me, nil
	}
	const op = "current user"
	var w wireMe
	q := url.Values{"fields": {"id,username,userCredentials[username],authorities,organisationUnits[id]"}}
	if _, err := c.getJSON(ctx, op, c.endpoint(q, "me"), &w); err != nil {
		return User{}, err
	}
	u := User{ID: w.ID, Username: w.Username, Authorities: w.Authorities}
	for _, ou := range w.OrgUnits {
		if ou.ID != "" {
			u.OrgUnits = append(u.OrgUnits, ou.ID)
		}
	}
	if u.Username == "" && w.UserCredentials != nil {
		u.Username = w.UserCredentials.Username
	}
	if u.Username == "" {
		return User{}, fmt.Errorf("dhis2: %s: DHIS2 answered without a username", op)
	}
	c.me = &u
	return u, nil
}

// ServerNow is DHIS2's clock now: the serverDate of /api/system/info
// (read once) moved on by the time passed since. The second result is false
// when DHIS2 gave no usable serverDate.
func (c *Client) ServerNow(ctx context.Context) (time.Time, bool, error) {
	info, err := c.SystemInfo(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	if info.ServerDate.IsZero() {
		return time.Time{}, false, nil
	}
	c.infoMu.Lock()
	at := c.infoAt
	c.infoMu.Unlock()
	return info.ServerDate.Add(time.Since(at)), true, nil
}

// DataScope names the org units a read covers: the listed ones, or with
// Children the listed ones and every org unit below them.
type DataScope struct {
	OrgUnits []string
	Children bool
}

type wireStoredSet struct {
	DataValues []struct {
		DataElement          string `json:"dataElement"`
		Period               string `json:"period"`
		OrgUnit              string `json:"orgUnit"`
		CategoryOptionCombo  string `json:"categoryOptionCombo"`
		AttributeOptionCombo string `json:"attributeOptionCombo"`
		Value                string `json:"value"`
		StoredBy             string `json:"storedBy"`
		Deleted              bool   `json:"deleted"`
	} `json:"dataValues"`
}

// DataValues reads what DHIS2 holds for the data set and period over the
// scope's org units: GET /api/dataValueSets?dataSet=&period=&orgUnit=…
// [&children=true], the org units in batches of readBatch. Each value
// carries DHIS2's storedBy. Soft-deleted values are not asked for.
func (c *Client) DataValues(ctx context.Context, dataSet, period string, scope DataScope) ([]validate.Stored, error) {
	const op = "read data values"
	if !IsUID(dataSet) {
		return nil, fmt.Errorf("dhis2: %s: data set id %q is not a DHIS2 uid", op, excerpt([]byte(dataSet), 40))
	}
	var out []validate.Stored
	for first := 0; first < len(scope.OrgUnits); first += readBatch {
		batch := scope.OrgUnits[first:min(first+readBatch, len(scope.OrgUnits))]
		q := url.Values{"dataSet": {dataSet}, "period": {period}, "orgUnit": batch}
		if scope.Children {
			q.Set("children", "true")
		}
		var w wireStoredSet
		if _, err := c.getJSON(ctx, op, c.endpoint(q, "dataValueSets"), &w); err != nil {
			return nil, err
		}
		for _, v := range w.DataValues {
			if v.Deleted {
				continue
			}
			out = append(out, validate.Stored{DataElement: v.DataElement, Period: v.Period, OrgUnit: v.OrgUnit,
				CategoryOptionCombo: v.CategoryOptionCombo, AttributeOptionCombo: v.AttributeOptionCombo,
				Value: v.Value, StoredBy: v.StoredBy})
		}
	}
	return out, nil
}

// Registration is a data set registered as complete for a period, org unit
// and attribute option combo (CompleteDataSetRegistration).
type Registration struct {
	DataSet              string `json:"dataSet"`
	Period               string `json:"period"`
	OrgUnit              string `json:"organisationUnit"`
	AttributeOptionCombo string `json:"attributeOptionCombo,omitempty"`
	StoredBy             string `json:"storedBy,omitempty"`
	Completed            bool   `json:"completed"`
}

type wireRegistrations struct {
	Registrations []struct {
		DataSet              string `json:"dataSet"`
		Period               string `json:"period"`
		OrgUnit              string `json:"organisationUnit"`
		AttributeOptionCombo string `json:"attributeOptionCombo"`
		StoredBy             string `json:"storedBy"`
		Completed            *bool  `json:"completed"`
	} `json:"completeDataSetRegistrations"`
}

// Registrations reads the completeness registrations of the data set and
// period for the org units (GET /api/completeDataSetRegistrations, in
// batches of readBatch). A registration without "completed" (servers
// before the flag existed) counts as completed.
func (c *Client) Registrations(ctx context.Context, dataSet, period string, orgUnits []string) ([]Registration, error) {
	const op = "read complete registrations"
	var out []Registration
	for first := 0; first < len(orgUnits); first += readBatch {
		batch := orgUnits[first:min(first+readBatch, len(orgUnits))]
		q := url.Values{"dataSet": {dataSet}, "period": {period}, "orgUnit": batch}
		var w wireRegistrations
		if _, err := c.getJSON(ctx, op, c.endpoint(q, "completeDataSetRegistrations"), &w); err != nil {
			return nil, err
		}
		for _, r := range w.Registrations {
			out = append(out, Registration{DataSet: r.DataSet, Period: r.Period, OrgUnit: r.OrgUnit,
				AttributeOptionCombo: r.AttributeOptionCombo, StoredBy: r.StoredBy, Completed: r.Completed == nil || *r.Completed})
		}
	}
	return out, nil
}

// RegisterComplete registers the data set complete for each registration
// with POST /api/completeDataSetRegistrations and the JSON body
// {"completeDataSetRegistrations": [{dataSet, period, organisationUnit,
// attributeOptionCombo, completed: true}]} (dhis2-core
// CompleteDataSetRegistrationController, every version from 2.36 to 2.43).
//
// The answer is an ImportSummary, bare up to 2.37 and wrapped in a
// WebMessage from 2.38, like the data value import; its status is SUCCESS
// unless every registration was ignored (ERROR, HTTP 409 from 2.38), and its
// conflicts are plain {object, value} without codes or indexes in every
// version (DefaultCompleteDataSetRegistrationExchangeService).
func (c *Client) RegisterComplete(ctx context.Context, regs []Registration, dryRun bool) (ImportResult, error) {
	const op = "register complete"
	if len(regs) == 0 {
		return ImportResult{Status: ImportSuccess}, nil
	}
	for i := range regs {
		regs[i].Completed = true
		regs[i].StoredBy = ""
	}
	body, err := json.Marshal(map[string][]Registration{"completeDataSetRegistrations": regs})
	if err != nil {
		return ImportResult{}, fmt.Errorf("dhis2: %s: encode: %w", op, err)
	}
	var q url.Values
	if dryRun {
		q = url.Values{"dryRun": {"true"}}
	}
	r, err := c.do(ctx, op, http.MethodPost, c.endpoint(q, "completeDataSetRegistrations"), body)
	if err != nil {
		return ImportResult{}, err
	}
	return c.importResult(op, r)
}

// Approval is the approval state of a workflow's data for one period, org
// unit and attribute option combo (GET /api/dataApprovals/approvals).
type Approval struct {
	OrgUnit              string
	AttributeOptionCombo string
	State                string
}

// Approved reports whether the state locks the data for entry: approved or
// accepted, here or elsewhere (DataApprovalState).
func (a Approval) Approved() bool {
	return strings.HasPrefix(a.State, "APPROVED_") || strings.HasPrefix(a.State, "ACCEPTED_")
}

type wireApproval struct {
	OU    string `json:"ou"`
	AOC   string `json:"aoc"`
	State string `json:"state"`
}

// Approvals reads the approval states of the workflow's data for the period
// and org units: GET /api/dataApprovals/approvals?wf=&pe=&ou=a,b,… (the
// bulk status of dhis2-docs "Data approval"), in batches of readBatch.
func (c *Client) Approvals(ctx context.Context, workflow, period string, orgUnits []string) ([]Approval, error) {
	const op = "read approvals"
	var out []Approval
	for first := 0; first < len(orgUnits); first += readBatch {
		batch := orgUnits[first:min(first+readBatch, len(orgUnits))]
		q := url.Values{"wf": {workflow}, "pe": {period}, "ou": {strings.Join(batch, ",")}}
		var w []wireApproval
		if _, err := c.getJSON(ctx, op, c.endpoint(q, "dataApprovals", "approvals"), &w); err != nil {
			return nil, err
		}
		for _, a := range w {
			out = append(out, Approval{OrgUnit: a.OU, AttributeOptionCombo: a.AOC, State: a.State})
		}
	}
	return out, nil
}
