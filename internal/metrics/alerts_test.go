package metrics

import (
	"os"
	"regexp"
	"testing"

	"github.com/goccy/go-yaml"
)

// alertFiles are the Prometheus rule files prometheus.yml loads.
var alertFiles = []string{"../../deploy/prometheus/alerts.yml", "../../deploy/prometheus/budgets.yml"}

// TestAlertRulesUseExportedMetrics checks that every metric the Prometheus
// alert rules name is one the registry exports, so that a renamed metric
// cannot silence an alert.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	for _, alertsPath := range alertFiles {
		t.Run(alertsPath, func(t *testing.T) { checkAlertRules(t, alertsPath) })
	}
}

func checkAlertRules(t *testing.T, alertsPath string) {
	raw, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("parse %s: %v", alertsPath, err)
	}
	exported := exportedNames(t)
	name := regexp.MustCompile(`\b` + namespace + `_[a-z0-9_]+`)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v lacks a name or an expression", r)
			}
			for _, m := range name.FindAllString(r.Expr, -1) {
				if !exported[m] {
					t.Errorf("alert %s uses %s, which the registry does not export", r.Alert, m)
				}
			}
		}
	}
	if n == 0 {
		t.Errorf("%s has no rules", alertsPath)
	}
}
