package httpapi

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// exportParams are the query parameters of /export, all optional.
type exportParams struct {
	DataSet  string `query:"dataSet" validate:"omitempty,dhis2uid"`
	Period   string `query:"period" validate:"omitempty,yyyymm"`
	OrgUnit  string `query:"orgUnit" validate:"required_if=Children true,omitempty,dhis2uid"`
	Children string `query:"children" validate:"omitempty,oneof=true false"`
	DryRun   string `query:"dryRun" validate:"omitempty,oneof=true false"`
	// Force pushes a month the readiness gate would hold back.
	Force string `query:"force" validate:"omitempty,oneof=true false"`
}

// pullParams are the query parameters of /dataValueSets.
type pullParams struct {
	DataSet  string `query:"dataSet" validate:"required,dhis2uid"`
	Period   string `query:"period" validate:"required,yyyymm"`
	OrgUnit  string `query:"orgUnit" validate:"required_if=Children true,omitempty,dhis2uid"`
	Children string `query:"children" validate:"omitempty,oneof=true false"`
}

// paramError is a bad request: its message names the parameter and what is
// wrong; ErrorCode is DHIS2's code for the same mistake, when it has one.
type paramError struct {
	Message   string
	ErrorCode string
}

func (e *paramError) Error() string { return e.Message }

// newValidator returns the request validator: go-playground/validator with
// the DHIS2 checks as tags, reporting fields by their query parameter name.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return f.Tag.Get("query") })
	must := func(err error) {
		if err != nil {
			panic(err) // a programming error in a tag name, caught by every test
		}
	}
	must(v.RegisterValidation("dhis2uid", func(fl validator.FieldLevel) bool {
		return validate.ValidUID(fl.Field().String())
	}))
	must(v.RegisterValidation("yyyymm", func(fl validator.FieldLevel) bool {
		_, err := aggregate.ParseMonth(fl.Field().String())
		return err == nil
	}))
	return v
}

// bindQuery parses raw into dst, a pointer to a struct of string fields
// tagged query:"name", then validates it. Parameters are strict: an unknown
// or repeated parameter is an error. An empty value counts as absent.
func (s *server) bindQuery(path, raw string, dst any) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return &paramError{Message: fmt.Sprintf("query string: %v", err)}
	}
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	fields := map[string]reflect.Value{}
	var names []string
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("query")
		fields[name] = v.Field(i)
		names = append(names, name)
	}
	var unknown []string
	for k := range q {
		if _, ok := fields[k]; !ok {
			unknown = append(unknown, strconv.Quote(capped(k, maxQuoted)))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		noun := "parameter"
		if len(unknown) > 1 {
			noun = "parameters"
		}
		return &paramError{Message: fmt.Sprintf("unknown %s %s: %s takes %s", noun, strings.Join(unknown, ", "), path, strings.Join(names, ", "))}
	}
	for _, name := range names {
		vals := q[name]
		if len(vals) > 1 {
			return &paramError{Message: fmt.Sprintf("%s is given %d times: give it once", name, len(vals))}
		}
		if len(vals) == 1 {
			fields[name].SetString(vals[0])
		}
	}
	if err := s.validate.Struct(dst); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return err
		}
		msgs := make([]string, 0, len(verrs))
		code := ""
		for _, fe := range verrs {
			msg, c := paramMessage(fe)
			msgs = append(msgs, msg)
			if code == "" {
				code = c
			}
		}
		return &paramError{Message: strings.Join(msgs, "; "), ErrorCode: code}
	}
	return nil
}

// maxQuoted bounds how much of a parameter an error message quotes.
const maxQuoted = 64

// paramMessage says what is wrong with one parameter, naming it, and gives
// DHIS2's error code for a missing required parameter of the pull.
func paramMessage(fe validator.FieldError) (msg, errorCode string) {
	name, value := fe.Field(), capped(fmt.Sprint(fe.Value()), maxQuoted)
	switch fe.Tag() {
	case "required":
		switch name {
		case "dataSet":
			return "dataSet is required: at least one valid data set must be specified", "E2001"
		case "period":
			return "period is required: at least one valid period must be specified (YYYYMM, e.g. 202406)", "E2002"
		}
		return name + " is required", ""
	case "required_if":
		return name + " is required with children=true: give the org unit whose children to include", ""
	case "dhis2uid":
		return fmt.Sprintf("%s %q: not a DHIS2 uid (11 letters and digits, starting with a letter)", name, value), ""
	case "yyyymm":
		if _, err := aggregate.ParseMonth(value); err != nil {
			return err.Error(), "" // `period "2024-13" is not a month: use YYYYMM, e.g. 202406`
		}
	case "oneof":
		return fmt.Sprintf("%s %q: use true or false", name, value), ""
	}
	return fmt.Sprintf("%s %q: invalid (%s)", name, value, fe.Tag()), ""
}
