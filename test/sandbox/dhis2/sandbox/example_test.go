package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
)

// An end-to-end test starts the sandbox behind an httptest server, points
// the client at it, and asserts on what DHIS2 answered and stored.
func Example() {
	f, err := os.Open("../testdata/metadata.json")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	md, err := sandbox.LoadMetadata(f)
	if err != nil {
		panic(err)
	}
	s, err := sandbox.New(sandbox.Options{
		Version: "2.40.3", Metadata: md, Username: "admin", Password: "district",
		Now: func() time.Time { return time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()

	body := `{"dataSet":"QX4ZTUbOt3a","dataValues":[
	  {"dataElement":"dGw6aXvDn1p","period":"202402","orgUnit":"Am7nP8qR9sT","value":"5"},
	  {"dataElement":"dGw6aXvDn1p","period":"202402","orgUnit":"Bk1uV2wX3yZ","value":"-1"}]}`
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/dataValueSets", strings.NewReader(body))
	req.SetBasicAuth("admin", "district")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()

	fmt.Println(res.StatusCode)
	for _, v := range s.Stored() {
		fmt.Println(v.DataElement, v.Period, v.OrgUnit, v.Value)
	}
	fmt.Println(len(s.Requests()), "request(s)")
	// Output:
	// 409
	// dGw6aXvDn1p 202402 Am7nP8qR9sT 5
	// 1 request(s)
}
