package test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/metrics"
)

// There is no Docker engine here, so the monitoring half of
// docker/docker-compose.yml is checked as files: the YAML and JSON parse,
// every mounted file exists, Prometheus scrapes the mediator's /metrics,
// Grafana's data source is the one the dashboard names, and every metric
// the dashboard queries is one the mediator exports.
func TestDocker_monitoringStack(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Volumes     []string          `yaml:"volumes"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   []string          `yaml:"depends_on"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	readYAML(t, "../docker/docker-compose.yml", &compose)
	for _, name := range []string{"prometheus", "grafana", "cht-dhis2-mediator"} {
		if _, ok := compose.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no %s service", name)
		}
	}
	for _, name := range []string{"prometheus", "grafana"} {
		for _, v := range compose.Services[name].Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("../docker", src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := compose.Volumes[src]; !ok {
				t.Errorf("%s mounts the volume %s, which docker-compose.yml does not declare", name, src)
			}
		}
	}
	if !slices.Contains(compose.Services["prometheus"].DependsOn, "cht-dhis2-mediator") || !slices.Contains(compose.Services["grafana"].DependsOn, "prometheus") {
		t.Error("prometheus must depend on the mediator and grafana on prometheus")
	}

	var prom struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "../docker/prometheus/prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 || prom.ScrapeConfigs[0].MetricsPath != "/metrics" || len(prom.ScrapeConfigs[0].StaticConfigs) != 1 ||
		!slices.Equal(prom.ScrapeConfigs[0].StaticConfigs[0].Targets, []string{"cht-dhis2-mediator:8544"}) {
		t.Errorf("prometheus.yml scrape config %+v; want /metrics of cht-dhis2-mediator:8544", prom.ScrapeConfigs)
	}

	var sources struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, "../docker/grafana/provisioning/datasources/prometheus.yml", &sources)
	if len(sources.Datasources) != 1 || sources.Datasources[0].Type != "prometheus" || sources.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("grafana data sources %+v; want the compose file's prometheus", sources.Datasources)
	}
	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "../docker/grafana/provisioning/dashboards/dashboards.yml", &providers)
	if len(providers.Providers) != 1 || !slices.Contains(compose.Services["grafana"].Volumes, "./grafana/dashboards:"+providers.Providers[0].Options.Path+":ro") {
		t.Errorf("grafana's dashboard provider reads %+v, which the compose file does not mount from ./grafana/dashboards", providers.Providers)
	}

	raw, err := os.ReadFile("../docker/grafana/dashboards/cht-dhis2-mediator.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exported := exportedMetricNames(t)
	used := map[string]bool{}
	name := regexp.MustCompile(metrics.Namespace + `_[a-z_]+`)
	for _, p := range dash.Panels {
		if p.Datasource.UID != sources.Datasources[0].UID {
			t.Errorf("panel %q uses data source %q; want %q", p.Title, p.Datasource.UID, sources.Datasources[0].UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, n := range name.FindAllString(q.Expr, -1) {
				used[n] = true
				if !exported[n] {
					t.Errorf("panel %q queries %s, which the mediator does not export", p.Title, n)
				}
			}
		}
	}
	// Every family the issue asks for is on the dashboard.
	for _, n := range []string{"exports_total", "export_duration_seconds_bucket", "export_values_total", "readiness_ratio",
		"circuit_breaker_state", "upstream_errors_total", "upstream_request_duration_seconds_bucket", "cht_docs_read_total",
		"openhim_registered", "openhim_last_heartbeat_timestamp_seconds"} {
		if !used[metrics.Namespace+"_"+n] {
			t.Errorf("the dashboard shows no %s", n)
		}
	}
}

// exportedMetricNames lists the series names the mediator's registry
// exports once every instrument has been used (histograms with their
// _bucket, _sum and _count series).
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New(metrics.Options{
		Breakers: func() map[string]string { return map[string]string{"cht": "closed"} },
		OpenHIM:  func() metrics.Health { return metrics.Health{Enabled: true} },
	})
	m.ObserveExport(metrics.ExportResult{DataSet: "ds", Outcome: metrics.OutcomeSuccessful, Ended: time.Now()})
	m.ObserveDocsRead("ds", 1)
	m.SetReadiness("ds", 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if resp, err := (&http.Client{Transport: m.Transport("cht", http.DefaultTransport)}).Get(srv.URL); err == nil {
		resp.Body.Close()
	}
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		out[mf.GetName()] = true
		if mf.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[mf.GetName()+s] = true
			}
		}
	}
	return out
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
