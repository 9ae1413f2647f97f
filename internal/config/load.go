package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix starts every environment variable the mediator reads.
const EnvPrefix = "MEDIATOR_"

// Sources are the inputs of a load, each optional. The environment is the
// process's own: viper binds every key to its MEDIATOR_ variable.
type Sources struct {
	// File is the YAML configuration, or nil.
	File io.Reader
	// FileName names File in error messages.
	FileName string
	// Flags are overrides from the command line, by key (cht.url).
	Flags map[string]string
}

// Load builds a configuration from defaults, then src.File, then the
// MEDIATOR_* environment variables, then src.Flags, and validates it. Every
// problem is reported, each naming its key (and its variable when the value
// came from the environment) and what to write instead.
func Load(src Sources) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	defaults := Flatten(Default())
	for key, val := range defaults {
		v.SetDefault(key, val)
	}
	// viper reads MEDIATOR_CHT_URL for cht.url: the prefix, upper case, and
	// "." replaced by "_". AutomaticEnv looks up every key Unmarshal asks for,
	// and every key has a default, so every key is bound.
	v.SetEnvPrefix(strings.TrimSuffix(EnvPrefix, "_"))
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	name := src.FileName
	if name == "" {
		name = "config file"
	}
	if src.File != nil {
		body, err := io.ReadAll(src.File)
		if err != nil {
			return Config{}, fmt.Errorf("read %s: %w", name, err)
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if err := v.ReadConfig(bytes.NewReader(body)); err != nil {
				return Config{}, fmt.Errorf("parse %s: %w", name, err)
			}
		}
		if err := unknownKeys(v, defaults, name); err != nil {
			return Config{}, err
		}
	}
	var errs []error
	for _, kv := range os.Environ() {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) {
			continue
		}
		if keyForEnv(k, defaults) == "" {
			errs = append(errs, fmt.Errorf("%s: unknown environment variable (no such config key); unset it or fix its name", k))
		}
	}
	flagKeys := make([]string, 0, len(src.Flags))
	for k := range src.Flags {
		flagKeys = append(flagKeys, k)
	}
	sort.Strings(flagKeys)
	for _, k := range flagKeys {
		if _, ok := defaults[k]; !ok {
			errs = append(errs, fmt.Errorf("%s: unknown config key", k))
			continue
		}
		v.Set(k, src.Flags[k])
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	var cfg Config
	if err := v.UnmarshalExact(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			durationHook,
			strictBoolHook,
		)
	}); err != nil {
		return Config{}, decodeErrors(err, src.Flags)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadFile loads the configuration with the YAML file at path (none when path
// is empty), the process environment and flags.
func LoadFile(path string, flags map[string]string) (Config, error) {
	src := Sources{Flags: flags}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return Config{}, fmt.Errorf("open config file: %w", err)
		}
		defer f.Close()
		src.File = f
		src.FileName = path
	}
	return Load(src)
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func keyForEnv(env string, defaults map[string]any) string {
	for key := range defaults {
		if EnvName(key) == env {
			return key
		}
	}
	return ""
}

// unknownKeys rejects keys of the file that the schema does not have, so that
// a mistyped key fails the load instead of being ignored.
func unknownKeys(v *viper.Viper, defaults map[string]any, name string) error {
	var errs []error
	for _, key := range v.AllKeys() {
		if _, ok := defaults[key]; !ok {
			errs = append(errs, fmt.Errorf("%s: unknown key in %s", key, name))
		}
	}
	return errors.Join(errs...)
}

// valueError is a value that does not fit its key's type, phrased by the
// decode hooks below.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

// durationHook reads durations written like 30s, 5m or 1h30m. A number
// without a unit is refused wherever it comes from: YAML gives 5 as an int,
// which would otherwise decode as 5 nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		s := strings.TrimSpace(data.(string))
		d, err := time.ParseDuration(s)
		if err == nil {
			return d, nil
		}
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return nil, &valueError{fmt.Sprintf("%q has no unit: write a duration like %ss, %sm or 1h30m", s, s, s)}
		}
		return nil, &valueError{fmt.Sprintf("%q is not a duration: write it like 30s, 5m or 1h30m", s)}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil, &valueError{fmt.Sprintf("%v has no unit: write a duration like %vs, %vm or 1h30m", data, data, data)}
	}
	return nil, &valueError{fmt.Sprintf("%v is not a duration: write it like 30s, 5m or 1h30m", data)}
}

// strictBoolHook accepts only true/false (any case) for booleans given as
// strings, so "yes" or "1" in an environment variable is an error rather than
// a silent guess.
func strictBoolHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Bool {
		return data, nil
	}
	switch strings.ToLower(strings.TrimSpace(data.(string))) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return nil, &valueError{fmt.Sprintf("%q is not a boolean: write true or false", data)}
}

// decodeErrors phrases the typed errors of a failed decode, one per key,
// each naming where the value came from (flag, environment variable or
// file) and what to write.
func decodeErrors(err error, flags map[string]string) error {
	var des []*mapstructure.DecodeError
	collectDecodeErrors(err, &des)
	if len(des) == 0 {
		return fmt.Errorf("decode config: %w", err)
	}
	errs := make([]error, 0, len(des))
	for _, de := range des {
		key := de.Name()
		where := key
		if _, ok := flags[key]; ok {
			where = key + " (--set)"
		} else if _, ok := os.LookupEnv(EnvName(key)); ok {
			where = key + " (" + EnvName(key) + ")"
		}
		errs = append(errs, fmt.Errorf("%s: %s", where, phrase(de.Unwrap())))
	}
	return errors.Join(errs...)
}

func collectDecodeErrors(err error, out *[]*mapstructure.DecodeError) {
	if de, ok := err.(*mapstructure.DecodeError); ok {
		// A nested decode error names the deeper key.
		if inner, ok := de.Unwrap().(*mapstructure.DecodeError); ok {
			collectDecodeErrors(inner, out)
			return
		}
		*out = append(*out, de)
		return
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			collectDecodeErrors(e, out)
		}
	case interface{ Unwrap() error }:
		collectDecodeErrors(u.Unwrap(), out)
	}
}

// phrase says what is wrong with a value, from mapstructure's typed errors.
func phrase(err error) string {
	var ve *valueError
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(err, &ve):
		return ve.msg
	case errors.As(err, &pe):
		return fmt.Sprintf("%q is not %s", fmt.Sprint(pe.Value), kindName(pe.Expected.Type()))
	case errors.As(err, &ue):
		return fmt.Sprintf("%v is not %s", ue.Value, kindName(ue.Expected.Type()))
	}
	return err.Error()
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number: write digits only, like 500"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean: write true or false"
	case reflect.String:
		return "a text value"
	}
	return "a " + t.String()
}

// Flatten returns every key of c with its value: durations as time.Duration,
// secrets as plain strings. The keys are the YAML keys joined with ".".
func Flatten(c Config) map[string]any {
	out := map[string]any{}
	flatten("", reflect.ValueOf(c), out)
	return out
}

func flatten(prefix string, v reflect.Value, out map[string]any) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("mapstructure")
		if prefix != "" {
			key = prefix + "." + key
		}
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)):
			flatten(key, fv, out)
		case f.Type == reflect.TypeOf(Secret("")):
			out[key] = fv.String()
		default:
			out[key] = fv.Interface()
		}
	}
}

// Keys returns every configuration key, sorted.
func Keys() []string {
	keys := make([]string, 0, 64)
	for k := range Flatten(Default()) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
