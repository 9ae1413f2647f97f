package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"unicode/utf8"
)

// This file writes data value sets as JSON without reflection. A national
// month is tens of thousands of values, and encoding/json spends most of its
// time there calling MarshalJSON per value, re-validating what it returns and
// indenting the whole buffer a second time. The output is byte for byte what
// encoding/json's Encoder writes (HTML-safe escaping, SetIndent("", "  ")
// for WriteJSON); a test and a fuzz target hold it to that.

// WriteJSON writes s to w as indented JSON followed by a newline, streaming
// the values through a buffer rather than building the whole document.
func (s *DataValueSet) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, 1024)
	b = append(b, "{\n  \"dataSet\": "...)
	b = appendString(b, s.DataSet)
	if s.CompleteDate != "" {
		b = append(b, ",\n  \"completeDate\": "...)
		b = appendString(b, s.CompleteDate)
	}
	b = append(b, ",\n  \"period\": "...)
	b = appendString(b, s.Period)
	if s.OrgUnit != "" {
		b = append(b, ",\n  \"orgUnit\": "...)
		b = appendString(b, s.OrgUnit)
	}
	b = append(b, ",\n  \"dataValues\": "...)
	switch {
	case s.DataValues == nil:
		b = append(b, "null"...)
	case len(s.DataValues) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, '[')
		for i := range s.DataValues {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = s.DataValues[i].appendJSON(b, "    ")
			if len(b) > 32<<10 {
				if _, err := bw.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
		b = append(b, "\n  ]"...)
	}
	b = append(b, "\n}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// appendJSON appends v as a JSON object: compact when indent is "", else
// indented by two spaces per level, its first line already at indent.
func (v DataValue) appendJSON(b []byte, indent string) []byte {
	b = append(b, '{')
	b = appendField(b, indent, true, "dataElement")
	b = appendString(b, v.DataElement)
	if v.Period != "" {
		b = appendField(b, indent, false, "period")
		b = appendString(b, v.Period)
	}
	b = appendField(b, indent, false, "orgUnit")
	b = appendString(b, v.OrgUnit)
	if v.CategoryOptionCombo != "" {
		b = appendField(b, indent, false, "categoryOptionCombo")
		b = appendString(b, v.CategoryOptionCombo)
	}
	if v.AttributeOptionCombo != "" {
		b = appendField(b, indent, false, "attributeOptionCombo")
		b = appendString(b, v.AttributeOptionCombo)
	}
	b = appendField(b, indent, false, "value")
	b = appendString(b, v.Value)
	if len(v.Attributes) > 0 {
		b = v.appendAttributes(b, indent)
	}
	if indent != "" {
		b = append(b, '\n')
		b = append(b, indent...)
	}
	return append(b, '}')
}

// appendAttributes appends v's copied attributes in key order, skipping
// reserved names and invalid JSON, indented like the named fields.
func (v DataValue) appendAttributes(b []byte, indent string) []byte {
	for _, k := range slices.Sorted(maps.Keys(v.Attributes)) {
		raw := v.Attributes[k]
		if reserved[k] || !json.Valid(raw) {
			continue
		}
		var compact, out bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			continue
		}
		val := compact.Bytes()
		if indent != "" {
			if err := json.Indent(&out, val, indent+"  ", "  "); err != nil {
				continue
			}
			val = out.Bytes()
		}
		b = appendField(b, indent, false, k)
		b = append(b, htmlSafe(val)...)
	}
	return b
}

// appendField appends the separator and name of an object member.
func appendField(b []byte, indent string, first bool, name string) []byte {
	if !first {
		b = append(b, ',')
	}
	if indent != "" {
		b = append(b, '\n')
		b = append(b, indent...)
		b = append(b, "  "...)
	}
	b = appendString(b, name)
	b = append(b, ':')
	if indent != "" {
		b = append(b, ' ')
	}
	return b
}

// htmlSafe escapes <, >, & and U+2028/U+2029 inside the strings of valid
// JSON, as encoding/json does with the output of a MarshalJSON method.
func htmlSafe(src []byte) []byte {
	if !bytes.ContainsAny(src, "<>&\u2028\u2029") {
		return src
	}
	var out bytes.Buffer
	json.HTMLEscape(&out, src)
	return out.Bytes()
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does:
// <, > and & as \u003c, \u003e, \u0026; control characters as \n, \r, \t,
// \b, \f or \u00XX; invalid UTF-8 as \ufffd; U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
