package cht_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

// A bare CouchDB (no CHT API in front) holding the settings doc and one
// target doc of June 2024.
func fakeCouchDB() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/settings":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"not_found","reason":"Database does not exist."}`)
		case "/medic/settings":
			fmt.Fprint(w, `{"_id":"settings","settings":{
				"dhis_data_sets":[{"id":"VMuFODsyWaO","translation_key":"dhis.dataset.monthly"}],
				"tasks":{"targets":{"items":[
					{"id":"births-this-month","type":"count","dhis":{"dataElement":"kB0ZBFisE0e"}},
					{"id":"facility-deliveries","type":"percent","dhis":{"dataSet":"VMuFODsyWaO","dataElement":"e22tIwy1nKR",
						"categoryOptionCombo":"HllvX50cXC0","attributeOptionCombo":"HllvX50cXC0"}}]}}}}`)
		case "/medic/_all_docs":
			fmt.Fprint(w, `{"total_rows":1,"offset":0,"rows":[{"id":"target~2024-06~p1~org.couchdb.user:amina",
				"key":"target~2024-06~p1~org.couchdb.user:amina","value":{"rev":"3-a"},
				"doc":{"_id":"target~2024-06~p1~org.couchdb.user:amina","type":"target","owner":"p1",
					"updated_date":1718236800000,"targets":[
						{"id":"births-this-month","value":{"pass":3,"total":3}},
						{"id":"facility-deliveries","value":{"pass":2,"total":5,"percent":40}}]}}]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"not_found","reason":"missing"}`)
		}
	}))
}

func Example() {
	srv := fakeCouchDB()
	defer srv.Close()

	cfg := config.Default().CHT
	cfg.URL = srv.URL
	c, err := cht.New(cfg, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	settings, err := c.Settings(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range settings.Targets {
		m := t.DHIS[0]
		fmt.Printf("target %s → data element %s", t.ID, m.DataElement)
		if m.CategoryOptionCombo != "" {
			fmt.Printf(", COC %s", m.CategoryOptionCombo)
		}
		fmt.Println()
	}

	n, err := c.TargetDocs(ctx, "2024-06", func(doc aggregate.TargetDoc) error {
		for _, t := range doc.Targets {
			fmt.Printf("owner %s: %s total %g\n", doc.Owner, t.ID, t.Total)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, "target doc(s)")
	// Output:
	// target births-this-month → data element kB0ZBFisE0e
	// target facility-deliveries → data element e22tIwy1nKR, COC HllvX50cXC0
	// owner p1: births-this-month total 3
	// owner p1: facility-deliveries total 5
	// 1 target doc(s)
}
