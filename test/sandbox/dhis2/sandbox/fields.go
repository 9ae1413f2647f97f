package sandbox

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// node is a metadata object as the field filter sees it: ordered
// properties whose values are primitives, other nodes, or lists of either.
// Identifiable nodes (with an id) render as {"id": …} unless fields are
// asked for; embedded ones (dataSetElements, periods, …) render in full.
type node struct {
	kind     string
	id       string
	embedded bool
	props    []prop
}

type prop struct {
	name string
	val  any // nil, string, int, bool, []string, *node, []*node
}

func (n *node) add(name string, v any) { n.props = append(n.props, prop{name, v}) }

func (n *node) prop(name string) (any, bool) {
	for _, p := range n.props {
		if p.name == name {
			return p.val, true
		}
	}
	return nil, false
}

// fieldSpec is a parsed `fields=` parameter: a list of fields, each with
// an optional nested spec. "*" selects all.
type fieldSpec struct {
	all      bool
	fields   []fieldItem
	excluded map[string]bool
}

type fieldItem struct {
	name string
	sub  *fieldSpec // nil: no brackets
}

var presets = map[string][]string{
	":identifiable": {"id", "name", "code", "displayName", "created", "lastUpdated"},
	":nameable":     {"id", "name", "shortName", "code", "description", "displayName", "displayShortName", "created", "lastUpdated"},
}

// parseFields parses "a,b[c,d[e]],!f,*,:all" (brackets may also be
// parentheses, as DHIS2 allows).
func parseFields(s string) (*fieldSpec, error) {
	p := &fieldParser{s: s}
	spec, err := p.list()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.s) {
		return nil, fmt.Errorf("fields: unexpected %q at position %d", p.s[p.i], p.i)
	}
	return spec, nil
}

type fieldParser struct {
	s string
	i int
}

func (p *fieldParser) list() (*fieldSpec, error) {
	spec := &fieldSpec{excluded: map[string]bool{}}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ']' || c == ')' {
			break
		}
		if c == ',' || c == ' ' {
			p.i++
			continue
		}
		start := p.i
		for p.i < len(p.s) && !strings.ContainsRune(",[]() ", rune(p.s[p.i])) {
			p.i++
		}
		name := p.s[start:p.i]
		var sub *fieldSpec
		if p.i < len(p.s) && (p.s[p.i] == '[' || p.s[p.i] == '(') {
			p.i++
			var err error
			if sub, err = p.list(); err != nil {
				return nil, err
			}
			if p.i >= len(p.s) || (p.s[p.i] != ']' && p.s[p.i] != ')') {
				return nil, fmt.Errorf("fields: missing closing bracket for %q", name)
			}
			p.i++
		}
		switch {
		case name == "*" || name == ":all" || name == ":owner":
			spec.all = true
		case strings.HasPrefix(name, "!"):
			spec.excluded[name[1:]] = true
		case presets[name] != nil:
			for _, f := range presets[name] {
				spec.fields = append(spec.fields, fieldItem{name: f})
			}
		case name != "":
			// A transformer such as name~rename(x) is not supported;
			// the bare property is used.
			if i := strings.IndexByte(name, '~'); i >= 0 {
				name = name[:i]
			}
			spec.fields = append(spec.fields, fieldItem{name: name, sub: sub})
		}
	}
	return spec, nil
}

// render applies spec to n. A nil spec renders all properties with
// identifiable references collapsed to {"id": …}.
func render(n *node, spec *fieldSpec) obj {
	if spec == nil {
		spec = &fieldSpec{all: true}
	}
	out := obj{}
	for _, p := range n.props {
		if spec.excluded[p.name] {
			continue
		}
		var sub *fieldSpec
		selected := spec.all
		for _, f := range spec.fields {
			if f.name == p.name {
				selected, sub = true, f.sub
				break
			}
		}
		if !selected {
			continue
		}
		out = out.set(p.name, renderValue(p.val, sub))
	}
	return out
}

func renderValue(v any, sub *fieldSpec) any {
	switch x := v.(type) {
	case *node:
		return renderRef(x, sub)
	case []*node:
		list := make([]any, 0, len(x))
		for _, n := range x {
			list = append(list, renderRef(n, sub))
		}
		return list
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return v
}

func renderRef(n *node, sub *fieldSpec) any {
	if n == nil {
		return nil
	}
	if sub == nil && !n.embedded {
		return obj{{"id", n.id}}
	}
	return render(n, sub)
}

// filter is one `filter=path:op[:value]` of a metadata list query.
type filter struct {
	path  []string
	op    string
	value string
}

func parseFilter(s string) (filter, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 || parts[0] == "" {
		return filter{}, fmt.Errorf("invalid filter %q: want property:operator:value", s)
	}
	f := filter{path: strings.Split(parts[0], "."), op: parts[1]}
	if len(parts) == 3 {
		f.value = parts[2]
	}
	switch f.op {
	case "eq", "!eq", "ne", "neq", "in", "!in", "like", "!like", "ilike", "!ilike", "$like", "$ilike",
		"like$", "ilike$", "null", "!null", "empty", "gt", "ge", "lt", "le":
	default:
		return filter{}, fmt.Errorf("invalid filter %q: unknown operator %q", s, f.op)
	}
	return f, nil
}

// values collects the primitive values at path below n, flattening lists.
func values(n *node, path []string) []string {
	v, ok := n.prop(path[0])
	if !ok {
		if path[0] == "id" {
			v, ok = n.id, true
		} else {
			return nil
		}
	}
	rest := path[1:]
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case nil:
		case *node:
			if x == nil {
				return
			}
			if len(rest) == 0 {
				out = append(out, x.id)
			} else {
				out = append(out, values(x, rest)...)
			}
		case []*node:
			for _, e := range x {
				walk(e)
			}
		case []string:
			out = append(out, x...)
		default:
			if len(rest) == 0 {
				out = append(out, fmt.Sprint(x))
			}
		}
	}
	walk(v)
	return out
}

