package cht

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// maxTranslationsSize bounds the translations doc read into memory.
const maxTranslationsSize = 16 << 20

// Translations returns the translations of locale ("" means cfg.Locale),
// read from the doc messages-<locale>: the flat "values" map of older CHT,
// then "generic", then "custom", later maps winning. Best effort: a missing
// doc (404) gives an empty map and no error; other failures are errors the
// caller may ignore.
func (c *Client) Translations(ctx context.Context, locale string) (map[string]string, error) {
	if locale == "" {
		locale = c.locale
	}
	op := "fetch translations " + locale
	out := map[string]string{}
	err := c.do(ctx, request{op: op, method: http.MethodGet, u: c.dbEndpoint("messages-" + locale)},
		func(resp *http.Response) error {
			body, err := readLimited(resp.Body, maxTranslationsSize)
			if err != nil {
				return err
			}
			out, err = decodeTranslations(body)
			return err
		})
	if errors.Is(err, ErrNotFound) {
		c.log.Debug("no translations doc", "locale", locale)
		return map[string]string{}, nil
	}
	if err != nil {
		return map[string]string{}, err
	}
	return out, nil
}

// decodeTranslations merges a translations doc's values, generic and custom
// maps. Members that are not strings are skipped.
func decodeTranslations(body []byte) (map[string]string, error) {
	var doc struct {
		Values  json.RawMessage `json:"values"`
		Generic json.RawMessage `json:"generic"`
		Custom  json.RawMessage `json:"custom"`
	}
	if !isObject(body) {
		return nil, notObject("decode translations", body)
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode translations: %w", err)
	}
	out := map[string]string{}
	for _, part := range []json.RawMessage{doc.Values, doc.Generic, doc.Custom} {
		var m map[string]json.RawMessage
		if !isObject(part) || json.Unmarshal(part, &m) != nil {
			continue
		}
		for k, v := range m {
			if s, ok := jsonString(v); ok {
				out[k] = s
			}
		}
	}
	return out, nil
}
