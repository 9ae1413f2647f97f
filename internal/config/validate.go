package config

import (
	"errors"
	"fmt"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
)

var couchDBName = regexp.MustCompile(`^[a-z][a-z0-9_$()+/-]*$`)

var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		return f.Tag.Get("mapstructure")
	})
	_ = v.RegisterValidation("couchdb_name", func(fl validator.FieldLevel) bool {
		return couchDBName.MatchString(fl.Field().String())
	})
	_ = v.RegisterValidation("listen_addr", func(fl validator.FieldLevel) bool {
		_, port, err := net.SplitHostPort(fl.Field().String())
		if err != nil {
			return false
		}
		n, err := strconv.Atoi(port)
		return err == nil && n >= 0 && n <= 65535
	})
	return v
}

// Validate checks every key and returns one error per bad key, each naming
// the key and what is wrong with it.
func (c Config) Validate() error {
	var errs []error
	if err := validate.Struct(c); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return fmt.Errorf("validate config: %w", err)
		}
		for _, fe := range verrs {
			errs = append(errs, fmt.Errorf("%s: %s", keyOf(fe), describe(fe)))
		}
	}
	if c.CHT.Username != "" && !c.CHT.Password.IsSet() {
		errs = append(errs, errors.New("cht.password: required when cht.username is set"))
	}
	if !c.DHIS2.Token.IsSet() && (c.DHIS2.Username == "") != !c.DHIS2.Password.IsSet() {
		errs = append(errs, errors.New("dhis2.username, dhis2.password: set both, or set dhis2.token instead"))
	}
	if c.OpenHIM.TLSCAFile != "" && c.OpenHIM.TLSInsecureSkipVerify {
		errs = append(errs, errors.New("openhim.tls_insecure_skip_verify: cannot be true together with openhim.tls_ca_file"))
	}
	return errors.Join(errs...)
}

// RequireCHT reports an error when the keys needed to read CHT are missing.
func (c Config) RequireCHT() error {
	if c.CHT.URL == "" {
		return missing("cht.url")
	}
	return nil
}

// RequireDHIS2 reports an error when the keys needed to reach DHIS2 are
// missing.
func (c Config) RequireDHIS2() error {
	var errs []error
	if c.DHIS2.URL == "" {
		errs = append(errs, missing("dhis2.url"))
	}
	if !c.DHIS2.Token.IsSet() && c.DHIS2.Username == "" {
		errs = append(errs, fmt.Errorf("dhis2.token: required, or dhis2.username and dhis2.password (set them in the config file or %s)", EnvName("dhis2.token")))
	}
	return errors.Join(errs...)
}

func missing(key string) error {
	return fmt.Errorf("%s: required (set it in the config file or %s)", key, EnvName(key))
}

// keyOf turns a validator namespace ("Config.cht.url") into a config key.
func keyOf(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "required_with":
		return "required when " + strings.ToLower(fe.Param()) + " is set"
	case "http_url":
		// Quoted with any password taken out: a malformed URL may still
		// carry user:password@.
		return fmt.Sprintf("%q is not an http or https URL", redact.URL(fmt.Sprint(fe.Value())))
	case "listen_addr":
		return fmt.Sprintf("%q is not a host:port listen address", fe.Value())
	case "oneof":
		return fmt.Sprintf("%q is not one of: %s", fe.Value(), strings.ReplaceAll(fe.Param(), " ", ", "))
	case "gt":
		return "must be greater than " + fe.Param()
	case "gte", "min":
		return "must be at least " + fe.Param()
	case "max":
		return "must be at most " + fe.Param()
	case "file":
		return fmt.Sprintf("%q is not a readable file", fe.Value())
	case "couchdb_name":
		return fmt.Sprintf("%q is not a valid CouchDB database name", fe.Value())
	}
	return "fails the " + fe.Tag() + " check"
}
