package dhis2

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestMarkIdempotent(t *testing.T) {
	tests := []struct {
		method, url string
		want        bool
	}{
		{"POST", "http://d/api/dataValueSets?importStrategy=CREATE_AND_UPDATE", true},
		{"POST", "http://d/dhis/api/40/dataValueSets.json?importStrategy=CREATE_AND_UPDATE&dryRun=true", true},
		{"POST", "http://d/api/dataValueSets?importStrategy=CREATE_AND_UPDATE&async=true", true},
		{"POST", "http://d/api/dataValueSets?importStrategy=DELETE", true},
		{"POST", "http://d/api/dataValueSets?importStrategy=CREATE", false},
		{"POST", "http://d/api/completeDataSetRegistrations", true},
		{"POST", "http://d/api/dataValueSets", false},
		{"POST", "http://d/api/metadata?importStrategy=CREATE_AND_UPDATE", false},
		{"PUT", "http://d/api/dataValueSets?importStrategy=CREATE_AND_UPDATE", false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, tt.url, nil)
		markIdempotent(req)
		v, got := req.Header["Idempotency-Key"]
		if got != tt.want || v != nil {
			t.Errorf("markIdempotent(%s %s) marked %t (%v); want %t, with no value", tt.method, tt.url, got, v, tt.want)
		}
	}
}

type refused struct{}

func (refused) Error() string { return "dhis2: circuit breaker open" }
func (refused) NotSent() bool { return true }

func TestNotSent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("connection reset"), false},
		{refused{}, true},
		{fmt.Errorf("dhis2: post data values: %w", &redactedError{msg: "x", err: refused{}}), true},
		{nil, false},
	}
	for _, tt := range tests {
		if got := notSent(tt.err); got != tt.want {
			t.Errorf("notSent(%v) = %t; want %t", tt.err, got, tt.want)
		}
	}
}
