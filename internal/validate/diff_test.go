package validate

import (
	"fmt"
	"slices"
	"testing"
)

func stored(de, ou, coc, v, by string) Stored {
	return Stored{DataElement: de, Period: "202401", OrgUnit: ou, CategoryOptionCombo: coc, AttributeOptionCombo: defaultCOC, Value: v, StoredBy: by}
}

func kinds(d Diff) []string {
	out := []string{}
	for _, c := range d.Changes {
		s := fmt.Sprintf("%s %s/%s %s→%s", c.Kind, c.OrgUnit, c.DataElement, c.Old, c.New)
		if c.StoredBy != "" {
			s += " by " + c.StoredBy
		}
		out = append(out, s)
	}
	return out
}

func TestCompare(t *testing.T) {
	md := chwMetadata()
	// deANC000001 stores no zeros (the default), deAGE000001 does.
	age := md.DataElements["deAGE000001"]
	age.ZeroIsSignificant = true
	md.DataElements["deAGE000001"] = age
	const me, clerk = "cht-mediator", "district-clerk"
	anc := func(ou, v string) Value { return val("deANC000001", "202401", ou, v) }
	ageV := func(ou, coc, v string) Value {
		x := val("deAGE000001", "202401", ou, v)
		x.CategoryOptionCombo = coc
		return x
	}

	tests := []struct {
		name     string
		produced []Value
		invalid  []Value // produced but not valid
		stored   []Stored
		opts     DiffOptions
		want     []string
		send     int
		delete   int
		counts   [5]int // new, changed, unchanged, deleted, kept
	}{
		{
			name:     "first push: all new, a zero DHIS2 does not store is unchanged",
			produced: []Value{anc("ouHC0000001", "3"), anc("ouHC0000002", "0"), ageV("ouHC0000001", "cocU5000001", "0")},
			opts:     DiffOptions{Owners: []string{me}, DeleteStale: true},
			want:     []string{"new ouHC0000001/deAGE000001 →0", "new ouHC0000001/deANC000001 →3"},
			send:     2, counts: [5]int{2, 0, 1, 0, 0},
		},
		{
			name:     "re-run: nothing to do; the default combo spelled out equals an empty one; 5.0 equals 5",
			produced: []Value{anc("ouHC0000001", "5"), anc("ouHC0000002", "0")},
			stored:   []Stored{stored("deANC000001", "ouHC0000001", defaultCOC, "5.0", me)},
			opts:     DiffOptions{Owners: []string{me}, DeleteStale: true},
			want:     []string{}, counts: [5]int{0, 0, 2, 0, 0},
		},
		{
			name:     "correction: changed, now zero (deleted), vanished (deleted), usernames without case",
			produced: []Value{anc("ouHC0000001", "4"), anc("ouHC0000002", "0")},
			stored: []Stored{
				stored("deANC000001", "ouHC0000001", defaultCOC, "5", "CHT-Mediator"),
				stored("deANC000001", "ouHC0000002", defaultCOC, "2", me),
				stored("deAGE000001", "ouHC0000001", "cocO5000001", "7", me),
			},
			opts: DiffOptions{Owners: []string{me}, DeleteStale: true},
			want: []string{"delete ouHC0000001/deAGE000001 7→", "changed ouHC0000001/deANC000001 5→4", "delete ouHC0000002/deANC000001 2→"},
			send: 1, delete: 2, counts: [5]int{0, 1, 0, 2, 0},
		},
		{
			name:     "deletion switched off: stale values are kept and listed",
			produced: []Value{anc("ouHC0000002", "0")},
			stored:   []Stored{stored("deANC000001", "ouHC0000002", defaultCOC, "2", me), stored("deANC000001", "ouHC0000001", defaultCOC, "9", me)},
			opts:     DiffOptions{Owners: []string{me}},
			want:     []string{"kept ouHC0000001/deANC000001 9→", "kept ouHC0000002/deANC000001 2→0"},
			counts:   [5]int{0, 0, 0, 0, 2},
		},
		{
			name:     "other users: never deleted, not overwritten by default, a value they hold elsewhere is ignored",
			produced: []Value{anc("ouHC0000001", "4"), anc("ouHC0000002", "0")},
			stored: []Stored{
				stored("deANC000001", "ouHC0000001", defaultCOC, "5", clerk),
				stored("deANC000001", "ouHC0000002", defaultCOC, "2", clerk),
				stored("deAGE000001", "ouHC0000001", "cocO5000001", "7", clerk),
			},
			opts:   DiffOptions{Owners: []string{me}, DeleteStale: true},
			want:   []string{"kept ouHC0000001/deANC000001 5→4 by district-clerk", "kept ouHC0000002/deANC000001 2→0 by district-clerk"},
			counts: [5]int{0, 0, 0, 0, 2},
		},
		{
			name:     "overwriting other users switched on: changed, stored by them; still never deleted",
			produced: []Value{anc("ouHC0000001", "4"), anc("ouHC0000002", "0")},
			stored:   []Stored{stored("deANC000001", "ouHC0000001", defaultCOC, "5", clerk), stored("deANC000001", "ouHC0000002", defaultCOC, "2", clerk)},
			opts:     DiffOptions{Owners: []string{me}, DeleteStale: true, OverwriteOthers: true},
			want:     []string{"changed ouHC0000001/deANC000001 5→4 by district-clerk", "kept ouHC0000002/deANC000001 2→0 by district-clerk"},
			send:     1, counts: [5]int{0, 1, 0, 0, 1},
		},
		{
			name:     "a value that failed a check is not stale",
			produced: []Value{},
			invalid:  []Value{anc("ouHC0000001", "x")},
			stored:   []Stored{stored("deANC000001", "ouHC0000001", defaultCOC, "5", me)},
			opts:     DiffOptions{Owners: []string{me}, DeleteStale: true},
			want:     []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Compare(md, slices.Concat(tc.produced, tc.invalid), tc.produced, tc.stored, tc.opts)
			if got := kinds(d); !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n got %q\nwant %q", got, tc.want)
			}
			if len(d.Send) != tc.send || len(d.Delete) != tc.delete {
				t.Errorf("send %d, delete %d; want %d, %d", len(d.Send), len(d.Delete), tc.send, tc.delete)
			}
			if got := [5]int{d.New, d.Changed, d.Unchanged, d.Deleted, d.Kept}; got != tc.counts {
				t.Errorf("counts (new, changed, unchanged, deleted, kept) = %v; want %v", got, tc.counts)
			}
			for _, v := range d.Delete {
				if v.Value == "" || v.CategoryOptionCombo == "" {
					t.Errorf("deletion %+v does not carry the stored value and combos", v)
				}
			}
		})
	}
}
