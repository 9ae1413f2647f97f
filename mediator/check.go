package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
)

// check is "mediator check": the preflight check of the configuration, CHT,
// DHIS2 and CHT's mappings against DHIS2's metadata. The report goes to
// stdout; exit 0 when every check passed (warnings allowed), 1 when any
// failed, 2 for bad arguments or configuration.
func (c *cli) check(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath, sets := commonFlags(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "Usage: mediator check [--json]")
		fmt.Fprintln(c.stderr, "Checks the configuration, that CHT and DHIS2 answer with the configured credentials, and every")
		fmt.Fprintln(c.stderr, "data set of CHT's dhis_data_sets against DHIS2's metadata. Exit 0 when every check passed")
		fmt.Fprintln(c.stderr, "(warnings allowed), 1 when any failed.")
		fs.PrintDefaults()
	}
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	cfg, log, ok := c.setup(*cfgPath, sets)
	if !ok {
		return exitUsage
	}
	rep, err := app.Check(ctx, cfg, *cfgPath, log)
	if err != nil {
		c.fail("configuration: %v", err)
		return exitUsage
	}
	if *asJSON {
		err = c.writeJSON(rep)
	} else {
		var buf strings.Builder
		if err = rep.WriteText(&buf); err == nil {
			_, err = io.WriteString(c.stdout, c.redactor().String(buf.String()))
		}
	}
	if err != nil {
		c.fail("check: write report: %v", err)
		return exitRun
	}
	if !rep.OK {
		c.fail("check failed: %d error(s); see the report", rep.Errors)
		return exitRun
	}
	return exitOK
}
