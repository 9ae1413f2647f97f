package dhis2

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// lookupBatch is the number of ids asked for per metadata list request: 100
// uids make a query string of about 1.3 KB, well under every proxy's limit.
const lookupBatch = 100

// OrgUnits returns the org units among ids that exist in DHIS2 (and that
// the user may see), as id → name: GET /api/organisationUnits with
// filter=id:in:[…], fields=id,name and paging=false (DHIS2 Web API docs, metadata), in
// batches. Unlike Metadata it does not care about data set assignment, so
// it tells an org unit that does not exist from one that is not assigned.
// Ids that are not DHIS2 uids are never sent and never in the result.
func (c *Client) OrgUnits(ctx context.Context, ids []string) (map[string]string, error) {
	return c.lookup(ctx, "organisationUnits", "org units", ids)
}

// DataElements is OrgUnits for data elements (GET /api/dataElements).
func (c *Client) DataElements(ctx context.Context, ids []string) (map[string]string, error) {
	return c.lookup(ctx, "dataElements", "data elements", ids)
}

// CategoryOptionCombos is OrgUnits for category option combos (GET
// /api/categoryOptionCombos).
func (c *Client) CategoryOptionCombos(ctx context.Context, ids []string) (map[string]string, error) {
	return c.lookup(ctx, "categoryOptionCombos", "category option combos", ids)
}

// lookup asks collection for the well-formed, distinct ids, lookupBatch at
// a time, and returns those DHIS2 knows as id → name.
func (c *Client) lookup(ctx context.Context, collection, what string, ids []string) (map[string]string, error) {
	var ask []string
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if IsUID(id) && !seen[id] {
			seen[id] = true
			ask = append(ask, id)
		}
	}
	slices.Sort(ask)
	found := make(map[string]string, len(ask))
	for start := 0; start < len(ask); start += lookupBatch {
		batch := ask[start:min(start+lookupBatch, len(ask))]
		q := url.Values{
			"filter": {"id:in:[" + strings.Join(batch, ",") + "]"},
			"fields": {"id,name"},
			"paging": {"false"},
		}
		op := fmt.Sprintf("look up %d %s", len(batch), what)
		var list map[string]json.RawMessage
		if _, err := c.getJSON(ctx, op, c.endpoint(q, collection), &list); err != nil {
			return nil, err
		}
		raw, ok := list[collection]
		if !ok {
			return nil, fmt.Errorf("dhis2: %s: the answer has no %q list", op, collection)
		}
		var items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("dhis2: %s: decode answer: %w", op, err)
		}
		for _, it := range items {
			if slices.Contains(batch, it.ID) {
				found[it.ID] = it.Name
			}
		}
	}
	return found, nil
}
