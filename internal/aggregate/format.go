package aggregate

import (
	"math"
	"strconv"
)

// FormatValue formats a value as a DHIS2 NUMBER: integers without decimals
// ("12"), other values as the shortest decimal that reads back to the same
// float64, without exponent ("0.5", "0.0000001"). Negative zero is "0". The
// builder never produces NaN or infinities (such totals are skipped and
// reported); if given one, FormatValue returns strconv's "NaN", "+Inf" or
// "-Inf", which DHIS2 and the validate package reject.
func FormatValue(v float64) string {
	if v == 0 {
		return "0"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10) // the same digits; no allocation below 100
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// DataSetLabel returns the human-readable label of a data set as CHT's
// humanReadable export does, translate(translation_key): the translation of
// the key when there is a non-empty one, else the key itself, and "" when the
// data set has no translation key (CHT's translate(undefined)).
func DataSetLabel(ds DataSet, translations map[string]string) string {
	if ds.TranslationKey == "" {
		return ""
	}
	if t := translations[ds.TranslationKey]; t != "" {
		return t
	}
	return ds.TranslationKey
}
