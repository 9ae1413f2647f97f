package config

import (
	"encoding/json"
	"log/slog"
)

// Secret is a credential: a password or a token. It prints, logs and marshals
// as "<secret>" so that it cannot leak through fmt, slog or JSON by accident.
// Use Reveal, and only where the value is put on the wire.
type Secret string

const redacted = "<secret>"

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, used by %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText implements encoding.TextMarshaler (YAML and others).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
