package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/hugepages"
)

// Exit codes.
const (
	exitOK    = 0
	exitRun   = 1 // the command ran and failed: an upstream error, a failed push
	exitUsage = 2 // bad arguments or configuration
	// exitNotReady: the month does not pass the readiness gate (mediator
	// readiness), or an export was held back by it.
	exitNotReady = 3
)

const usage = `mediator moves CHT target data into DHIS2, behind OpenHIM.

Usage:
  mediator serve [--check-config]
  mediator preview --data-set ID --period YYYYMM [--org-unit ID] [--children] [--human-readable]
  mediator export  --data-set ID --period YYYYMM [--org-unit ID] [--children] [--dry-run [--json]] [--force]
  mediator readiness --data-set ID --period YYYYMM [--org-unit ID] [--children] [--json]
  mediator check [--json]
  mediator version

Every command takes --config FILE (YAML) and --set key=value (repeatable),
which override the file and MEDIATOR_* environment variables.
Run "mediator COMMAND --help" for a command's flags.
`

type cli struct {
	stdout, stderr io.Writer
	// red redacts the credentials of the loaded config (setup) from what
	// the commands print; before setup, the rules that need none.
	red interface{ String(string) string }
	// heap, when set, prepares the heap of a one-shot build (preview,
	// export, readiness) once the configuration is loaded: main sets it
	// to mark the heap for huge pages (hugepages.Heap); tests leave it nil.
	heap func() (hugepages.Result, error)
}

// run executes one command and returns the process exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return c.serve(ctx, args[1:])
	case "preview":
		return c.preview(ctx, args[1:])
	case "export":
		return c.export(ctx, args[1:])
	case "readiness":
		return c.readiness(ctx, args[1:])
	case "check":
		return c.check(ctx, args[1:])
	case "version", "--version", "-version":
		return c.version(args[1:])
	case "help", "--help", "-h", "-help":
		fmt.Fprint(c.stdout, usage)
		return exitOK
	}
	c.fail("unknown command %q (run \"mediator help\")", args[0])
	return exitUsage
}

func (c *cli) version(args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "Usage: mediator version")
		fmt.Fprintln(c.stderr, "Prints the mediator's version (the one it registers with OpenHIM core).")
	}
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	fmt.Fprintln(c.stdout, version)
	return exitOK
}

func (c *cli) fail(format string, a ...any) {
	msg := c.redactor().String(fmt.Sprintf(format, a...))
	// One clear sentence: join multi-line (errors.Join) messages.
	msg = strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ")
	fmt.Fprintln(c.stderr, "mediator: "+msg)
}

// setFlags is a repeatable --set key=value flag.
type setFlags map[string]string

func (s setFlags) String() string { return "" }

func (s setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	s[strings.TrimSpace(k)] = val
	return nil
}

// commonFlags registers --config and --set on fs.
func commonFlags(fs *flag.FlagSet) (*string, setFlags) {
	path := fs.String("config", "", "YAML configuration `file`")
	sets := setFlags{}
	fs.Var(sets, "set", "override a config `key=value` (repeatable), e.g. --set cht.url=http://localhost:5984")
	return path, sets
}

// parse parses a command's flags; ok is false when run should return code.
func (c *cli) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	fs.SetOutput(c.stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		c.fail("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}

func (c *cli) loadConfig(path string, sets setFlags) (config.Config, error) {
	src := config.Sources{Flags: sets}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return config.Config{}, fmt.Errorf("open config file: %w", err)
		}
		defer f.Close()
		src.File, src.FileName = f, path
	}
	return config.Load(src)
}

