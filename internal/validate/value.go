package validate

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits DHIS2 puts on a value (2.37–2.42 ValidationUtils / MathUtils,
// dhis2-core ValidationUtils.valueIsValid).
const (
	// MaxValueLength is the most characters (UTF-16 code units, as Java
	// counts) any value may have.
	MaxValueLength = 50_000
	// maxNumberLength: a NUMBER must be shorter than this.
	maxNumberLength = 250
)

// ValueError reports a value that its value type does not accept. Code is
// one of the value_* problem codes (CodeValueNotNumeric, …).
type ValueError struct {
	Code      string
	ValueType string
	Value     string
	// Reason says what is wrong, as the end of a sentence whose subject is
	// the value: "is negative", "has a plus sign".
	Reason string
	// Accepts says what the value type takes: "zero or positive whole
	// numbers".
	Accepts string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("value %q %s, but %s only takes %s", e.Value, e.Reason, e.ValueType, e.Accepts)
}

// What each value type accepts, in words.
var accepts = map[string]string{
	"NUMBER":                   "plain numbers such as 12, 0 or -3.5",
	"INTEGER":                  "whole numbers from -2147483648 to 2147483647",
	"INTEGER_POSITIVE":         "positive whole numbers (1 or more)",
	"INTEGER_NEGATIVE":         "negative whole numbers (-1 or less)",
	"INTEGER_ZERO_OR_POSITIVE": "zero or positive whole numbers",
	"PERCENTAGE":               "numbers from 0 to 100",
	"UNIT_INTERVAL":            "numbers from 0 to 1",
	"BOOLEAN":                  "true or false",
	"TRUE_ONLY":                "true",
	"DATE":                     "dates written yyyy-MM-dd",
	"DATETIME":                 "date-times such as 2024-03-15T10:30:00",
	"LETTER":                   "a single letter",
	"COORDINATE":               "coordinates written [longitude,latitude]",
	"URL":                      "web addresses (http, https or ftp)",
	"FILE_RESOURCE":            "file resource uids",
	"IMAGE":                    "file resource uids",
}

// Value types whose values are free text up to MaxValueLength (DHIS2's
// importer does not check their form; MULTI_TEXT and option sets are
// checked against options, which a value type alone cannot do).
var textTypes = map[string]bool{
	"TEXT": true, "LONG_TEXT": true, "MULTI_TEXT": true, "PHONE_NUMBER": true,
	"EMAIL": true, "TIME": true, "TRACKER_ASSOCIATE": true, "USERNAME": true,
	"ORGANISATION_UNIT": true, "REFERENCE": true, "AGE": true, "GEOJSON": true,
}

// IsNumeric reports whether DHIS2 counts valueType as numeric
// (ValueType.isNumeric: the integer types plus NUMBER, UNIT_INTERVAL and
// PERCENTAGE). Only these can take the totals CHT computes.
func IsNumeric(valueType string) bool {
	switch valueType {
	case "NUMBER", "UNIT_INTERVAL", "PERCENTAGE",
		"INTEGER", "INTEGER_POSITIVE", "INTEGER_NEGATIVE", "INTEGER_ZERO_OR_POSITIVE":
		return true
	}
	return false
}

// ValidUID reports whether s has the form of a DHIS2 uid: 11 ASCII letters
// and digits, the first a letter (^[a-zA-Z][a-zA-Z0-9]{10}$).
func ValidUID(s string) bool {
	if len(s) != 11 || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// NormalizeBoolean returns what DHIS2 stores for a BOOLEAN or TRUE_ONLY
// value: "true" for true/True/TRUE/t/T/1, "false" for false/False/FALSE/
// f/F/0 (BOOLEAN only). Other values, and values of other types, are
// returned unchanged (ValidationUtils.normalizeBoolean).
func NormalizeBoolean(valueType, value string) string {
	if valueType != "BOOLEAN" && valueType != "TRUE_ONLY" {
		return value
	}
	switch value {
	case "true", "True", "TRUE", "t", "T", "1":
		return "true"
	case "false", "False", "FALSE", "f", "F", "0":
		if valueType == "BOOLEAN" {
			return "false"
		}
	}
	return value
}

// CheckValue checks value against the rules DHIS2 applies to valueType
// (dhis2-core 2.41 ValidationUtils.valueIsValid and MathUtils) and returns a *ValueError when it does not fit:
//
//   - NUMBER: ^(-?0|-?[1-9]\d*)(\.\d+)?$ with ASCII digits, shorter than 250
//     characters: no plus sign, leading zeros, exponent, thousands separator
//     or trailing point.
//   - INTEGER, INTEGER_POSITIVE, INTEGER_NEGATIVE, INTEGER_ZERO_OR_POSITIVE:
//     ^(0|-?[1-9]\d*)$ (so not "-0"), the sign the type asks for, and within
//     the 32-bit range.
//   - PERCENTAGE: a NUMBER from 0 to 100 (decimals allowed, as in the code;
//     the user docs say whole numbers). UNIT_INTERVAL: a NUMBER from 0 to 1.
//   - BOOLEAN: true/false in any letter case, t/T/f/F, 1/0. TRUE_ONLY:
//     "true" in any letter case, t/T, 1.
//   - DATE: yyyy-MM-dd naming a real calendar day. DATETIME: a real day
//     and time in one of the forms DHIS2's DateUtils parses
//     (yyyy-MM-ddTHH[:mm[:ss[.fff]]] with an optional offset, or
//     yyyy-MM-dd HH:mm:ss with an offset).
//   - LETTER: one letter. COORDINATE: [longitude,latitude] within ±180/±90.
//     URL: an absolute http, https or ftp URL with a host (an approximation
//     of Apache's UrlValidator). FILE_RESOURCE, IMAGE: a uid (whether the
//     file exists only DHIS2 knows).
//   - Other types (TEXT, LONG_TEXT, EMAIL, TIME, …): any text.
//
// Every value must be at most MaxValueLength characters. Unlike DHIS2,
// which skips the check for a blank value and then ignores it or deletes
// the stored value, CheckValue refuses a blank value (CodeValueMissing): a
// computed aggregate is never blank, and a blank push would delete data.
// An unknown value type is refused with CodeValueTypeMismatch.
func CheckValue(valueType, value string) error {
	if strings.TrimFunc(value, isJavaSpace) == "" {
		return valueErr(CodeValueMissing, valueType, value, "is empty")
	}
	if n := utf16Len(value); n > MaxValueLength {
		return valueErr(CodeValueTooLong, valueType, value, fmt.Sprintf("is %d characters long, more than the %d DHIS2 stores", n, MaxValueLength))
	}
	switch valueType {
	case "NUMBER", "PERCENTAGE", "UNIT_INTERVAL":
		return checkDecimal(valueType, value)
	case "INTEGER", "INTEGER_POSITIVE", "INTEGER_NEGATIVE", "INTEGER_ZERO_OR_POSITIVE":
		return checkInteger(valueType, value)
	case "BOOLEAN":
		switch asciiLower(value) {
		case "true", "false", "t", "f", "1", "0":
			return nil
		}
		return valueErr(CodeValueTypeMismatch, valueType, value, "is not a yes/no value")
	case "TRUE_ONLY":
		if NormalizeBoolean(valueType, value) == "true" || asciiLower(value) == "true" {
			return nil
		}
		return valueErr(CodeValueTypeMismatch, valueType, value, "is not true")
	case "DATE":
		if !validDate(value) {
			return valueErr(CodeValueTypeMismatch, valueType, value, "is not a calendar date written yyyy-MM-dd")
		}
		return nil
	case "DATETIME":
		if !validDateTime(value) {
			return valueErr(CodeValueTypeMismatch, valueType, value, "is not a date and time DHIS2 can read")
		}
		return nil
	case "LETTER":
		r, size := utf8.DecodeRuneInString(value)
		if size != len(value) || r == utf8.RuneError || r > 0xFFFF || !unicode.IsLetter(r) {
			return valueErr(CodeValueTypeMismatch, valueType, value, "is not a single letter")
		}
		return nil
	case "COORDINATE":
		if !validCoordinate(value) {
			return valueErr(CodeValueTypeMismatch, valueType, value, "is not a coordinate within ±180 longitude and ±90 latitude")
		}
		return nil
	case "URL":
		if !validURL(value) {
			return valueErr(CodeValueTypeMismatch, valueType, value, "is not a web address")
		}
		return nil
	case "FILE_RESOURCE", "IMAGE":
		if !ValidUID(value) {
			return valueErr(CodeValueTypeMismatch, valueType, value, "is not a file resource uid")
		}
		return nil
	}
	if textTypes[valueType] {
		return nil
	}
	return &ValueError{Code: CodeValueTypeMismatch, ValueType: valueType, Value: value,
		Reason: fmt.Sprintf("has value type %q", valueType), Accepts: "the value types of DHIS2 2.37–2.43"}
}

func valueErr(code, valueType, value, reason string) *ValueError {
	a, ok := accepts[valueType]
	if !ok {
		a = fmt.Sprintf("text of at most %d characters", MaxValueLength)
	}
	return &ValueError{Code: code, ValueType: valueType, Value: value, Reason: reason, Accepts: a}
}

// isJavaSpace is what Java's String.trim removes: every char ≤ U+0020.
func isJavaSpace(r rune) bool { return r <= ' ' }

// utf16Len counts s the way Java's String.length does.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return s // non-ASCII never lower-cases to true/false
		}
	}
	return strings.ToLower(s)
}

