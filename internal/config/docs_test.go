package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The example configuration documents every key and loads as it is.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "mediator-config", "config.example.yaml")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := Load(Sources{File: f, FileName: path})
	if err != nil {
		t.Fatalf("Load(%s) = %v", path, err)
	}
	if cfg != Default() {
		t.Errorf("%s does not show the defaults:\n%#v\nwant\n%#v", path, cfg, Default())
	}
}

// The README's configuration table lists every key with its environment
// variable, and no key that does not exist.
func TestREADMEConfigTable(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_.]+)` \\| `(MEDIATOR_[A-Z0-9_]+)` \\|")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(body), -1) {
		documented[m[1]] = true
		if EnvName(m[1]) != m[2] {
			t.Errorf("README: key %s is documented with %s; its variable is %s", m[1], m[2], EnvName(m[1]))
		}
	}
	known := Flatten(Default())
	for _, k := range Keys() {
		if !documented[k] {
			t.Errorf("README configuration table lacks %s", k)
		}
	}
	for k := range documented {
		if _, ok := known[k]; !ok {
			t.Errorf("README documents %s, which is not a config key", k)
		}
	}
}
