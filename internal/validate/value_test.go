package validate

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckValue(t *testing.T) {
	const (
		ok       = ""
		missing  = CodeValueMissing
		nan      = CodeValueNotNumeric
		mismatch = CodeValueTypeMismatch
		rng      = CodeValueOutOfRange
		sign     = CodeValueSign
		long     = CodeValueTooLong
	)
	tests := []struct {
		typ, value, code string
		reason           string // substring of ValueError.Reason, when code != ok
	}{
		// NUMBER: ^(-?0|-?[1-9]\d*)(\.\d+)?$, shorter than 250.
		{"NUMBER", "0", ok, ""},
		{"NUMBER", "-0", ok, ""},
		{"NUMBER", "12", ok, ""},
		{"NUMBER", "12.5", ok, ""},
		{"NUMBER", "-3.25", ok, ""},
		{"NUMBER", "0.5", ok, ""},
		{"NUMBER", "-0.001", ok, ""},
		{"NUMBER", "2147483648", ok, ""},
		{"NUMBER", strings.Repeat("9", 249), ok, ""},
		{"NUMBER", strings.Repeat("9", 250), rng, "DHIS2 takes numbers shorter than 250"},
		{"NUMBER", "1." + strings.Repeat("5", 248), rng, "has 250 characters"},
		{"NUMBER", "", missing, "is empty"},
		{"NUMBER", "  \t", missing, "is empty"},
		{"NUMBER", "01", nan, "has a leading zero"},
		{"NUMBER", "-01", nan, "has a leading zero"},
		{"NUMBER", "00.5", nan, "has a leading zero"},
		{"NUMBER", "1.", nan, "ends with a decimal point"},
		{"NUMBER", "+1", nan, "has a plus sign"},
		{"NUMBER", "1e3", nan, "uses exponent notation"},
		{"NUMBER", "1E-3", nan, "uses exponent notation"},
		{"NUMBER", "١٢", nan, "uses digits other than 0-9"},
		{"NUMBER", "１２", nan, "uses digits other than 0-9"},
		{"NUMBER", "1,000", nan, "has a separator"},
		{"NUMBER", "1 000", nan, "has a separator"},
		{"NUMBER", "1234,5", nan, "has a separator"},
		{"NUMBER", ".5", nan, "has no digit before the decimal point"},
		{"NUMBER", "-.5", nan, "has no digit before the decimal point"},
		{"NUMBER", " 5", nan, "has spaces around it"},
		{"NUMBER", "5\n", nan, "has spaces around it"},
		{"NUMBER", "abc", nan, "is not a number"},
		{"NUMBER", "NaN", nan, "is not a number"},
		{"NUMBER", "Infinity", nan, "is not a number"},
		{"NUMBER", "0x1F", nan, "is not a number"},
		{"NUMBER", "--1", nan, "is not a number"},
		{"NUMBER", "-", nan, "is not a number"},
		{"NUMBER", "1.2.3", nan, "is not a number"},
		{"NUMBER", "1.-2", nan, "is not a number"},
		// INTEGER: ^(0|-?[1-9]\d*)$ within 32 bits.
		{"INTEGER", "0", ok, ""},
		{"INTEGER", "-5", ok, ""},
		{"INTEGER", "2147483647", ok, ""},
		{"INTEGER", "-2147483648", ok, ""},
		{"INTEGER", "2147483648", rng, "-2147483648 to 2147483647"},
		{"INTEGER", "-2147483649", rng, "outside"},
		{"INTEGER", "99999999999999999999999", rng, "outside"},
		{"INTEGER", "1.0", mismatch, "is written with a decimal point"},
		{"INTEGER", "1.5", mismatch, "is written with a decimal point"},
		{"INTEGER", "-0", mismatch, "is written -0"},
		{"INTEGER", "01", nan, "has a leading zero"},
		{"INTEGER", "+1", nan, "has a plus sign"},
		{"INTEGER", "1e3", nan, "exponent"},
		{"INTEGER", "١٢", nan, "digits other than 0-9"},
		{"INTEGER", "1.", nan, "ends with a decimal point"},
		// INTEGER_POSITIVE: ^[1-9]\d*$, no zero.
		{"INTEGER_POSITIVE", "1", ok, ""},
		{"INTEGER_POSITIVE", "2147483647", ok, ""},
		{"INTEGER_POSITIVE", "0", sign, "is zero"},
		{"INTEGER_POSITIVE", "-1", sign, "is negative"},
		{"INTEGER_POSITIVE", "-99999999999", sign, "is negative"},
		{"INTEGER_POSITIVE", "2147483648", rng, "outside"},
		{"INTEGER_POSITIVE", "-0", mismatch, "is written -0"},
		{"INTEGER_POSITIVE", "+1", nan, "has a plus sign"},
		{"INTEGER_POSITIVE", "01", nan, "has a leading zero"},
		// INTEGER_NEGATIVE: ^-[1-9]\d*$.
		{"INTEGER_NEGATIVE", "-1", ok, ""},
		{"INTEGER_NEGATIVE", "-2147483648", ok, ""},
		{"INTEGER_NEGATIVE", "0", sign, "is zero"},
		{"INTEGER_NEGATIVE", "5", sign, "is positive"},
		{"INTEGER_NEGATIVE", "-2147483649", rng, "outside"},
		{"INTEGER_NEGATIVE", "-1.5", mismatch, "decimal point"},
		// INTEGER_ZERO_OR_POSITIVE: ^0$ or ^[1-9]\d*$.
		{"INTEGER_ZERO_OR_POSITIVE", "0", ok, ""},
		{"INTEGER_ZERO_OR_POSITIVE", "7", ok, ""},
		{"INTEGER_ZERO_OR_POSITIVE", "2147483647", ok, ""},
		{"INTEGER_ZERO_OR_POSITIVE", "-3", sign, "is negative"},
		{"INTEGER_ZERO_OR_POSITIVE", "2147483648", rng, "outside"},
		{"INTEGER_ZERO_OR_POSITIVE", "0.0", mismatch, "decimal point"},
		{"INTEGER_ZERO_OR_POSITIVE", "-0", mismatch, "-0"},
		{"INTEGER_ZERO_OR_POSITIVE", "", missing, "is empty"},
		// PERCENTAGE: a NUMBER from 0 to 100, decimals allowed.
		{"PERCENTAGE", "0", ok, ""},
		{"PERCENTAGE", "100", ok, ""},
		{"PERCENTAGE", "55.5", ok, ""},
		{"PERCENTAGE", "-0", ok, ""},
		{"PERCENTAGE", "100.0", ok, ""},
		{"PERCENTAGE", "100.01", rng, "is above 100"},
		{"PERCENTAGE", "101", rng, "is above 100"},
		{"PERCENTAGE", "-1", rng, "is below 0"},
		{"PERCENTAGE", "1e2", nan, "exponent"},
		{"PERCENTAGE", "50%", nan, "is not a number"},
		// UNIT_INTERVAL: a NUMBER from 0 to 1.
		{"UNIT_INTERVAL", "0", ok, ""},
		{"UNIT_INTERVAL", "1", ok, ""},
		{"UNIT_INTERVAL", "0.25", ok, ""},
		{"UNIT_INTERVAL", "1.5", rng, "is above 1"},
		{"UNIT_INTERVAL", "-0.1", rng, "is below 0"},
		{"UNIT_INTERVAL", ".5", nan, "no digit before"},
		// BOOLEAN and TRUE_ONLY, after DHIS2's normalisation.
		{"BOOLEAN", "true", ok, ""},
		{"BOOLEAN", "True", ok, ""},
		{"BOOLEAN", "TRUE", ok, ""},
		{"BOOLEAN", "tRuE", ok, ""},
		{"BOOLEAN", "t", ok, ""},
		{"BOOLEAN", "T", ok, ""},
		{"BOOLEAN", "1", ok, ""},
		{"BOOLEAN", "false", ok, ""},
		{"BOOLEAN", "False", ok, ""},
		{"BOOLEAN", "FALSE", ok, ""},
		{"BOOLEAN", "f", ok, ""},
		{"BOOLEAN", "F", ok, ""},
		{"BOOLEAN", "0", ok, ""},
		{"BOOLEAN", "yes", mismatch, "is not a yes/no value"},
		{"BOOLEAN", "2", mismatch, "yes/no"},
		{"BOOLEAN", "ｔrue", mismatch, "yes/no"},
		{"TRUE_ONLY", "true", ok, ""},
		{"TRUE_ONLY", "TRUE", ok, ""},
		{"TRUE_ONLY", "tRUE", ok, ""},
		{"TRUE_ONLY", "t", ok, ""},
		{"TRUE_ONLY", "T", ok, ""},
		{"TRUE_ONLY", "1", ok, ""},
		{"TRUE_ONLY", "false", mismatch, "is not true"},
		{"TRUE_ONLY", "0", mismatch, "is not true"},
		{"TRUE_ONLY", "f", mismatch, "is not true"},
		// DATE: yyyy-MM-dd and a real day.
		{"DATE", "2024-02-29", ok, ""},
		{"DATE", "2023-12-31", ok, ""},
		{"DATE", "2023-02-29", mismatch, "calendar date"},
		{"DATE", "2024-13-01", mismatch, "calendar date"},
		{"DATE", "2024-04-31", mismatch, "calendar date"},
		{"DATE", "2024-00-10", mismatch, "calendar date"},
		{"DATE", "2024-1-5", mismatch, "calendar date"},
		{"DATE", "20240105", mismatch, "calendar date"},
		{"DATE", "2024-01-05T00:00", mismatch, "calendar date"},
		{"DATE", "2024/01/05", mismatch, "calendar date"},
		// DATETIME
		{"DATETIME", "2024-03-15T10:30:00", ok, ""},
		{"DATETIME", "2024-03-15T10:30", ok, ""},
		{"DATETIME", "2024-03-15T10", ok, ""},
		{"DATETIME", "2024-03-15T10Z", ok, ""},
		{"DATETIME", "2024-03-15T10:30:00.123", ok, ""},
		{"DATETIME", "2024-03-15T10:30:00.1234", ok, ""},
		{"DATETIME", "2024-03-15T10:30:00.123456Z", ok, ""},
		{"DATETIME", "2024-03-15T10:30:00.123456789+02:00", ok, ""},
		{"DATETIME", "2024-03-15T10:30:00+01:00", ok, ""},
		{"DATETIME", "2024-03-15T10:30:00-0530", ok, ""},
		{"DATETIME", "2024-03-15 10:30:00Z", ok, ""},
		{"DATETIME", "2024-03-15 10:30:00+03:00", ok, ""},
		{"DATETIME", "2024-03-15", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T25:00", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:61", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30:60", mismatch, "date and time"},
		{"DATETIME", "2024-03-15 10:30:00", mismatch, "date and time"},
		{"DATETIME", "2024-03-15 10:30Z", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30:00.12", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30.123", mismatch, "date and time"},
		{"DATETIME", "2024-02-30T10:00", mismatch, "date and time"},
		{"DATETIME", "2024-03-15X10:00", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30:00+1", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30:00+01:60", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30:00+0100x", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:3", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30:00*01:00", mismatch, "date and time"},
		{"DATETIME", "2024-03-15T10:30:00+ab:00", mismatch, "date and time"},
		// LETTER: one letter (one UTF-16 unit, as Java counts).
		{"LETTER", "a", ok, ""},
		{"LETTER", "Z", ok, ""},
		{"LETTER", "é", ok, ""},
		{"LETTER", "ж", ok, ""},
		{"LETTER", "ab", mismatch, "single letter"},
		{"LETTER", "1", mismatch, "single letter"},
		{"LETTER", "😀", mismatch, "single letter"},
		{"LETTER", "𝐀", mismatch, "single letter"},
		{"LETTER", "\xff", mismatch, "single letter"},
		// COORDINATE: [longitude,latitude].
		{"COORDINATE", "[10.5,-3.2]", ok, ""},
		{"COORDINATE", "[-180,90]", ok, ""},
		{"COORDINATE", "[1, 2]", ok, ""},
		{"COORDINATE", "10,20", mismatch, "coordinate"},
		{"COORDINATE", "[181,0]", mismatch, "coordinate"},
		{"COORDINATE", "[0,-91]", mismatch, "coordinate"},
		{"COORDINATE", "[a,b]", mismatch, "coordinate"},
		{"COORDINATE", "[1,2,3]", mismatch, "coordinate"},
		{"COORDINATE", "[12]", mismatch, "coordinate"},
		{"COORDINATE", "[NaN,0]", mismatch, "coordinate"},
		// URL
		{"URL", "https://dhis2.org/path?q=1", ok, ""},
		{"URL", "http://localhost:8080", ok, ""},
		{"URL", "HTTP://EXAMPLE.ORG", ok, ""},
		{"URL", "ftp://files.example.org/a", ok, ""},
		{"URL", "http://10.0.0.1/x", ok, ""},
		{"URL", "dhis2.org", mismatch, "web address"},
		{"URL", "mailto:a@b.org", mismatch, "web address"},
		{"URL", "https://", mismatch, "web address"},
		{"URL", "http://exa mple.org", mismatch, "web address"},
		{"URL", "https://host.org:99999", mismatch, "web address"},
		{"URL", "https://host.org:99a", mismatch, "web address"},
		{"URL", "https://bad_host.org", mismatch, "web address"},
		{"URL", "javascript:alert(1)", mismatch, "web address"},
		{"URL", "gopher://host.org", mismatch, "web address"},
		{"URL", "http://[::1", mismatch, "web address"},
		{"URL", "http://:80", mismatch, "web address"},
		// FILE_RESOURCE, IMAGE: a uid.
		{"FILE_RESOURCE", "abcdefghijk", ok, ""},
		{"IMAGE", "Abcdefghij1", ok, ""},
		{"FILE_RESOURCE", "1bcdefghijk", mismatch, "file resource uid"},
		{"IMAGE", "short", mismatch, "file resource uid"},
		// Text types: any text up to 50,000 UTF-16 units.
		{"TEXT", "anything at all", ok, ""},
		{"TEXT", strings.Repeat("a", 50_000), ok, ""},
		{"TEXT", strings.Repeat("a", 50_001), long, "is 50001 characters long"},
		{"LONG_TEXT", strings.Repeat("😀", 25_000), ok, ""},
		{"LONG_TEXT", strings.Repeat("😀", 25_001), long, "is 50002 characters long"},
		{"NUMBER", strings.Repeat("1", 50_001), long, "more than the 50000"},
		{"EMAIL", "not-an-email", ok, ""},
		{"PHONE_NUMBER", "call me", ok, ""},
		{"TIME", "noon", ok, ""},
		{"MULTI_TEXT", "A,B", ok, ""},
		{"TEXT", " ", missing, "is empty"},
		// Unknown value types are refused.
		{"FOO", "1", mismatch, `has value type "FOO"`},
		{"", "1", mismatch, `has value type ""`},
	}
	for _, tc := range tests {
		name := tc.typ + "/" + tc.value
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			err := CheckValue(tc.typ, tc.value)
			if tc.code == ok {
				if err != nil {
					t.Fatalf("CheckValue(%q, %q) = %v; want nil", tc.typ, tc.value, err)
				}
				return
			}
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("CheckValue(%q, %q) = %v; want a *ValueError with code %s", tc.typ, tc.value, err, tc.code)
			}
			if ve.Code != tc.code || !strings.Contains(ve.Reason, tc.reason) {
				t.Errorf("CheckValue(%q, %q) = {Code: %s, Reason: %q}; want {Code: %s, Reason containing %q}", tc.typ, tc.value, ve.Code, ve.Reason, tc.code, tc.reason)
			}
			if ve.Value != tc.value || ve.ValueType != tc.typ || ve.Accepts == "" {
				t.Errorf("ValueError fields = %+v", ve)
			}
		})
	}
}

