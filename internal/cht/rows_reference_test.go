package cht

// The json.Decoder implementation readRows had before the splitter in
// rowscan.go, kept as the reference for FuzzReadRows_reference and
// BenchmarkDecoders/jsondecoder_walker.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

func readRowsReference(ctx context.Context, r io.Reader, fn func(*row) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelimReference(dec, '{'); err != nil {
		return err
	}
	sawRows := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return decodeErrReference(err)
		}
		if name, _ := tok.(string); name != "rows" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return decodeErrReference(err)
			}
			continue
		}
		sawRows = true
		tok, err = dec.Token()
		if err != nil {
			return decodeErrReference(err)
		}
		if tok == nil {
			continue // "rows": null, as no rows
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf("decode rows: rows is %v, not an array", tok)
		}
		// One buffer is reused from row to row; fn must copy what it keeps.
		var (
			buf json.RawMessage
			rw  row
		)
		for dec.More() {
			buf = buf[:0]
			if err := dec.Decode(&buf); err != nil {
				return decodeErrReference(err)
			}
			if !rw.parse(buf) {
				continue // not a row's shape
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(&rw); err != nil {
				return err
			}
		}
		if err := expectDelimReference(dec, ']'); err != nil {
			return err
		}
	}
	if err := expectDelimReference(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode rows: data after the answer")
	}
	if !sawRows {
		return errors.New("decode rows: the answer has no rows")
	}
	return nil
}

// decodeErr wraps a decoding error; the end of the body inside the answer
// is an unexpected EOF.
func decodeErrReference(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("decode rows: %w", err)
}

func expectDelimReference(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return decodeErrReference(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("decode rows: got %v, want %q", tok, string(want))
	}
	return nil
}
