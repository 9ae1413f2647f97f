package cht

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestClient_Translations(t *testing.T) {
	f := newFakeCouch(t)
	f.docs["messages-en"] = readTestdata(t, "messages-en.json")
	f.docs["messages-sw"] = json.RawMessage(`{"_id":"messages-sw","values":{"dhis.dataset.monthly":"Ripoti ya mwezi","n":3},"custom":{"targets.births.title":"Vizazi"}}`)
	f.docs["messages-xx"] = json.RawMessage(`["not","a","doc"]`)
	cfg := testConfig()
	cfg.Locale = "sw"
	c, _ := f.start(cfg)

	tests := []struct {
		locale  string
		want    map[string]string
		wantErr string
	}{
		{locale: "en", want: map[string]string{"dhis.dataset.monthly": "CHW monthly summary", "targets.births.title": "Births"}},
		{locale: "", want: map[string]string{"dhis.dataset.monthly": "Ripoti ya mwezi", "targets.births.title": "Vizazi"}},
		{locale: "fr", want: map[string]string{}},
		{locale: "xx", want: map[string]string{}, wantErr: "cht: fetch translations xx: decode translations: not a JSON object"},
	}
	for _, tt := range tests {
		t.Run("locale "+tt.locale, func(t *testing.T) {
			got, err := c.Translations(context.Background(), tt.locale)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v; want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got == nil || !maps.Equal(got, tt.want) {
				t.Errorf("Translations(%q) = %v; want %v", tt.locale, got, tt.want)
			}
		})
	}
	paths := []string{}
	for _, r := range f.requests() {
		paths = append(paths, r.Path)
	}
	if want := "/medic/messages-en /medic/messages-sw /medic/messages-fr /medic/messages-xx"; strings.Join(paths, " ") != want {
		t.Errorf("paths = %q; want %q", paths, want)
	}
}

func TestClient_Translations_unauthorized(t *testing.T) {
	f := newFakeCouch(t)
	f.user, f.password = "u", "p"
	c, _ := f.start(testConfig())
	_, err := c.Translations(context.Background(), "en")
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("error = %v; want ErrUnauthorized", err)
	}
}

func TestDecodeTranslations_broken(t *testing.T) {
	if _, err := decodeTranslations([]byte(`{"generic":`)); err == nil {
		t.Error("decodeTranslations(broken) = nil error")
	}
}
