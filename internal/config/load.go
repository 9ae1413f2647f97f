package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix starts every environment variable the mediator reads.
const EnvPrefix = "MEDIATOR_"

// Sources are the inputs of a load, each optional.
type Sources struct {
	// File is the YAML configuration, or nil.
	File io.Reader
	// FileName names File in error messages.
	FileName string
	// Env is the environment as KEY=value pairs (os.Environ()). Only
	// variables starting with MEDIATOR_ are read.
	Env []string
	// Flags are overrides from the command line, by key (cht.url).
	Flags map[string]string
}

// Load builds a configuration from defaults, then src.File, then src.Env, then
// src.Flags, and validates it. Every problem is reported, each naming its key.
func Load(src Sources) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	defaults := Flatten(Default())
	for key, val := range defaults {
		v.SetDefault(key, val)
	}
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
	for _, kv := range src.Env {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) {
			continue
		}
		key := keyForEnv(k, defaults)
		if key == "" {
			errs = append(errs, fmt.Errorf("%s: unknown environment variable (no such config key)", k))
			continue
		}
		v.Set(key, val)
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
		return Config{}, fmt.Errorf("decode config: %w", decodeError(err))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadFile loads the configuration with the YAML file at path (none when path
// is empty), the process environment and flags.
func LoadFile(path string, flags map[string]string) (Config, error) {
	src := Sources{Env: os.Environ(), Flags: flags}
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

// durationHook reads durations written like 30s, 5m or 1h30m.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(data.(string)))
	if err != nil {
		return nil, fmt.Errorf("%q is not a duration (write it like 30s, 5m or 1h30m)", data)
	}
	return d, nil
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
	return nil, fmt.Errorf("%q is not a boolean (use true or false)", data)
}

var decodeKey = regexp.MustCompile(`'([a-z0-9_.]+)'`)

// decodeError rewrites mapstructure's multi-line error into one line per key.
func decodeError(err error) error {
	var errs []error
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasPrefix(line, "decoding failed") {
			continue
		}
		if m := decodeKey.FindStringSubmatch(line); m != nil {
			line = m[1] + ": " + strings.TrimSpace(strings.Replace(line, m[0], "", 1))
		}
		errs = append(errs, errors.New(line))
	}
	if len(errs) == 0 {
		return err
	}
	return errors.Join(errs...)
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
