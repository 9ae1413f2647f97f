package cht

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestMembers(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // key=value
		wantBad bool
	}{
		{in: `{}`},
		{in: ` { } `},
		{in: `{"a":1}`, want: []string{"a=1"}},
		{in: `{ "a" : "x,}" , "b":[1,{"c":"]"}], "d":{"e":null} ,"f":true}`, want: []string{`a="x,}"`, `b=[1,{"c":"]"}]`, `d={"e":null}`, "f=true"}},
		{in: `{"q\"k":"v\\"}`, want: []string{`q\"k="v\\"`}},
		{in: `{"a":-1.5e3}`, want: []string{"a=-1.5e3"}},
		{in: `[]`, wantBad: true},
		{in: ``, wantBad: true},
		{in: `{`, wantBad: true},
		{in: `{} x`, wantBad: true},
		{in: `{"a":1} x`, want: []string{"a=1"}, wantBad: true},
		{in: `{"a"}`, wantBad: true},
		{in: `{"a":}`, wantBad: true},
		{in: `{"a":1,}`, want: []string{"a=1"}, wantBad: true},
		{in: `{"a":1 "b":2}`, wantBad: true},
		{in: `{a:1}`, wantBad: true},
		{in: `{"a`, wantBad: true},
		{in: `{"a":"b`, wantBad: true},
		{in: `{"a":[1,2}`, wantBad: true},
		{in: `{"a":1`, wantBad: true},
	}
	for _, tt := range tests {
		it := members([]byte(tt.in))
		var got []string
		for k, v, ok := it.next(); ok; k, v, ok = it.next() {
			got = append(got, string(k)+"="+string(v))
		}
		if !slices.Equal(got, tt.want) || it.bad != tt.wantBad {
			t.Errorf("members(%s) = %q, bad %v; want %q, bad %v", tt.in, got, it.bad, tt.want, tt.wantBad)
		}
	}
}

func TestElements(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantBad bool
	}{
		{in: `[]`},
		{in: ` [ ] `},
		{in: `[1, "a,]" ,{"b":[2]},null]`, want: []string{"1", `"a,]"`, `{"b":[2]}`, "null"}},
		{in: `{}`, wantBad: true},
		{in: `[1,]`, want: []string{"1"}, wantBad: true},
		{in: `[1 2]`, wantBad: true},
		{in: `[1`, wantBad: true},
		{in: `[,]`, wantBad: true},
		{in: `[1] 2`, want: []string{"1"}, wantBad: true},
		{in: `[] 2`, wantBad: true},
	}
	for _, tt := range tests {
		it := elements([]byte(tt.in))
		var got []string
		for e, ok := it.next(); ok; e, ok = it.next() {
			got = append(got, string(e))
		}
		if !slices.Equal(got, tt.want) || it.bad != tt.wantBad {
			t.Errorf("elements(%s) = %q, bad %v; want %q, bad %v", tt.in, got, it.bad, tt.want, tt.wantBad)
		}
	}
}

func TestMemberName(t *testing.T) {
	for raw, want := range map[string]string{
		`owner`:         "owner",
		`\u006fwner`:    "owner",
		`a\"b`:          `a"b`,
		`bad \x escape`: `bad \x escape`,
	} {
		if got := string(memberName([]byte(raw))); got != want {
			t.Errorf("memberName(%s) = %q; want %q", raw, got, want)
		}
	}
	doc := decodeTargetDoc(json.RawMessage(`{"\u006fwner":"p1","targets":[{"\u0069d":"a","value":{"tot\u0061l":2}}]}`))
	if doc.Owner != "p1" || len(doc.Targets) != 1 || doc.Targets[0].ID != "a" || doc.Targets[0].Total != 2 {
		t.Errorf("escaped keys: %+v", doc)
	}
}

func TestPlainStringAndInterner(t *testing.T) {
	for raw, want := range map[string]bool{
		`"abc"`: true, `""`: true, `"é"`: true,
		`"a\"b"`: false, `"a\nb"`: false, `abc`: false, `"abc`: false, "\"\xff\"": false, "\"a\x01\"": false,
	} {
		if _, ok := plainString([]byte(raw)); ok != want {
			t.Errorf("plainString(%q) ok = %v; want %v", raw, ok, want)
		}
	}
	in := interner{}
	a, _ := in.str([]byte(`"births"`))
	b, _ := in.str([]byte(`"births"`))
	if a != "births" || b != "births" || len(in) != 1 {
		t.Errorf("interner: %q %q %v", a, b, in)
	}
	if s, ok := in.str([]byte(`"tab\tbed"`)); !ok || s != "tab\tbed" {
		t.Errorf("interner escaped = %q, %v", s, ok)
	}
	if _, ok := in.str([]byte(`5`)); ok {
		t.Error("interner accepted a number")
	}
	var none interner
	if s, ok := none.str([]byte(`"x"`)); !ok || s != "x" {
		t.Errorf("nil interner = %q, %v", s, ok)
	}
}

