package dhis2

import (
	"slices"
	"strings"
)

// merger sums chunk results into the result of a whole push.
type merger struct {
	res      ImportResult
	n        int                 // values in the whole push
	rejected []bool              // by index into the push, allocated lazily
	byKey    map[conflictKey]int // conflict → index in res.Conflicts
	descs    []string
}

type conflictKey struct{ code, object, property, value string }

func newMerger(n int) *merger {
	return &merger{n: n, byKey: make(map[conflictKey]int)}
}

// add merges the result of the chunk of n values that starts at offset.
// DHIS2's indexes into the chunk become indexes into the push; a negative
// index (2.43's "the whole payload") and a conflict without indexes in a
// chunk rejected as a whole stand for every value of the chunk. Indexes
// beyond the chunk are a server bug and dropped, with a warning.
func (m *merger) add(r ImportResult, offset, n int, c *Client) {
	m.res.Chunks++
	if m.res.Status == "" {
		m.res.Status = r.Status
	} else {
		m.res.Status = worst(m.res.Status, r.Status)
	}
	m.res.Imported += r.Imported
	m.res.Updated += r.Updated
	m.res.Ignored += r.Ignored
	m.res.Deleted += r.Deleted
	if r.Description != "" && !slices.Contains(m.descs, r.Description) {
		m.descs = append(m.descs, r.Description)
	}
	whole := r.RejectedAsWhole()
	dropped := 0
	translate := func(idx []int) []int {
		var out []int
		all := false
		for _, i := range idx {
			switch {
			case i < 0:
				all = true
			case i < n:
				out = append(out, offset+i)
			default:
				dropped++
			}
		}
		if all {
			out = out[:0]
			for j := range n {
				out = append(out, offset+j)
			}
			return out
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	if whole {
		m.reject(offset, n)
	}
	for _, i := range translate(r.RejectedIndexes) {
		m.markRejected(i)
	}
	for _, cf := range r.Conflicts {
		idx := translate(cf.Indexes)
		if len(cf.Indexes) == 0 && whole {
			idx = translate([]int{-1})
		}
		for _, i := range idx {
			m.markRejected(i)
		}
		cf.Indexes = idx
		if len(idx) == 0 {
			m.res.Conflicts = append(m.res.Conflicts, cf)
			continue
		}
		k := conflictKey{cf.ErrorCode, cf.Object, cf.Property, cf.Value}
		if at, ok := m.byKey[k]; ok {
			prev := &m.res.Conflicts[at]
			prev.Indexes = append(prev.Indexes, idx...)
			slices.Sort(prev.Indexes)
			prev.Indexes = slices.Compact(prev.Indexes)
			continue
		}
		m.byKey[k] = len(m.res.Conflicts)
		m.res.Conflicts = append(m.res.Conflicts, cf)
	}
	if dropped > 0 && c != nil {
		c.log.Warn("dhis2 answered with indexes beyond the chunk; dropped", "dropped", dropped, "chunk_size", n)
	}
}

func (m *merger) reject(offset, n int) {
	for j := range n {
		m.markRejected(offset + j)
	}
}

func (m *merger) markRejected(i int) {
	if i < 0 || i >= m.n {
		return
	}
	if m.rejected == nil {
		m.rejected = make([]bool, m.n)
	}
	m.rejected[i] = true
}

// result returns the merged result so far.
func (m *merger) result() ImportResult {
	r := m.res
	if r.Status == "" && r.Chunks > 0 {
		r.Status = ImportSuccess
	}
	r.Description = strings.Join(m.descs, "; ")
	r.Conflicts = slices.Clone(m.res.Conflicts)
	r.RejectedIndexes = nil
	for i, rej := range m.rejected {
		if rej {
			r.RejectedIndexes = append(r.RejectedIndexes, i)
		}
	}
	return r
}
