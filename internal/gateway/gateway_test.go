package gateway

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/config"
)

// A provider that cannot be built (its API key variable unset) fails the
// start with an error that names it, rather than leaving the gateway
// without routes.
func TestFromConfigProviderError(t *testing.T) {
	cfg := config.DefaultWith(func(string) (string, bool) { return "", false })
	dir := t.TempDir()
	cfg.DataDir, cfg.Database = dir, "sqlite://"+filepath.Join(dir, "tollgate.db")
	cfg.Providers["claude"] = config.Provider{Type: config.ProviderAnthropic, APIKeyEnv: "TG_TEST_SURELY_UNSET_KEY"}
	t.Setenv("TG_TEST_SURELY_UNSET_KEY", "")
	_, err := FromConfig(context.Background(), cfg, slog.New(slog.DiscardHandler), BuildOptions{})
	if err == nil || !strings.Contains(err.Error(), "provider claude") {
		t.Fatalf("FromConfig = %v, want an error naming provider claude", err)
	}
}

func TestNeedsRestart(t *testing.T) {
	a := config.DefaultWith(func(string) (string, bool) { return "", false })
	b := config.DefaultWith(func(string) (string, bool) { return "", false })
	b.Listen = "0.0.0.0:4000"
	b.Models = append(b.Models, config.Model{Name: "x"}) // applied at run time: not listed
	b.Keys = []config.Key{{Name: "k", Secret: "s"}}
	if got, want := needsRestart(a, b), []string{"listen", "keys"}; !slices.Equal(got, want) {
		t.Errorf("needsRestart = %v, want %v", got, want)
	}
	if got := needsRestart(a, a); got != nil {
		t.Errorf("needsRestart(same) = %v, want none", got)
	}
}
