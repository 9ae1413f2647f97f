package validate_test

import (
	"fmt"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

func Example() {
	md := validate.Metadata{
		DataSet: validate.DataSet{ID: "dsCHW000001", Name: "CHW monthly", PeriodType: "Monthly"},
		DataElements: map[string]validate.DataElement{
			"deANC000001": {ID: "deANC000001", Name: "ANC visits", ValueType: "INTEGER_ZERO_OR_POSITIVE"},
		},
		OrgUnits:                   map[string]bool{"ouHC0000001": true},
		DefaultCategoryOptionCombo: "HllvX50cXC0",
	}
	values := []validate.Value{
		{DataElement: "deANC000001", Period: "202405", OrgUnit: "ouHC0000001", Value: "12"},
		{DataElement: "deANC000001", Period: "202405", OrgUnit: "ouHC0000002", Value: "3"},
		{DataElement: "deANC000001", Period: "202404", OrgUnit: "ouHC0000001", Value: "-3"},
		{DataElement: "deANC000001", Period: "202406", OrgUnit: "ouHC0000001", Value: "5"},
	}
	now := time.Date(2024, 6, 15, 10, 0, 0, 0, time.UTC)

	valid, problems := validate.Check(md, values, now)
	fmt.Println("valid:", len(valid))
	for _, p := range problems {
		fmt.Printf("%s: %s\n", p.Code, p.Message)
	}
	// Output:
	// valid: 1
	// org_unit_not_assigned: org unit ouHC0000002 is not assigned to data set "CHW monthly" (dsCHW000001), so its value "3" of data element "ANC visits" (deANC000001) cannot be pushed
	// value_sign: value "-3" of data element "ANC visits" (deANC000001) at org unit ouHC0000001 is negative, but the data element only takes zero or positive whole numbers
	// period_future: period 202406 is not open yet: data set "CHW monthly" (dsCHW000001) takes data up to 202405 (open future periods: 0)
}

func ExampleParsePeriod() {
	for _, s := range []string{"2024-02", "202413", "2024W05"} {
		p, err := validate.ParsePeriod(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %s %s to %s\n", p.ISO, p.Type, p.Start.Format(time.DateOnly), p.End.Format(time.DateOnly))
	}
	// Output:
	// 202402: Monthly 2024-02-01 to 2024-02-29
	// period "202413" is not valid: there is no month 13 (months run from 01 to 12)
	// period "2024W05" is not valid: it is a Weekly period, and the mediator only builds monthly values (such as 202401)
}