func (f filter) match(n *node) bool {
	vals := values(n, f.path)
	any := func(pred func(string) bool) bool { return slices.ContainsFunc(vals, pred) }
	lower := strings.ToLower(f.value)
	switch f.op {
	case "eq":
		return any(func(v string) bool { return v == f.value })
	case "!eq", "ne", "neq":
		return !any(func(v string) bool { return v == f.value })
	case "in", "!in":
		set := strings.Split(strings.Trim(f.value, "[]"), ",")
		in := any(func(v string) bool { return slices.Contains(set, v) })
		return in == (f.op == "in")
	case "like":
		return any(func(v string) bool { return strings.Contains(v, f.value) })
	case "!like":
		return !any(func(v string) bool { return strings.Contains(v, f.value) })
	case "ilike":
		return any(func(v string) bool { return strings.Contains(strings.ToLower(v), lower) })
	case "!ilike":
		return !any(func(v string) bool { return strings.Contains(strings.ToLower(v), lower) })
	case "$like":
		return any(func(v string) bool { return strings.HasPrefix(v, f.value) })
	case "$ilike":
		return any(func(v string) bool { return strings.HasPrefix(strings.ToLower(v), lower) })
	case "like$":
		return any(func(v string) bool { return strings.HasSuffix(v, f.value) })
	case "ilike$":
		return any(func(v string) bool { return strings.HasSuffix(strings.ToLower(v), lower) })
	case "null", "empty":
		return len(vals) == 0
	case "!null":
		return len(vals) > 0
	case "gt", "ge", "lt", "le":
		want, err := strconv.ParseFloat(f.value, 64)
		if err != nil {
			return false
		}
		return any(func(v string) bool {
			got, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return false
			}
			switch f.op {
			case "gt":
				return got > want
			case "ge":
				return got >= want
			case "lt":
				return got < want
			}
			return got <= want
		})
	}
	return false
}

// listQuery answers a metadata collection request (`/api/dataElements`…):
// filter (with rootJunction), paging, fields (default id,displayName).
func listQuery(nodes []*node, collection string, q url.Values, requestURL *url.URL) (obj, error) {
	var filters []filter
	for _, s := range q["filter"] {
		f, err := parseFilter(s)
		if err != nil {
			return nil, err
		}
		filters = append(filters, f)
	}
	or := strings.EqualFold(q.Get("rootJunction"), "OR")
	var matched []*node
	for _, n := range nodes {
		ok := !or || len(filters) == 0
		for _, f := range filters {
			if or {
				ok = ok || f.match(n)
			} else {
				ok = ok && f.match(n)
			}
		}
		if ok {
			matched = append(matched, n)
		}
	}
	fieldsParam := strings.Join(q["fields"], ",")
	if fieldsParam == "" {
		fieldsParam = "id,displayName"
	}
	spec, err := parseFields(fieldsParam)
	if err != nil {
		return nil, err
	}
	out := obj{}
	page := matched
	if q.Get("paging") != "false" {
		pageNo := atoiDefault(q.Get("page"), 1)
		size := atoiDefault(q.Get("pageSize"), 50)
		if pageNo < 1 {
			pageNo = 1
		}
		if size < 1 {
			size = 50
		}
		total := len(matched)
		pageCount := (total + size - 1) / size
		pager := obj{{"page", pageNo}, {"total", total}, {"pageSize", size}, {"pageCount", pageCount}}
		if pageNo < pageCount {
			next := *requestURL
			nq := next.Query()
			nq.Set("page", strconv.Itoa(pageNo+1))
			next.RawQuery = nq.Encode()
			pager = pager.set("nextPage", next.String())
		}
		if pageNo > 1 && pageNo <= pageCount+1 {
			prev := *requestURL
			pq := prev.Query()
			pq.Set("page", strconv.Itoa(pageNo-1))
			prev.RawQuery = pq.Encode()
			pager = pager.set("prevPage", prev.String())
		}
		out = out.set("pager", pager)
		from := min((pageNo-1)*size, total)
		page = matched[from:min(from+size, total)]
	}
	list := make([]obj, 0, len(page))
	for _, n := range page {
		list = append(list, render(n, spec))
	}
	return out.set(collection, list), nil
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
