package sandbox

import (
	"encoding/json"
	"testing"
)

func TestRender(t *testing.T) {
	child := &node{kind: "X", id: "c1"}
	child.add("id", "c1")
	child.add("name", "Child")
	emb := &node{kind: "E", embedded: true}
	emb.add("ref", child)
	emb.add("n", 3)
	root := &node{kind: "X", id: "r1"}
	root.add("id", "r1")
	root.add("name", "Root")
	root.add("code", "R")
	root.add("child", child)
	root.add("list", []*node{child})
	root.add("embedded", []*node{emb})
	root.add("tags", []string{"a"})
	tests := []struct{ fields, want string }{
		{"", `{"id":"r1","name":"Root","code":"R","child":{"id":"c1"},"list":[{"id":"c1"}],"embedded":[{"ref":{"id":"c1"},"n":3}],"tags":["a"]}`},
		{"id,name", `{"id":"r1","name":"Root"}`},
		{"name,id", `{"id":"r1","name":"Root"}`},
		{"child[name],list[*]", `{"child":{"name":"Child"},"list":[{"id":"c1","name":"Child"}]}`},
		{"embedded[ref[name]]", `{"embedded":[{"ref":{"name":"Child"}}]}`},
		{"embedded", `{"embedded":[{"ref":{"id":"c1"},"n":3}]}`},
		{"*,!list,!embedded,!tags", `{"id":"r1","name":"Root","code":"R","child":{"id":"c1"}}`},
		{"child(id,name)", `{"child":{"id":"c1","name":"Child"}}`},
		{"unknown,id", `{"id":"r1"}`},
		{":identifiable", `{"id":"r1","name":"Root","code":"R"}`},
	}
	for _, tt := range tests {
		var spec *fieldSpec
		if tt.fields != "" {
			var err error
			if spec, err = parseFields(tt.fields); err != nil {
				t.Fatalf("parseFields(%q): %v", tt.fields, err)
			}
		}
		b, _ := json.Marshal(render(root, spec))
		if string(b) != tt.want {
			t.Errorf("fields=%s:\n got %s\nwant %s", tt.fields, b, tt.want)
		}
	}
	for _, bad := range []string{"a[b", "a]"} {
		if _, err := parseFields(bad); err == nil {
			t.Errorf("parseFields(%q) succeeded; want an error", bad)
		}
	}
}

func TestFilter(t *testing.T) {
	ds := &node{kind: "DataSet", id: "ds1"}
	ds.add("id", "ds1")
	dse := &node{kind: "DataSetElement", embedded: true}
	dse.add("dataSet", ds)
	de := &node{kind: "DataElement", id: "de1"}
	de.add("id", "de1")
	de.add("name", "Malaria Cases")
	de.add("zeroIsSignificant", false)
	de.add("dataSetElements", []*node{dse})
	tests := []struct {
		filter string
		want   bool
	}{
		{"dataSetElements.dataSet.id:eq:ds1", true},
		{"dataSetElements.dataSet.id:eq:ds2", false},
		{"dataSetElements.dataSet.id:in:[ds2,ds1]", true},
		{"id:!eq:de1", false},
		{"name:ilike:malaria", true},
		{"name:like:malaria", false},
		{"name:$like:Mal", true},
		{"zeroIsSignificant:eq:false", true},
		{"code:null", true},
		{"name:!null", true},
	}
	for _, tt := range tests {
		f, err := parseFilter(tt.filter)
		if err != nil {
			t.Fatalf("parseFilter(%q): %v", tt.filter, err)
		}
		if got := f.match(de); got != tt.want {
			t.Errorf("filter %s = %v; want %v", tt.filter, got, tt.want)
		}
	}
}