func (c *cli) preview(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("preview", flag.ContinueOnError)
	cfgPath, sets := commonFlags(fs)
	buildArgs := buildFlags(fs)
	human := fs.Bool("human-readable", false, "label with CHT names instead of DHIS2 ids (not importable)")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "Usage: mediator preview --data-set ID --period YYYYMM [--org-unit ID] [--children] [--human-readable]")
		fmt.Fprintln(c.stderr, "Reads CHT only and prints the DHIS2 dataValueSet JSON; problems go to stderr.")
		fs.PrintDefaults()
	}
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	build := buildArgs()
	build.HumanReadable = *human
	req, svc, ok := c.prepare("preview", build, *cfgPath, sets, false)
	if !ok {
		return exitUsage
	}
	p, err := svc.Preview(ctx, req)
	if err != nil {
		return c.failed("preview", err)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(c.stderr, "problem: %s: %s\n", pr.Code, pr.Message)
	}
	if p.Readiness != nil {
		fmt.Fprint(c.stderr, p.Readiness.Summary(p.Set.Period))
		if !p.Readiness.Ready {
			fmt.Fprintf(c.stderr, "warning: month %s is not ready (%s); an export would not push it without --force\n", p.Set.Period, p.Readiness.Message)
		}
	}
	if err := p.Set.WriteJSON(c.stdout); err != nil {
		c.fail("preview: write output: %v", err)
		return exitRun
	}
	return exitOK
}

func (c *cli) export(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	cfgPath, sets := commonFlags(fs)
	buildArgs := buildFlags(fs)
	dryRun := fs.Bool("dry-run", false, "ask DHIS2 to validate and count without saving; prints a table of the changes")
	asJSON := fs.Bool("json", false, "with --dry-run: print the report JSON instead of the table")
	force := fs.Bool("force", false, "push even when the month is not ready (not ended, no target doc, too few CHWs synced)")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "Usage: mediator export --data-set ID --period YYYYMM [--org-unit ID] [--children] [--dry-run [--json]] [--force]")
		fmt.Fprintln(c.stderr, "Reads CHT, validates every value against DHIS2's metadata, pushes the valid ones and prints the report.")
		fmt.Fprintln(c.stderr, "Exit 0 only when DHIS2 imported every value without a conflict; 3 when the month is not ready and nothing was pushed.")
		fs.PrintDefaults()
	}
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	req, svc, ok := c.prepare("export", buildArgs(), *cfgPath, sets, true)
	if !ok {
		return exitUsage
	}
	rep, err := svc.Export(ctx, app.ExportRequest(req, *dryRun, *force))
	if nr := app.NotReady(err); nr != nil {
		fmt.Fprint(c.stderr, nr.Readiness.Summary(nr.Period))
		if err := c.writeJSON(nr.Report); err != nil {
			c.fail("export: write report: %v", err)
			return exitRun
		}
		c.fail("%v: nothing was sent to DHIS2 (--force pushes anyway)", err)
		return exitNotReady
	}
	if err != nil {
		return c.failed("export", err)
	}
	if rep.Readiness != nil {
		fmt.Fprint(c.stderr, rep.Readiness.Summary(rep.Period))
	}
	if rep.Forced {
		fmt.Fprintf(c.stderr, "warning: forced past the readiness gate: month not ready: %s\n", rep.ForcedPast)
	}
	write := c.writeJSON
	if *dryRun && !*asJSON {
		write = func(any) error { return writeDryRun(c.stdout, rep) }
	}
	if err := write(rep); err != nil {
		c.fail("export: write report: %v", err)
		return exitRun
	}
	if rep.Status != app.StatusSuccessful {
		msg := rep.Status
		if rep.Error != "" {
			msg += ": " + rep.Error
		}
		c.fail("export %s %s: %s (see the report's problems)", rep.DataSet, rep.Period, msg)
		return exitRun
	}
	return exitOK
}

// buildFlags registers the flags that name a data value set and returns
// what they were set to.
func buildFlags(fs *flag.FlagSet) func() app.BuildArgs {
	dataSet := fs.String("data-set", "", "DHIS2 data set `id`, as in CHT's dhis_data_sets (required)")
	period := fs.String("period", "", "month to export, `YYYYMM` (required)")
	orgUnit := fs.String("org-unit", "", "only this DHIS2 org unit `id`")
	children := fs.Bool("children", false, "with --org-unit: also every mapped org unit below it")
	return func() app.BuildArgs {
		return app.BuildArgs{DataSet: *dataSet, Period: *period, OrgUnit: *orgUnit, Children: *children}
	}
}

