package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
)

var (
	_ export.CHTInspector   = (*cht.Client)(nil)
	_ export.DHIS2Inspector = (*dhis2.Client)(nil)
)

// Check runs the preflight check of cfg (mediator check). configFile is the
// file cfg was loaded from, "" for none; it is only shown in the report.
// An error means the configuration lacks what the check needs (the CHT or
// DHIS2 keys); everything found upstream is in the report, whose OK says
// whether every check passed.
func Check(ctx context.Context, cfg config.Config, configFile string, log *slog.Logger) (*export.CheckReport, error) {
	if err := errors.Join(cfg.RequireCHT(), cfg.RequireDHIS2()); err != nil {
		return nil, err
	}
	breakers := breaker.NewRegistry(log)
	chtClient, err := newCHTClient(cfg, breakers.For, log, nil)
	if err != nil {
		return nil, err
	}
	dhis2Client, err := newDHIS2Client(cfg, breakers.For, log, nil)
	if err != nil {
		return nil, err
	}
	return export.Check(ctx, chtClient, dhis2Client, export.CheckOptions{
		ConfigFile:  configFile,
		CHTURL:      cfg.CHT.URL,
		CHTDatabase: cfg.CHT.Database,
		DHIS2URL:    cfg.DHIS2.URL,
	}), nil
}