func TestValueError_Error(t *testing.T) {
	tests := []struct{ typ, value, want string }{
		{"INTEGER_ZERO_OR_POSITIVE", "-3", `value "-3" is negative, but INTEGER_ZERO_OR_POSITIVE only takes zero or positive whole numbers`},
		{"INTEGER_POSITIVE", "0", `value "0" is zero, but INTEGER_POSITIVE only takes positive whole numbers (1 or more)`},
		{"NUMBER", "+1", `value "+1" has a plus sign, but NUMBER only takes plain numbers such as 12, 0 or -3.5`},
		{"PERCENTAGE", "101", `value "101" is above 100, but PERCENTAGE only takes numbers from 0 to 100`},
		{"TEXT", "", `value "" is empty, but TEXT only takes text of at most 50000 characters`},
	}
	for _, tc := range tests {
		if err := CheckValue(tc.typ, tc.value); err == nil || err.Error() != tc.want {
			t.Errorf("CheckValue(%q, %q) = %v; want %q", tc.typ, tc.value, err, tc.want)
		}
	}
}

func TestIsNumeric(t *testing.T) {
	for _, typ := range []string{"NUMBER", "UNIT_INTERVAL", "PERCENTAGE", "INTEGER", "INTEGER_POSITIVE", "INTEGER_NEGATIVE", "INTEGER_ZERO_OR_POSITIVE"} {
		if !IsNumeric(typ) {
			t.Errorf("IsNumeric(%q) = false", typ)
		}
	}
	for _, typ := range []string{"TEXT", "LONG_TEXT", "BOOLEAN", "TRUE_ONLY", "DATE", "AGE", "number", ""} {
		if IsNumeric(typ) {
			t.Errorf("IsNumeric(%q) = true", typ)
		}
	}
}