// prepare checks the build arguments of command cmd, loads the
// configuration and builds the export service (with DHIS2 when withDHIS2):
// what preview, export and readiness share. ok is false (and the error
// reported, a usage error) when the arguments or the configuration are bad.
func (c *cli) prepare(cmd string, build app.BuildArgs, path string, sets setFlags, withDHIS2 bool) (app.Request, *app.Service, bool) {
	req, err := build.Request()
	if err != nil {
		c.fail("%s: %v", cmd, err)
		return app.Request{}, nil, false
	}
	cfg, log, ok := c.setup(path, sets)
	if !ok {
		return app.Request{}, nil, false
	}
	if c.heap != nil {
		r, err := c.heap()
		if err != nil {
			log.Warn("cannot mark the heap for huge pages; the build runs without them", "err", err)
		} else {
			log.Debug("heap and transparent huge pages", "thp_mode", r.Mode, "marked_mib", r.Advised>>20, "skipped", r.Skipped)
		}
	}
	svc, err := app.NewExportService(cfg, log, withDHIS2)
	if err != nil {
		c.fail("configuration: %v", err)
		return app.Request{}, nil, false
	}
	return req, svc, true
}

// setup loads the configuration and builds the logger; ok is false (and the
// error reported) when the configuration is bad.
func (c *cli) setup(path string, sets setFlags) (config.Config, *slog.Logger, bool) {
	cfg, err := c.loadConfig(path, sets)
	if err != nil {
		c.fail("configuration: %v", err)
		return config.Config{}, nil, false
	}
	red := app.NewRedactor(cfg)
	c.red = red
	return cfg, app.NewLogger(cfg.Log, c.stderr, red), true
}

// redactor is c.red, or one without configured credentials.
func (c *cli) redactor() interface{ String(string) string } {
	if c.red == nil {
		c.red = app.NewRedactor()
	}
	return c.red
}

// failed reports a command's error; the exit code says whether the request
// itself was wrong.
func (c *cli) failed(cmd string, err error) int {
	c.fail("%s: %v", cmd, err)
	if app.IsInputError(err) {
		return exitUsage
	}
	return exitRun
}

// writeJSON prints v, indented, on stdout, redacted (a report quotes
// upstream answers).
func (c *cli) writeJSON(v any) error {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(c.stdout, c.redactor().String(buf.String()))
	return err
}

func (c *cli) readiness(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("readiness", flag.ContinueOnError)
	cfgPath, sets := commonFlags(fs)
	buildArgs := buildFlags(fs)
	asJSON := fs.Bool("json", false, "print the readiness object as JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "Usage: mediator readiness --data-set ID --period YYYYMM [--org-unit ID] [--children] [--json]")
		fmt.Fprintln(c.stderr, "Reads CHT only and tells which CHWs have synced the month since it ended.")
		fmt.Fprintln(c.stderr, "Exit 0 when the month passes the readiness gate (export.min_ready), 3 when it does not.")
		fs.PrintDefaults()
	}
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	req, svc, ok := c.prepare("readiness", buildArgs(), *cfgPath, sets, false)
	if !ok {
		return exitUsage
	}
	r, err := svc.Readiness(ctx, req)
	if err != nil {
		return c.failed("readiness", err)
	}
	if *asJSON {
		err = c.writeJSON(r)
	} else {
		_, err = fmt.Fprint(c.stdout, r.Table(req.DataSet, req.Period.Period()))
	}
	if err != nil {
		c.fail("readiness: write output: %v", err)
		return exitRun
	}
	if !r.Ready {
		return exitNotReady
	}
	return exitOK
}
