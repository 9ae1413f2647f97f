package sandbox

import (
	"strings"
	"testing"
)

func TestValueError(t *testing.T) {
	tests := []struct {
		valueType string
		ok        []string
		bad       []string
		key       string
	}{
		{"NUMBER", []string{"0", "-0", "12", "-3.5", "0.25", "1.50"}, []string{"+1", "01", "1e3", "1,000", "1.", ".5", "abc", strings.Repeat("1", 250)}, "value_not_numeric"},
		{"INTEGER", []string{"0", "7", "-7", "2147483647"}, []string{"1.0", "-0", "2147483648", "07"}, "value_not_integer"},
		{"INTEGER_POSITIVE", []string{"1", "99"}, []string{"0", "-1", "1.5"}, "value_not_positive_integer"},
		{"INTEGER_NEGATIVE", []string{"-1"}, []string{"0", "1"}, "value_not_negative_integer"},
		{"INTEGER_ZERO_OR_POSITIVE", []string{"0", "42"}, []string{"-1", "0.0", "00"}, "value_not_zero_or_positive_integer"},
		{"PERCENTAGE", []string{"0", "100", "99.5"}, []string{"101", "-1"}, "value_not_percentage"},
		{"UNIT_INTERVAL", []string{"0", "1", "0.5"}, []string{"1.1", "-0.1"}, "value_not_unit_interval"},
		{"BOOLEAN", []string{"true", "false"}, []string{"yes", "True"}, "value_not_bool"},
		{"TRUE_ONLY", []string{"true"}, []string{"false"}, "value_not_true_only"},
		{"DATE", []string{"2024-02-29"}, []string{"2023-02-29", "2024/01/01", "20240101"}, "value_not_valid_date"},
		{"LETTER", []string{"a", "É"}, []string{"ab", "1"}, "value_not_valid_letter"},
		{"COORDINATE", []string{"[-11.4,8.1]"}, []string{"[200,1]", "11,8"}, "value_not_coordinate"},
		{"TEXT", []string{"anything", "0"}, []string{strings.Repeat("x", 50001)}, "value_length_greater_than_max_length"},
	}
	for _, tt := range tests {
		for _, v := range tt.ok {
			if got := valueError(v, tt.valueType); got != "" {
				t.Errorf("valueError(%q, %s) = %q; want valid", v, tt.valueType, got)
			}
		}
		for _, v := range tt.bad {
			if got := valueError(v, tt.valueType); got != tt.key {
				t.Errorf("valueError(%.20q, %s) = %q; want %q", v, tt.valueType, got, tt.key)
			}
		}
	}
	if got := valueError("  ", "NUMBER"); got != "" {
		t.Errorf("blank values are not type-checked; got %q", got)
	}
	for in, want := range map[string]string{"T": "true", "1": "true", "TRUE": "true", "f": "false", "0": "false", "yes": "yes"} {
		if got := normalizeBoolean(in, "BOOLEAN"); got != want {
			t.Errorf("normalizeBoolean(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestIsZeroAndInsignificant(t *testing.T) {
	num := &DataElement{ValueType: "NUMBER", AggregationType: "SUM"}
	for v, want := range map[string]bool{"0": true, "0.0": true, "0.": true, "00": false, "-0": false, "1": false, "": false} {
		if got := isZeroAndInsignificant(v, num); got != want {
			t.Errorf("isZeroAndInsignificant(%q) = %v; want %v", v, got, want)
		}
	}
	for _, de := range []*DataElement{
		{ValueType: "NUMBER", ZeroIsSignificant: true},
		{ValueType: "NUMBER", AggregationType: "AVERAGE"},
		{ValueType: "NUMBER", AggregationType: "AVERAGE_SUM_ORG_UNIT"},
		{ValueType: "TEXT"},
	} {
		if isZeroAndInsignificant("0", de) {
			t.Errorf("zero is significant for %+v", de)
		}
	}
}
