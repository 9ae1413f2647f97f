package sandbox_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
)

// An end-to-end test serves the core API and the router, lets the mediator
// register against the API, routes a client request through a channel to
// the mediator, and asserts on what core stored.
func Example() {
	s, err := sandbox.New(sandbox.Options{})
	if err != nil {
		panic(err)
	}
	api := httptest.NewServer(s.APIHandler()) // or httptest.NewTLSServer to test the CA handling
	defer api.Close()
	router := httptest.NewServer(s.RouterHandler())
	defer router.Close()

	// The mediator under test (here a stub answering an envelope).
	mediator := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json+openhim")
		io.WriteString(w, `{"x-mediator-urn":"urn:mediator:example","status":"Successful",
		  "response":{"status":200,"headers":{"Content-Type":"application/json"},"body":"{}","timestamp":"2025-01-10T09:15:02Z"},
		  "orchestrations":[{"name":"DHIS2 push","request":{"path":"/api/dataValueSets","method":"POST","timestamp":"2025-01-10T09:15:01Z"},
		    "response":{"status":200,"body":"{}","timestamp":"2025-01-10T09:15:02Z"}}]}`)
	}))
	defer mediator.Close()

	// Registration, as the mediator does at start-up.
	req, _ := http.NewRequest("POST", api.URL+"/mediators", strings.NewReader(`{"urn":"urn:mediator:example",
	  "version":"1.0.0","name":"Example","endpoints":[{"name":"Example","host":"localhost","port":8544,"primary":true}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(sandbox.DefaultRootUser, sandbox.DefaultRootPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println("register:", res.StatusCode)

	// A channel to the mediator and a client allowed to use it.
	host, p, _ := net.SplitHostPort(mediator.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	if err := s.AddClient(sandbox.ClientWithPassword("emr", "Clinic EMR", "emr-pass", "export")); err != nil {
		panic(err)
	}
	if err := s.AddChannel(sandbox.Channel{Name: "Export", URLPattern: "^/export$", Methods: []string{"POST"},
		Allow: []string{"export"}, Routes: []sandbox.Route{{Name: "Example", Host: host, Port: port, Primary: true}}}); err != nil {
		panic(err)
	}

	req, _ = http.NewRequest("POST", router.URL+"/export?period=202401", nil)
	req.SetBasicAuth("emr", "emr-pass")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println("client:", res.StatusCode)

	tx := s.Transactions()[0]
	fmt.Println("transaction:", tx.Status, tx.Request.Querystring)
	for _, o := range tx.Orchestrations {
		fmt.Println("orchestration:", o.Name)
	}
	// Output:
	// register: 201
	// client: 200
	// transaction: Successful period=202401
	// orchestration: DHIS2 push
	// orchestration: Example
}