func TestJSONNumber(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{in: "3", want: 3}, {in: " -2.5e1 ", want: -25}, {in: "0", want: 0},
		{in: `"3"`, wantErr: "not a number"}, {in: "true", wantErr: "not a number"}, {in: "", wantErr: "not a number"},
		{in: "1x", wantErr: "not a number"}, {in: "1e", wantErr: "not a number"}, {in: "--1", wantErr: "not a number"},
		{in: "1e400", wantErr: "out of range"},
	}
	for _, tt := range tests {
		got, err := jsonNumber([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("jsonNumber(%q) error = %v; want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("jsonNumber(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestReadLimited(t *testing.T) {
	if _, err := readLimited(strings.NewReader("12345"), 4); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("readLimited(too long) = %v", err)
	}
	if b, err := readLimited(strings.NewReader("1234"), 4); err != nil || string(b) != "1234" {
		t.Errorf("readLimited = %q, %v", b, err)
	}
	boom := errors.New("boom")
	if _, err := readLimited(iotest.ErrReader(boom), 4); !errors.Is(err, boom) {
		t.Errorf("readLimited(failing) = %v", err)
	}
}

func TestCallbackError(t *testing.T) {
	inner := errors.New("inner")
	e := callbackError{inner}
	if e.Error() != "inner" || !errors.Is(e, inner) {
		t.Errorf("callbackError = %v", e)
	}
}

// naiveStringStop is stringStop one byte at a time.
func naiveStringStop(b []byte, j int) int {
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
		j++
	}
	return j
}

func TestStringStop(t *testing.T) {
	tests := []struct {
		in   string
		from int
		want int
	}{
		{``, 0, 0},
		{`abc`, 0, 3},
		{`abcdefgh`, 0, 8},
		{`abcdefghij"`, 0, 10},
		{`abcdefg"ijklmnop`, 0, 7},
		{`"`, 0, 0},
		{`ab\"cdefghijklm`, 0, 2},
		{"abcdefghijk\x1fmn", 0, 11},
		{"abcdefghijk\x7fmn", 0, 14}, // DEL is plain
		{"ab\x00", 0, 2},
		{"aaaaaaa\x20\"", 0, 8}, // space is plain; the quote right after it
		{"é€😀aaaaaaaaaaaaa\"", 0, 22},
		{"\xff\xfe\xa0\x9f\x80\x81\x82\x83\"", 0, 8}, // high bytes never stop
		{`abc"defghijklmnopqrst"`, 4, 21},
		{`abc"defghijklmnopqrst"`, 22, 22},
	}
	for _, tt := range tests {
		if got := stringStop([]byte(tt.in), tt.from); got != tt.want {
			t.Errorf("stringStop(%q, %d) = %d; want %d", tt.in, tt.from, got, tt.want)
		}
		if got := naiveStringStop([]byte(tt.in), tt.from); got != tt.want {
			t.Errorf("naive(%q, %d) = %d; want %d (bad case)", tt.in, tt.from, got, tt.want)
		}
	}
	// Every single special byte at every position of a 24-byte run.
	for _, c := range []byte{'"', '\\', 0x00, 0x01, 0x10, 0x1f} {
		for pos := range 24 {
			b := []byte(strings.Repeat("x\x20\x7f\x80\xff", 5)[:24])
			b[pos] = c
			if got := stringStop(b, 0); got != pos {
				t.Errorf("stringStop with %#x at %d = %d", c, pos, got)
			}
		}
	}
}

func FuzzStringStop(f *testing.F) {
	f.Add([]byte(`abcdefghij"`), 0)
	f.Add([]byte("é\x1f\\\"abcdefghijklmnop"), 3)
	f.Fuzz(func(t *testing.T, b []byte, from int) {
		if from < 0 || from > len(b) {
			return
		}
		if got, want := stringStop(b, from), naiveStringStop(b, from); got != want {
			t.Fatalf("stringStop(%q, %d) = %d; want %d", b, from, got, want)
		}
	})
}
