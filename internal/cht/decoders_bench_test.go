package cht

// BenchmarkDecoders compares ways to decode a page of 1000 target docs of
// 20 targets each (targetPage), keeping only what the export uses (row id,
// doc _id, owner, updated_date, targets[].id and targets[].value.total):
//
//   - *_page decode the whole answer at once into structs (the response is
//     whole in memory; one wrongly typed total fails the page);
//   - *_rows stream the answer row by row, as the client must (a
//     national month does not fit in memory at once), decoding each doc into structs;
//   - jsondecoder_walker is the client before this benchmark (json.Decoder
//     envelope, then the lenient walker on each doc);
//   - splitter_walker is the client now (rowscan.go, then the walker).
//
// Struct decoding cannot be lenient per doc and per entry (a total "5" or a
// null value fails the doc), which CHT's data needs; the walker is, and the
// numbers say whether it costs speed.

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"io"
	"testing"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
)

type benchDoc struct {
	ID          string  `json:"_id"`
	Owner       string  `json:"owner"`
	UpdatedDate float64 `json:"updated_date"`
	Targets     []struct {
		ID    string `json:"id"`
		Value struct {
			Total float64 `json:"total"`
		} `json:"value"`
	} `json:"targets"`
}

type benchRow struct {
	ID  string    `json:"id"`
	Doc *benchDoc `json:"doc"`
}

type benchPage struct {
	Rows []benchRow `json:"rows"`
}

// checkPage verifies a decoded page: 1000 docs, 20 000 entries, and the
// totals targetPage writes.
func checkPage(b *testing.B, docs, entries int, sum float64) {
	if docs != 1000 || entries != 20000 || sum != 1000*(2*(0+3+6+9+12+15+18)+(1+2+4+5+7+8+10+11+13+14+16+17+19)) {
		b.Fatalf("decoded %d docs, %d entries, sum %v", docs, entries, sum)
	}
}

func sumDocs(docs []*benchDoc) (int, int, float64) {
	n, e, s := 0, 0, 0.0
	for _, d := range docs {
		if d == nil {
			continue
		}
		n++
		for _, t := range d.Targets {
			e++
			s += t.Value.Total
		}
	}
	return n, e, s
}

func BenchmarkDecoders(b *testing.B) {
	page := targetPage(1000)
	pageStruct := func(unmarshal func([]byte, any) error) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				var p benchPage
				if err := unmarshal(page, &p); err != nil {
					b.Fatal(err)
				}
				docs := make([]*benchDoc, len(p.Rows))
				for i, r := range p.Rows {
					docs[i] = r.Doc
				}
				n, e, s := sumDocs(docs)
				checkPage(b, n, e, s)
			}
		}
	}
	// rowsStruct streams rows with the splitter and decodes each doc.
	rowsStruct := func(unmarshal func([]byte, any) error) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				n, e, s := 0, 0, 0.0
				err := readRows(context.Background(), bytes.NewReader(page), func(r *row) error {
					var d benchDoc
					if err := unmarshal(r.Doc, &d); err != nil {
						return err
					}
					n1, e1, s1 := sumDocs([]*benchDoc{&d})
					n, e, s = n+n1, e+e1, s+s1
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				checkPage(b, n, e, s)
			}
		}
	}
	walker := func(read func(context.Context, io.Reader, func(*row) error) error) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				var dec targetDecoder
				n, e, s := 0, 0, 0.0
				err := read(context.Background(), bytes.NewReader(page), func(r *row) error {
					d := dec.decode(r.Doc)
					n++
					for _, t := range d.Targets {
						e++
						s += t.Total
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				checkPage(b, n, e, s)
			}
		}
	}
	for _, bm := range []struct {
		name string
		fn   func(b *testing.B)
	}{
		{"encoding_json_page", pageStruct(stdjson.Unmarshal)},
		{"gojson_page", pageStruct(gojson.Unmarshal)},
		{"sonic_page", pageStruct(sonic.Unmarshal)},
		{"encoding_json_rows", rowsStruct(stdjson.Unmarshal)},
		{"gojson_rows", rowsStruct(gojson.Unmarshal)},
		{"sonic_rows", rowsStruct(sonic.Unmarshal)},
		{"jsondecoder_walker", walker(readRowsReference)},
		{"splitter_walker", walker(readRows)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			bm.fn(b)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/doc")
		})
	}
}
