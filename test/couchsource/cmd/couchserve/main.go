// Command couchserve serves a generated CHT-shaped medic database (and its
// medic-logs) like CouchDB, for benchmarks and trying the mediator at
// national scale: it generates the data, prints the base URL on stdout and
// serves until interrupted. GET /_bench/stats answers the requests served
// so far (reads of the month, pages, rows) as JSON.
//
//	go run ./test/couchsource/cmd/couchserve [-chws 50000] [-month 2024-06] [-addr 127.0.0.1:0]
//
// The data is couchsource.National: 20 targets per CHW, five CHWs and a
// supervisor per CHW area, ten areas per health centre, ten health centres
// per district, a user-settings doc and a replication log per CHW, two
// reports per CHW. Districts and health centres map to DHIS2 org units of
// the data set couchsource.DataSet.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

func main() {
	chws := flag.Int("chws", 50_000, "number of CHWs")
	month := flag.String("month", "2024-06", "month of the target docs, YYYY-MM")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (port 0: a free port)")
	chunk := flag.Int("chunk", 0, "send rows in HTTP chunks of at most this many bytes, as CouchDB does (its chunked_response_buffer, 1490 by default); 0: 64 KiB writes")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := couchsource.National(*chws, *month)
	opts.ChunkSize = *chunk
	err := couchsource.Serve(ctx, opts, *addr, func(url string) {
		fmt.Println(url)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "couchserve: %v\n", err)
		os.Exit(1)
	}
}
