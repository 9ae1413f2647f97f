package cht

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// targetPage is an _all_docs page of n target docs with 20 targets each, as
// CouchDB sends it.
func targetPage(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"total_rows":%d,"offset":0,"rows":[`, n*3)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		id := fmt.Sprintf("target~2024-06~%08d-5b1c-4d2e-9f3a-0123456789ab~org.couchdb.user:chw%06d", i, i)
		fmt.Fprintf(&b, `{"id":%q,"key":%q,"value":{"rev":"3-0123456789abcdef0123456789abcdef"},"doc":{"_id":%q,"_rev":"3-0123456789abcdef0123456789abcdef","type":"target","user":"org.couchdb.user:chw%06d","owner":"%08d-5b1c-4d2e-9f3a-0123456789ab","reporting_period":"2024-06","updated_date":1718236800000,"targets":[`, id, id, id, i, i)
		for j := range 20 {
			if j > 0 {
				b.WriteByte(',')
			}
			if j%3 == 0 {
				fmt.Fprintf(&b, `{"id":"target-%02d","value":{"pass":%d,"total":%d,"percent":50}}`, j, j, 2*j)
			} else {
				fmt.Fprintf(&b, `{"id":"target-%02d","value":{"pass":%d,"total":%d}}`, j, j, j)
			}
		}
		b.WriteString(`]}}`)
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// BenchmarkReadTargetPage measures the streaming decode of target docs as
// TargetDocs reads them: each doc decoded while its row is split.
func BenchmarkReadTargetPage(b *testing.B) {
	page := targetPage(1000)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		var dec targetDecoder
		err := readRowsDocs(context.Background(), bytes.NewReader(page), dec.splitDoc, func(r *row) error {
			if !r.docDecoded {
				b.Fatal("a doc of the usual shape was not decoded while split")
			}
			d := decodeRow(&dec, r)
			n += len(d.Targets)
			return nil
		})
		if err != nil || n != 20000 {
			b.Fatalf("readRows = %v, %d targets", err, n)
		}
	}
}

func BenchmarkReadRowsOnly(b *testing.B) {
	page := targetPage(1000)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if err := readRows(context.Background(), bytes.NewReader(page), func(r *row) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
