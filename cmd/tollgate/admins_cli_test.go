package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

var (
	passwordRE    = regexp.MustCompile(`Password \(shown once\): (\S+)`)
	tokenSecretRE = regexp.MustCompile(`Secret \(shown once\): (tgt-\S+)`)
)

// TestAdminsTokensAudit: accounts and tokens made with the CLI sign the
// CLI in with their roles, and the audit log shows what each did, via the
// CLI, without a secret.
func TestAdminsTokensAudit(t *testing.T) {
	startGateway(t)
	mustCLI(t, "teams", "create", "ml")
	mustCLI(t, "teams", "create", "web")

	out := mustCLI(t, "admins", "add", "tess", "--role", "team_admin", "--team", "ml")
	m := passwordRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("admins add printed no password:\n%s", out)
	}
	password := m[1]
	if line := lineWith(t, mustCLI(t, "admins", "list"), "tess"); !regexp.MustCompile(`tess\s+team_admin\s+ml\s+active\s+never`).MatchString(line) {
		t.Errorf("admins list: %q", line)
	}

	t.Run("team admin signs in", func(t *testing.T) {
		t.Setenv("TOLLGATE_ADMIN_USER", "tess")
		t.Setenv("TOLLGATE_ADMIN_PASSWORD", password)
		if _, _, err := cli(t, "keys", "create", "--alias", "web-key", "--team", "web"); err == nil || !strings.Contains(err.Error(), "team_admin") || !strings.Contains(err.Error(), "HTTP 403") {
			t.Errorf("key in another team: %v, want a 403 naming the role", err)
		}
		wantContains(t, "keys create", mustCLI(t, "keys", "create", "--alias", "ml-key", "--team", "ml"), `Created key "ml-key"`)
		if _, _, err := cli(t, "admins", "list"); err == nil || !strings.Contains(err.Error(), "admins:read") {
			t.Errorf("team admin listing admins: %v, want 403 naming admins:read", err)
		}
		t.Setenv("TOLLGATE_ADMIN_PASSWORD", "wrong password here")
		if _, _, err := cli(t, "keys", "list"); err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "TOLLGATE_ADMIN_USER") {
			t.Errorf("wrong password: %v", err)
		}
	})

	out = mustCLI(t, "tokens", "create", "bot", "--role", "viewer", "--expires-in", "1d")
	m = tokenSecretRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tokens create printed no secret:\n%s", out)
	}
	tokenSecret := m[1]
	t.Run("viewer token", func(t *testing.T) {
		t.Setenv("TOLLGATE_ADMIN_KEY", tokenSecret)
		mustCLI(t, "keys", "list")
		if _, _, err := cli(t, "teams", "create", "x"); err == nil || !strings.Contains(err.Error(), "viewer") {
			t.Errorf("viewer token creating a team: %v", err)
		}
	})
	if line := lineWith(t, mustCLI(t, "tokens", "list"), "bot"); !regexp.MustCompile(`bot\s+viewer\s+-\s+active\s+tgt-`).MatchString(line) {
		t.Errorf("tokens list: %q", line)
	}
	wantContains(t, "tokens revoke", mustCLI(t, "tokens", "revoke", "bot"), `Revoked admin token "bot"`)
	mustCLI(t, "admins", "update", "tess", "--disable")
	wantContains(t, "admins passwd", mustCLI(t, "admins", "passwd", "tess"), "Password (shown once):")
	mustCLI(t, "admins", "remove", "tess")

	table := mustCLI(t, "audit")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`tess\s+team_admin\s+cli\s+127\.0\.0\.1\s+keys\.create\s+key ml-key\s+ok`),
		regexp.MustCompile(`tess\s+team_admin\s+cli\s+127\.0\.0\.1\s+keys\.create\s+key\s+denied`),
		regexp.MustCompile(`bot\s+viewer\s+cli\s+127\.0\.0\.1\s+teams\.create\s+team\s+denied`),
		regexp.MustCompile(`admin key\s+owner\s+cli\s+127\.0\.0\.1\s+accounts\.delete\s+account tess\s+ok`),
	} {
		if !want.MatchString(table) {
			t.Errorf("audit table lacks %v:\n%s", want, table)
		}
	}
	raw := mustCLI(t, "audit", "--actor", "tess", "--json")
	var r admin.AuditResponse
	if err := json.Unmarshal([]byte(raw), &r); err != nil || len(r.Events) != 2 {
		t.Fatalf("audit --actor tess --json: %v, %d events\n%s", err, len(r.Events), raw)
	}
	all := mustCLI(t, "audit", "--json")
	for _, s := range []string{password, tokenSecret} {
		if strings.Contains(all, s) {
			t.Errorf("the audit log holds a secret %q", s)
		}
	}
}