func TestValidUID(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"HllvX50cXC0", true},
		{"bjDvmb4bfuf", true},
		{"a0000000000", true},
		{"Z9999999999", true},
		{"", false},
		{"abc", false},
		{"HllvX50cXC", false},
		{"HllvX50cXC01", false},
		{"1llvX50cXC0", false},
		{"HllvX50cXC-", false},
		{"Hllv X50cXC", false},
		{"ÀllvX50cXC0", false},
		{"Hllvé0cXC0", false},
	}
	for _, tc := range tests {
		if got := ValidUID(tc.s); got != tc.want {
			t.Errorf("ValidUID(%q) = %v; want %v", tc.s, got, tc.want)
		}
	}
}

func TestNormalizeBoolean(t *testing.T) {
	tests := []struct{ typ, in, want string }{
		{"BOOLEAN", "1", "true"},
		{"BOOLEAN", "T", "true"},
		{"BOOLEAN", "TRUE", "true"},
		{"BOOLEAN", "0", "false"},
		{"BOOLEAN", "f", "false"},
		{"BOOLEAN", "False", "false"},
		{"BOOLEAN", "tRuE", "tRuE"},
		{"TRUE_ONLY", "1", "true"},
		{"TRUE_ONLY", "0", "0"},
		{"TRUE_ONLY", "false", "false"},
		{"NUMBER", "1", "1"},
		{"TEXT", "T", "T"},
	}
	for _, tc := range tests {
		if got := NormalizeBoolean(tc.typ, tc.in); got != tc.want {
			t.Errorf("NormalizeBoolean(%q, %q) = %q; want %q", tc.typ, tc.in, got, tc.want)
		}
	}
}
