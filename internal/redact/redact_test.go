package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	r := New(
		Credential{Username: "medic", Secret: "s3cret-Passw0rd"},
		Credential{Username: "admin", Secret: "a"},
		Credential{Secret: "d2pat_0123456789abcdef"},
		Credential{Username: "dhis", Secret: "pw12"},
	)
	basicMedic := base64.StdEncoding.EncodeToString([]byte("medic:s3cret-Passw0rd"))
	basicA := base64.StdEncoding.EncodeToString([]byte("admin:a"))
	tests := []struct {
		name, in, want string
	}{
		{"long secret anywhere", "password was s3cret-Passw0rd!", "password was <redacted>!"},
		{"long secret inside a word", "xs3cret-Passw0rdx", "x<redacted>x"},
		{"url-escaped secret", "p=s3cret-Passw0rd", "p=<redacted>"},
		{"token", "token d2pat_0123456789abcdef used", "token <redacted> used"},
		{"ApiToken scheme", "Authorization: ApiToken d2pat_zzz", "Authorization: ApiToken <redacted>"},
		{"echoed basic pair without scheme", `{"auth":"` + basicMedic + `"}`, `{"auth":"<redacted>"}`},
		{"echoed basic header", `"authorization":["Basic ` + basicA + `"]`, `"authorization":["Basic <redacted>"]`},
		{"unknown basic credentials", "Authorization: Basic Zm9vOmJhcg==", "Authorization: Basic <redacted>"},
		{"unknown basic credentials without padding", "Basic Zm9vOmJhcg and more", "Basic <redacted> and more"},
		{"bearer", "Bearer eyJhbGciOi.x.y", "Bearer <redacted>"},
		{"realm is no credential", `Basic realm="cht", charset="UTF-8"`, `Basic realm="cht", charset="UTF-8"`},
		{"prose stays", "no basic auth credentials", "no basic auth credentials"},
		{"a name starting with Basic stays", `"name":"Basic Services Package"`, `"name":"Basic Services Package"`},
		{"one-character secret leaves paths alone", "GET /api/v1/settings application/json a", "GET /api/v1/settings application/json a"},
		{"short secret as a word", "the password pw12 is short", "the password <redacted> is short"},
		{"short secret inside a word stays", "apw12b /pw123", "apw12b /pw123"},
		{"url userinfo", "cht.url http://medic:x@cht:5984/medic is bad", "cht.url http://medic:<redacted>@cht:5984/medic is bad"},
		{"url userinfo without password", "https://tok@host/x", "https://<redacted>@host/x"},
		{"query parameter", "/x?user=a&password=hunter&b=1", "/x?user=a&password=<redacted>&b=1"},
		{"json member", `{"username":"u","password":"p\"q","x":1}`, `{"username":"u","password":"<redacted>","x":1}`},
		{"nothing", "plain text 123", "plain text 123"},
		{"already redacted parameter", "/x?password=<redacted>&b=1", "/x?password=<redacted>&b=1"},
		{"already redacted userinfo", "http://u:<redacted>@h/", "http://u:<redacted>@h/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNilRedactorAppliesPatterns(t *testing.T) {
	var r *Redactor
	if got := r.String("Basic Zm9vOmJhcg=="); got != "Basic <redacted>" {
		t.Errorf("got %q", got)
	}
	if got := r.Error(errors.New("http://u:p@h")); got != "http://u:<redacted>@h" {
		t.Errorf("got %q", got)
	}
	if got := r.Error(nil); got != "" {
		t.Errorf("got %q", got)
	}
}

func TestSetReplaces(t *testing.T) {
	r := New(Credential{Secret: "first-secret-1"})
	r.Set(Credential{Secret: "second-secret-2"})
	if got := r.String("first-secret-1 second-secret-2"); got != "first-secret-1 <redacted>" {
		t.Errorf("got %q", got)
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://medic:secret@cht:5984/": "http://medic:<redacted>@cht:5984/",
		"http://cht:5984/?token=abc":    "http://cht:5984/?token=<redacted>",
		"ht!tp://u:p@x y":               "ht!tp://u:<redacted>@x y",
		"http://cht:5984/medic":         "http://cht:5984/medic",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	r := New(Credential{Username: "medic", Secret: "s3cret-Passw0rd"})
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil), r)).With("url", "http://medic:s3cret-Passw0rd@cht")
	log.WithGroup("g").Error("failed with s3cret-Passw0rd", "err", errors.New("Basic Zm9vOmJhcg=="),
		"list", []string{"s3cret-Passw0rd"}, "n", 3, slog.Group("inner", "k", "s3cret-Passw0rd"))
	out := buf.String()
	if strings.Contains(out, "s3cret") || strings.Contains(out, "Zm9vOmJhcg") {
		t.Fatalf("log line leaks a secret: %s", out)
	}
	for _, want := range []string{`"msg":"failed with <redacted>"`, `"url":"http://medic:<redacted>@cht"`, `"n":3`, `"k":"<redacted>"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %s lacks %s", out, want)
		}
	}
}

// FuzzString checks, for any text and any secret, that nothing panics, that
// a long secret never survives, that an echoed basic pair never survives,
// and that text without a credential is returned as it is.
func FuzzString(f *testing.F) {
	f.Add("Authorization: Basic bWVkaWM6cGFzc3dvcmQ=", "medic", "password")
	f.Add("GET /api/v1/settings", "u", "a")
	f.Add("http://u:p@h/x?password=1", "u", "p")
	f.Add(`{"password":"x\"y"}`, "", "x\"y")
	f.Add("xxxxxxxxxxxxxxxx", "", "xxxxxxxx")
	f.Fuzz(func(t *testing.T, text, user, secret string) {
		r := New(Credential{Username: user, Secret: secret})
		text = text + " " + secret + " " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
		out := r.String(text)
		if strings.ContainsAny(secret, "<>") {
			return // the mask itself could form the secret again
		}
		if len(secret) >= MinAnywhere && strings.Contains(out, secret) {
			t.Errorf("String(%q) = %q keeps the secret %q", text, out, secret)
		}
		if user != "" && secret != "" {
			b64 := strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(user+":"+secret)), "=")
			if strings.Contains(out, b64) {
				t.Errorf("String(%q) = %q keeps the basic pair %q", text, out, b64)
			}
		}
	})
}

func FuzzPatternsPlainText(f *testing.F) {
	f.Add("hello world")
	f.Add("GET /api/v1/settings 200")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, `=@"`) || strings.Contains(s, "Basic") || strings.Contains(s, "Bearer") ||
			strings.Contains(s, "ApiToken") || strings.Contains(s, "Digest") {
			return
		}
		if got := New().String(s); got != s {
			t.Errorf("String(%q) = %q; text without a credential changed", s, got)
		}
	})
}

// FuzzPatternsKeepJSON checks that redacting valid JSON leaves valid JSON:
// an envelope's bodies stay readable.
func FuzzPatternsKeepJSON(f *testing.F) {
	f.Add(`{"password":"x\"y","token":"abc","url":"http://u:p@h/?token=1&a=2","auth":"Basic Zm9vOmJhcg=="}`)
	f.Add(`[{"pass":1},{"PASSWORD" : "v"}]`)
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		if out := New(Credential{Username: "medic", Secret: "s3cret-Passw0rd"}).String(s); !json.Valid([]byte(out)) {
			t.Errorf("String(%q) = %q: not JSON any more", s, out)
		}
	})
}
