package aggregate

import (
	"math"
	"strconv"
	"testing"
)

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{12, "12"},
		{24, "24"},
		{-3, "-3"},
		{0.5, "0.5"},
		{2.75, "2.75"},
		{-1.25, "-1.25"},
		{math.Nextafter(0.3, 1), "0.30000000000000004"}, // 0.1+0.2 at run time
		{1e-7, "0.0000001"},
		{1e21, "1000000000000000000000"},
		{123456789012, "123456789012"},
		{1.0 / 3, "0.3333333333333333"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v); got != tt.want {
			t.Errorf("FormatValue(%v) = %q; want %q", tt.v, got, tt.want)
		}
	}
}

func TestDataSetLabel(t *testing.T) {
	translations := map[string]string{"dhis.ds.monthly": "Monthly report", "dhis.ds.blank": ""}
	tests := []struct {
		name         string
		ds           DataSet
		translations map[string]string
		want         string
	}{
		{"translated", DataSet{ID: "ds", TranslationKey: "dhis.ds.monthly"}, translations, "Monthly report"},
		{"untranslated key", DataSet{ID: "ds", TranslationKey: "dataset 1"}, translations, "dataset 1"},
		{"empty translation", DataSet{ID: "ds", TranslationKey: "dhis.ds.blank"}, translations, "dhis.ds.blank"},
		{"no key: translate(undefined)", DataSet{ID: "ds"}, translations, ""},
		{"nil translations", DataSet{ID: "ds", TranslationKey: "dhis.ds.monthly"}, nil, "dhis.ds.monthly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DataSetLabel(tt.ds, tt.translations); got != tt.want {
				t.Errorf("DataSetLabel(%+v) = %q; want %q", tt.ds, got, tt.want)
			}
		})
	}
}

// FormatValue's integer shortcut writes what strconv.FormatFloat writes.
func TestFormatValue_integers(t *testing.T) {
	for _, v := range []float64{1, -1, 99, 100, 123456, -987654321, 1e15 - 1, 1e15, -1e15, 1e16, 4503599627370497} {
		if got, want := FormatValue(v), strconv.FormatFloat(v, 'f', -1, 64); got != want {
			t.Errorf("FormatValue(%v) = %q; want %q", v, got, want)
		}
	}
}