// number is a string split by scanNumber.
type number struct {
	neg  bool
	int  string // digits before the point
	frac string // digits after it; "" when there is no point
	dot  bool
}

// scanNumber matches ^(-?0|-?[1-9]\d*)(\.\d+)?$ (MathUtils NUMERIC_REGEXP)
// with ASCII digits.
func scanNumber(s string) (number, bool) {
	var n number
	if strings.HasPrefix(s, "-") {
		n.neg, s = true, s[1:]
	}
	intPart, frac, dot := strings.Cut(s, ".")
	n.int, n.frac, n.dot = intPart, frac, dot
	if !digits(intPart) || (len(intPart) > 1 && intPart[0] == '0') {
		return n, false
	}
	if dot && !digits(frac) {
		return n, false
	}
	return n, true
}

// notNumber says, for a string that scanNumber refused, what is wrong
// with it in words a records officer recognises.
func notNumber(s string) string {
	switch {
	case strings.TrimFunc(s, unicode.IsSpace) != s:
		return "has spaces around it"
	case strings.IndexFunc(s, func(r rune) bool { return r >= utf8.RuneSelf && unicode.IsDigit(r) }) >= 0:
		return "uses digits other than 0-9"
	case strings.HasPrefix(s, "+"):
		return "has a plus sign"
	case strings.ContainsAny(s, ",'_ "):
		return "has a separator (write 1234.5, not 1,234.5 or 1234,5)"
	case strings.ContainsAny(s, "eE") && strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789.-+eE", r) }) < 0:
		return "uses exponent notation"
	case strings.HasSuffix(s, "."):
		return "ends with a decimal point"
	case strings.HasPrefix(s, ".") || strings.HasPrefix(s, "-."):
		return "has no digit before the decimal point"
	}
	if n, _ := scanNumber(s); digits(n.int) && len(n.int) > 1 && n.int[0] == '0' && (!n.dot || digits(n.frac)) {
		return "has a leading zero"
	}
	return "is not a number"
}

