package app

import (
	"errors"
	"fmt"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
)

// BuildArgs are the arguments of a build as a user typed them.
type BuildArgs struct {
	DataSet       string
	Period        string // YYYYMM
	OrgUnit       string
	Children      bool
	HumanReadable bool
}

// Request checks the arguments of a build and turns them into a request.
// Its errors name the flag that is wrong.
func (a BuildArgs) Request() (export.Request, error) {
	if a.DataSet == "" {
		return export.Request{}, errors.New("--data-set is required")
	}
	if a.Period == "" {
		return export.Request{}, errors.New("--period is required (YYYYMM, e.g. 202406)")
	}
	m, err := aggregate.ParseMonth(a.Period)
	if err != nil {
		return export.Request{}, fmt.Errorf("--period: %w", err)
	}
	if a.Children && a.OrgUnit == "" {
		return export.Request{}, errors.New("--children needs --org-unit")
	}
	return export.Request{DataSet: a.DataSet, Period: m, OrgUnit: a.OrgUnit, Children: a.Children, HumanReadable: a.HumanReadable}, nil
}

// IsInputError reports whether err was caused by the request itself (an
// unknown data set, an org unit nobody maps) rather than by an upstream.
func IsInputError(err error) bool { return export.IsInputError(err) }

// Status words of an export report, re-exported for main.
const (
	StatusSuccessful = export.StatusSuccessful
)

// ExportRequest makes an export request of a build request; force pushes
// past the readiness gate.
func ExportRequest(req export.Request, dryRun, force bool) export.ExportRequest {
	return export.ExportRequest{Request: req, DryRun: dryRun, Force: force}
}

// NotReady returns the export held back by the readiness gate that err is,
// or nil.
func NotReady(err error) *export.NotReadyError {
	var nr *export.NotReadyError
	if errors.As(err, &nr) {
		return nr
	}
	return nil
}

// Report is the export report, re-exported for main's dry-run table.
type Report = export.Report

// Request and Service are the export service's, re-exported for main.
type (
	Request = export.Request
	Service = export.Service
)
