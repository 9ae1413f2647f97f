package sandbox

import (
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// valueTypes are the DHIS2 value types (dhis2-core ValidationUtils.valueIsValid); the bool says whether
// the type is numeric.
var valueTypes = map[string]bool{
	"TEXT": false, "LONG_TEXT": false, "MULTI_TEXT": false, "LETTER": false, "PHONE_NUMBER": false,
	"EMAIL": false, "BOOLEAN": false, "TRUE_ONLY": false, "DATE": false, "DATETIME": false, "TIME": false,
	"NUMBER": true, "UNIT_INTERVAL": true, "PERCENTAGE": true, "INTEGER": true, "INTEGER_POSITIVE": true,
	"INTEGER_NEGATIVE": true, "INTEGER_ZERO_OR_POSITIVE": true, "TRACKER_ASSOCIATE": false,
	"USERNAME": false, "COORDINATE": false, "ORGANISATION_UNIT": false, "REFERENCE": false, "AGE": false,
	"URL": false, "FILE_RESOURCE": false, "IMAGE": false, "GEOJSON": false,
}

const (
	maxValueLength   = 50000
	maxCommentLength = 50000
	maxStoredBy      = 255
)

var (
	reNumber       = regexp.MustCompile(`^(-?0|-?[1-9]\d*)(\.\d+)?$`)
	reInteger      = regexp.MustCompile(`^(0|-?[1-9]\d*)$`)
	rePositiveInt  = regexp.MustCompile(`^[1-9]\d*$`)
	reNegativeInt  = regexp.MustCompile(`^-[1-9]\d*$`)
	reZeroOrPosInt = regexp.MustCompile(`^(0|[1-9]\d*)$`)
	reZero         = regexp.MustCompile(`^0(\.0*)?$`)
	reDate         = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	reCoordinate   = regexp.MustCompile(`^\[\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\]$`)
)

// i18n holds the English texts of the value error keys that DHIS2's
// i18n_global.properties translates; any other key is shown as is, as
// DHIS2 does for a missing translation (dhis2-core ErrorCode.java lists the keys).
var i18n = map[string]string{
	"value_length_greater_than_max_length":     "Data value is greater than max length",
	"value_not_numeric":                        "Data value is not numeric",
	"value_not_unit_interval":                  "Data value is not a unit interval",
	"value_not_percentage":                     "Data value is not a percentage",
	"value_not_integer":                        "Data value is not an integer",
	"value_not_positive_integer":               "Data value is not a positive integer",
	"value_not_negative_integer":               "Data value is not a negative integer",
	"value_not_bool":                           "Data value is not a boolean",
	"value_not_true_only":                      "Data value is not true",
	"value_not_valid_date":                     "Data value is not a valid date",
	"stored_by_length_greater_than_max_length": "Stored by is greater than max length",
	"comment_length_greater_than_max_length":   "Comment is greater than max length",
}

func translate(key string) string {
	if s, ok := i18n[key]; ok {
		return s
	}
	return key
}

// normalizeBoolean maps the accepted spellings of a boolean to "true" or
// "false" for BOOLEAN and TRUE_ONLY data elements (dhis2-core ValidationUtils.valueIsValid).
func normalizeBoolean(value, valueType string) string {
	if valueType != "BOOLEAN" && valueType != "TRUE_ONLY" {
		return value
	}
	switch value {
	case "true", "True", "TRUE", "t", "T", "1":
		return "true"
	case "false", "False", "FALSE", "f", "F", "0":
		return "false"
	}
	return value
}

func isNumber(v string) bool {
	if len(v) >= 250 || !reNumber.MatchString(v) {
		return false
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

func isInt32(v string) bool {
	_, err := strconv.ParseInt(v, 10, 32)
	return err == nil
}

func inRange(v string, lo, hi float64) bool {
	if !isNumber(v) {
		return false
	}
	f, _ := strconv.ParseFloat(v, 64)
	return f >= lo && f <= hi
}

// valueError returns the i18n key of what is wrong with value for a data
// element of valueType, or "" when it is valid. Blank values are not
// checked (dhis2-core ValidationUtils.valueIsValid); BOOLEAN values must be normalised first.
func valueError(value, valueType string) string {
	if strings.TrimSpace(value) == "" {
		return ""
	}
	if utf8.RuneCountInString(value) > maxValueLength {
		return "value_length_greater_than_max_length"
	}
	switch valueType {
	case "NUMBER":
		if !isNumber(value) {
			return "value_not_numeric"
		}
	case "UNIT_INTERVAL":
		if !inRange(value, 0, 1) {
			return "value_not_unit_interval"
		}
	case "PERCENTAGE":
		if !inRange(value, 0, 100) {
			return "value_not_percentage"
		}
	case "INTEGER":
		if !reInteger.MatchString(value) || !isInt32(value) {
			return "value_not_integer"
		}
	case "INTEGER_POSITIVE":
		if !rePositiveInt.MatchString(value) || !isInt32(value) {
			return "value_not_positive_integer"
		}
	case "INTEGER_NEGATIVE":
		if !reNegativeInt.MatchString(value) || !isInt32(value) {
			return "value_not_negative_integer"
		}
	case "INTEGER_ZERO_OR_POSITIVE":
		if !reZeroOrPosInt.MatchString(value) || !isInt32(value) {
			return "value_not_zero_or_positive_integer"
		}
	case "BOOLEAN":
		if value != "true" && value != "false" {
			return "value_not_bool"
		}
	case "TRUE_ONLY":
		if value != "true" {
			return "value_not_true_only"
		}
	case "DATE":
		if !isDate(value) {
			return "value_not_valid_date"
		}
	case "DATETIME":
		if !isDateTime(value) {
			return "value_not_valid_datetime"
		}
	case "LETTER":
		r, n := utf8.DecodeRuneInString(value)
		if n != len(value) || !unicode.IsLetter(r) {
			return "value_not_valid_letter"
		}
	case "COORDINATE":
		if !isCoordinate(value) {
			return "value_not_coordinate"
		}
	case "URL":
		u, err := url.ParseRequestURI(value)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ftp") {
			return "value_not_url"
		}
	case "FILE_RESOURCE", "IMAGE":
		// The sandbox stores no file resources, so no uid refers to one.
		return "value_not_valid_file_resource_uid"
	}
	return ""
}

func isDate(v string) bool {
	if !reDate.MatchString(v) {
		return false
	}
	_, err := time.Parse("2006-01-02", v)
	return err == nil
}

var dateTimeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05.000", "2006-01-02T15:04:05",
	"2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02",
}

func isDateTime(v string) bool {
	for _, l := range dateTimeLayouts {
		if _, err := time.Parse(l, v); err == nil {
			return true
		}
	}
	return false
}

func isCoordinate(v string) bool {
	m := reCoordinate.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	lng, _ := strconv.ParseFloat(m[1], 64)
	lat, _ := strconv.ParseFloat(m[2], 64)
	return math.Abs(lng) <= 180 && math.Abs(lat) <= 90
}

// isZeroAndInsignificant is ValidationUtils.dataValueIsZeroAndInsignificant
// (dhis2-core DefaultDataValueSetService): a zero for a numeric data element that does not store
// zeros and does not aggregate by average.
func isZeroAndInsignificant(value string, de *DataElement) bool {
	if !valueTypes[de.ValueType] || de.ZeroIsSignificant || !reZero.MatchString(value) {
		return false
	}
	return de.AggregationType != "AVERAGE" && de.AggregationType != "AVERAGE_SUM_ORG_UNIT"
}