func checkDecimal(valueType, value string) error {
	if _, ok := scanNumber(value); !ok {
		return valueErr(CodeValueNotNumeric, valueType, value, notNumber(value))
	}
	if len(value) >= maxNumberLength {
		return valueErr(CodeValueOutOfRange, valueType, value, fmt.Sprintf("has %d characters; DHIS2 takes numbers shorter than %d", len(value), maxNumberLength))
	}
	// Below 250 characters a matching string is always a finite double.
	f, _ := strconv.ParseFloat(value, 64)
	var lo, hi float64
	switch valueType {
	case "PERCENTAGE":
		lo, hi = 0, 100
	case "UNIT_INTERVAL":
		lo, hi = 0, 1
	default:
		return nil
	}
	if f < lo {
		return valueErr(CodeValueOutOfRange, valueType, value, fmt.Sprintf("is below %g", lo))
	}
	if f > hi {
		return valueErr(CodeValueOutOfRange, valueType, value, fmt.Sprintf("is above %g", hi))
	}
	return nil
}

func checkInteger(valueType, value string) error {
	n, ok := scanNumber(value)
	if !ok {
		return valueErr(CodeValueNotNumeric, valueType, value, notNumber(value))
	}
	if n.dot {
		return valueErr(CodeValueTypeMismatch, valueType, value, "is written with a decimal point")
	}
	if n.neg && n.int == "0" {
		return valueErr(CodeValueTypeMismatch, valueType, value, "is written -0 (write 0)")
	}
	zero := n.int == "0"
	switch {
	case valueType == "INTEGER_POSITIVE" && zero:
		return valueErr(CodeValueSign, valueType, value, "is zero")
	case valueType == "INTEGER_POSITIVE" && n.neg, valueType == "INTEGER_ZERO_OR_POSITIVE" && n.neg:
		return valueErr(CodeValueSign, valueType, value, "is negative")
	case valueType == "INTEGER_NEGATIVE" && zero:
		return valueErr(CodeValueSign, valueType, value, "is zero")
	case valueType == "INTEGER_NEGATIVE" && !n.neg:
		return valueErr(CodeValueSign, valueType, value, "is positive")
	}
	if _, err := strconv.ParseInt(value, 10, 32); err != nil {
		return valueErr(CodeValueOutOfRange, valueType, value, "is outside the whole-number range DHIS2 stores (-2147483648 to 2147483647)")
	}
	return nil
}

