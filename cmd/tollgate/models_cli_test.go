package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/testutil"
)

// TestModelsCLI: add, list, update, test and remove a runtime model with
// the CLI against a real gateway; the model is served between add and
// remove. Tables are golden.
func TestModelsCLI(t *testing.T) {
	g := startGateway(t, testutil.WithConfig(func(c *config.Config) {
		c.Models = append(c.Models, config.Model{Name: "file-sonnet",
			Targets: []config.Target{{Provider: "bedrock", Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}}})
	}))

	if m := g.call(t, testStaticKey, "team-haiku", "hi"); m.status != 404 {
		t.Fatalf("team-haiku before add = %d", m.status)
	}
	add := mustCLI(t, "models", "add", "team-haiku", "--strategy", "weighted",
		"--target", "bedrock=us.anthropic.claude-haiku-4-5-20251001-v1:0,weight=3",
		"--target", "bedrock=global.anthropic.claude-haiku-4-5-20251001-v1:0,weight=1,max_concurrent=4",
		"--price-input", "0.8", "--price-output", "4")
	golden(t, "models_add", add)
	if m := g.call(t, testStaticKey, "team-haiku", "hi"); m.status != 200 {
		t.Errorf("team-haiku after add = %d %s", m.status, m.body)
	}
	mustCLI(t, "models", "add", "FILE-SONNET", "--target", "bedrock=us.anthropic.claude-opus-4-1-20250805-v1:0")
	golden(t, "models_list_database", mustCLI(t, "models", "list", "--source", "database"))
	golden(t, "models_list_file", mustCLI(t, "models", "list", "--source", "file"))

	var listed struct {
		Models []struct{ Name, Source string } `json:"models"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "models", "list", "--json")), &listed); err != nil || len(listed.Models) < 4 {
		t.Errorf("models list --json = %+v, %v", listed, err)
	}

	golden(t, "models_update", mustCLI(t, "models", "update", "team-haiku", "--no-price", "--strategy", "ordered",
		"--target", "bedrock=us.anthropic.claude-haiku-4-5-20251001-v1:0"))

	out := mustCLI(t, "models", "test", "team-haiku")
	wantContains(t, "models test", out, "result:", "OK", "target:", "bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0", "status:", "200", "upstream id:")
	out, _, err := cli(t, "models", "test", "no-such-model")
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, "client:") {
		t.Errorf("models test no-such-model = %v\n%s", err, out)
	}

	for _, bad := range [][]string{
		{"models", "add", "x", "--target", "nope=us.anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"models", "add", "x", "--target", "bedrock"},
		{"models", "add", "x"},
		{"models", "update", "team-haiku"},
	} {
		if _, _, err := cli(t, bad...); err == nil {
			t.Errorf("tollgate %s succeeded, want an error", strings.Join(bad, " "))
		}
	}

	// A file model is changed in the file, not through the API.
	mustCLI(t, "models", "remove", "FILE-SONNET")
	if _, _, err := cli(t, "models", "update", "file-sonnet", "--display-name", "x"); err == nil || !strings.Contains(err.Error(), "comes from the config file") {
		t.Errorf("models update of a file model = %v, want it refused with where to change it", err)
	}

	wantContains(t, "models remove", mustCLI(t, "models", "remove", "team-haiku"), `Removed model "team-haiku"`)
	if m := g.call(t, testStaticKey, "team-haiku", "hi"); m.status != 404 {
		t.Errorf("team-haiku after remove = %d", m.status)
	}
}

// FuzzParseTarget: --target never panics, and what it accepts names a
// provider and an upstream id and only known options.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"bedrock=us.anthropic.claude-sonnet-4-5-20250929-v1:0", "east=x,weight=3,max_concurrent=4,queue_timeout_ms=10",
		"bedrock", "=x", "a=b,weight=-1", "a=b,colour=red", "a=b,,weight=2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := parseTarget(s)
		if err != nil {
			return
		}
		if tg.Provider == "" || tg.Model == "" || strings.Contains(tg.Model, ",") {
			t.Errorf("parseTarget(%q) = %+v: accepted without a provider or id", s, tg)
		}
		if (tg.Weight != nil && *tg.Weight < 0) || tg.MaxConcurrent < 0 || tg.QueueTimeoutMS < 0 {
			t.Errorf("parseTarget(%q) = %+v: a negative option", s, tg)
		}
	})
}