// validDate reports whether s is yyyy-MM-dd naming a real day.
func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:]) {
		return false
	}
	y, m, d := atoi(s[:4]), atoi(s[5:7]), atoi(s[8:])
	return m >= 1 && m <= 12 && d >= 1 && d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// validDateTime accepts the date-time forms of dhis2-core DateUtils
// SUPPORTED_DATE_TIME_FORMAT_PARSERS (2.41): a date, then either
// "T" HH[:mm[:ss[.fraction of 3, 4, 6 or 9 digits]]] and an optional
// offset, or " " HH:mm:ss and an offset. An offset is Z, ±HH:mm or ±HHmm.
func validDateTime(s string) bool {
	if len(s) < 13 || !validDate(s[:10]) {
		return false
	}
	sep, rest := s[10], s[11:]
	_, rest, ok := twoDigits(rest, 23)
	if !ok {
		return false
	}
	parts := 1
	for parts < 3 && strings.HasPrefix(rest, ":") {
		if _, rest, ok = twoDigits(rest[1:], 59); !ok {
			return false
		}
		parts++
	}
	if parts == 3 && strings.HasPrefix(rest, ".") {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if f := n - 1; f != 3 && f != 4 && f != 6 && f != 9 {
			return false
		}
		rest = rest[n:]
	}
	switch sep {
	case 'T':
		return rest == "" || validOffset(rest)
	case ' ':
		return parts == 3 && validOffset(rest)
	}
	return false
}

func twoDigits(s string, maxVal int) (int, string, bool) {
	if len(s) < 2 || !digits(s[:2]) {
		return 0, s, false
	}
	n := atoi(s[:2])
	return n, s[2:], n <= maxVal
}

func validOffset(s string) bool {
	if s == "Z" {
		return true
	}
	if len(s) < 5 || (s[0] != '+' && s[0] != '-') {
		return false
	}
	_, rest, ok := twoDigits(s[1:], 23)
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, ":")
	_, rest, ok = twoDigits(rest, 59)
	return ok && rest == ""
}

// validCoordinate accepts [longitude,latitude] (one optional space after
// the comma, as DHIS2's POINT_PATTERN) with finite numbers in range.
func validCoordinate(s string) bool {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return false
	}
	lngS, latS, ok := strings.Cut(s[1:len(s)-1], ",")
	if !ok {
		return false
	}
	latS = strings.TrimPrefix(latS, " ")
	lng, err1 := strconv.ParseFloat(lngS, 64)
	lat, err2 := strconv.ParseFloat(latS, 64)
	if err1 != nil || err2 != nil || math.IsNaN(lng) || math.IsNaN(lat) {
		return false
	}
	return lng >= -180 && lng <= 180 && lat >= -90 && lat <= 90
}

// validURL approximates Apache commons UrlValidator's defaults: an
// absolute http, https or ftp URL with a host, and no spaces.
func validURL(s string) bool {
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ftp":
	default:
		return false
	}
	host := u.Hostname()
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !isLetter(c) && !isDigit(c) && c != '-' && c != '.' && c != ':' {
			return false
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n > 65535 {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits reports whether s is non-empty and all ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// atoi converts a short string of ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
