package main

import (
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

var secretRE = regexp.MustCompile(`export ANTHROPIC_API_KEY=(\S+)`)

// createKey runs `tollgate keys create` and returns the printed secret.
func createKey(t *testing.T, args ...string) string {
	t.Helper()
	out := mustCLI(t, append([]string{"keys", "create"}, args...)...)
	m := secretRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys create printed no secret:\n%s", out)
	}
	if !strings.Contains(out, "shown only once") {
		t.Errorf("keys create does not say the secret is shown only once:\n%s", out)
	}
	return m[1]
}

// lineWith returns the first line of out that starts with prefix.
func lineWith(t *testing.T, out, prefix string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimRight(line, "\n")
		}
	}
	t.Fatalf("no line starting with %q in:\n%s", prefix, out)
	return ""
}

func wantContains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func TestKeysUsersTeamsBudgetsLimits(t *testing.T) {
	g := startGateway(t)

	wantContains(t, "users create", mustCLI(t, "users", "create", "alice", "--email", "alice@example.com"), `Created user "alice"`)
	mustCLI(t, "users", "create", "bob")
	mustCLI(t, "teams", "create", "platform")
	mustCLI(t, "teams", "add-member", "platform", "alice")
	wantContains(t, "teams add-member", mustCLI(t, "teams", "add-member", "platform", "bob"), "members: alice,bob")
	mustCLI(t, "teams", "remove-member", "platform", "bob")
	if line := lineWith(t, mustCLI(t, "teams", "list"), "platform"); !regexp.MustCompile(`platform\s+alice\s`).MatchString(line) {
		t.Errorf("teams list after remove-member: %q, want members alice only", line)
	}
	users := mustCLI(t, "users", "list")
	if line := lineWith(t, users, "alice"); !regexp.MustCompile(`alice\s+alice@example\.com\s+platform\s+active`).MatchString(line) {
		t.Errorf("users list: %q", line)
	}

	secret := createKey(t, "--alias", "alice-laptop", "--user", "alice", "--team", "platform",
		"--budget-usd", "50", "--period", "month", "--timezone", "Europe/Berlin",
		"--models", "claude-sonnet-4-5,claude-haiku-4-5", "--tags", "repo=org/app,env=ci", "--expires", "30d")
	t.Run("printed secret works", func(t *testing.T) {
		if m := g.call(t, secret, "claude-haiku-4-5", "hi"); m.status != 200 {
			t.Errorf("call with the new key = %d %s", m.status, m.body)
		}
		if m := g.call(t, secret, "claude-opus-4-1", "hi"); m.status != 403 {
			t.Errorf("call with a model outside --models = %d %s, want 403", m.status, m.body)
		}
	})

	list := mustCLI(t, "keys", "list")
	wantContains(t, "keys list", list, "ALIAS", "PREFIX", "USER", "TEAM", "MODELS", "EXPIRES", "STATUS")
	line := lineWith(t, list, "alice-laptop")
	if !regexp.MustCompile(`^alice-laptop\s+tg-\S{8}…\s+alice\s+platform\s+claude-haiku-4-5,claude-sonnet-4-5\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+active$`).MatchString(line) {
		t.Errorf("keys list row = %q", line)
	}
	if strings.Contains(list, secret) {
		t.Error("keys list shows the secret")
	}
	wantContains(t, "keys list --user bob", mustCLI(t, "keys", "list", "--user", "bob"), "No keys")
	var listed struct {
		Keys []struct{ Alias string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "keys", "list", "--json")), &listed); err != nil || len(listed.Keys) != 1 || listed.Keys[0].Alias != "alice-laptop" {
		t.Errorf("keys list --json = %+v, %v", listed, err)
	}

	show := mustCLI(t, "keys", "show", "alice-laptop")
	wantContains(t, "keys show", show, "alias:", "alice-laptop", "repo=org/app", "env=ci", "$50.00 per month", "(0%)")

	wantContains(t, "budgets create", mustCLI(t, "budgets", "create", "--team", "platform", "--usd", "100", "--tokens", "2000000", "--period", "week"),
		"$100.00 and 2,000,000 tokens per week (UTC) for team platform, estimate mode, overdraft 5%")
	budgets := mustCLI(t, "budgets", "list")
	if line := lineWith(t, budgets, "bdg"); !strings.Contains(line, "key alice-laptop") || !strings.Contains(line, "$50.00") || !strings.Contains(line, "Europe/Berlin") {
		t.Errorf("budgets list first row = %q", line)
	}
	wantContains(t, "budgets list", budgets, "team platform", "$100.00", "2,000,000")
	wantContains(t, "budgets list --team", mustCLI(t, "budgets", "list", "--team", "platform"), "team platform")
	if out := mustCLI(t, "budgets", "list", "--team", "platform"); strings.Contains(out, "alice-laptop") {
		t.Errorf("budgets list --team platform shows other budgets:\n%s", out)
	}

	wantContains(t, "limits create", mustCLI(t, "limits", "create", "--user", "alice", "--rpm", "100", "--concurrent", "4"),
		"100 requests/min, 4 concurrent for user alice")
	limits := mustCLI(t, "limits", "list")
	if line := lineWith(t, limits, "lim"); !regexp.MustCompile(`user alice\s+100\s+-\s+4$`).MatchString(line) {
		t.Errorf("limits list row = %q", line)
	}

	spend := mustCLI(t, "spend")
	wantContains(t, "spend", spend, "SCOPE", "key alice-laptop", "team platform", "$50.00", "2,000,000 tok")
	if !regexp.MustCompile(`key alice-laptop .* \d{4}-\d\d-\d\d 00:00 CES?T`).MatchString(spend) {
		t.Errorf("spend does not show the key budget's reset in Europe/Berlin time:\n%s", spend)
	}

	t.Run("API errors name status", func(t *testing.T) {
		_, _, err := cli(t, "users", "delete", "alice")
		if err == nil || !regexp.MustCompile(`^user "alice" still owns 1 key\(s\); delete them first \(HTTP 409`).MatchString(err.Error()) {
			t.Errorf("users delete with a key: %v", err)
		}
		_, _, err = cli(t, "keys", "create", "--alias", "alice-laptop")
		if err == nil || !strings.Contains(err.Error(), "(HTTP 409") {
			t.Errorf("duplicate alias: %v", err)
		}
		_, _, err = cli(t, "keys", "create", "--alias", "x", "--period", "fortnight", "--budget-usd", "1")
		if err == nil || !strings.Contains(err.Error(), "fortnight") || !strings.Contains(err.Error(), "(HTTP 400") {
			t.Errorf("bad period: %v", err)
		}
	})

	wantContains(t, "keys revoke", mustCLI(t, "keys", "revoke", "alice-laptop"), "Revoked", "401")
	if m := g.call(t, secret, "claude-haiku-4-5", "hi"); m.status != 401 {
		t.Errorf("call with a revoked key = %d %s, want 401", m.status, m.body)
	}
	wantContains(t, "keys list after revoke", lineWith(t, mustCLI(t, "keys", "list"), "alice-laptop"), "revoked")

	// Budgets and limits are deleted by id, which --json shows.
	var bl struct {
		Budgets []struct{ ID string } `json:"budgets"`
	}
	json.Unmarshal([]byte(mustCLI(t, "budgets", "list", "--team", "platform", "--json")), &bl)
	if len(bl.Budgets) != 1 {
		t.Fatalf("budgets list --team platform --json: %+v", bl)
	}
	mustCLI(t, "budgets", "delete", bl.Budgets[0].ID)
	var ll struct {
		Limits []struct{ ID string } `json:"limits"`
	}
	json.Unmarshal([]byte(mustCLI(t, "limits", "list", "--json")), &ll)
	if len(ll.Limits) != 1 {
		t.Fatalf("limits list --json: %+v", ll)
	}
	mustCLI(t, "limits", "delete", ll.Limits[0].ID)
	wantContains(t, "limits list after delete", mustCLI(t, "limits", "list"), "No rate limits")

	mustCLI(t, "keys", "delete", "alice-laptop")
	if _, _, err := cli(t, "keys", "show", "alice-laptop"); err == nil || !strings.Contains(err.Error(), "(HTTP 404") {
		t.Errorf("keys show after delete: %v", err)
	}
	mustCLI(t, "users", "delete", "alice")
	mustCLI(t, "teams", "delete", "platform")
	wantContains(t, "users list at the end", mustCLI(t, "users", "list"), "bob")
	wantContains(t, "teams list at the end", mustCLI(t, "teams", "list"), "No teams")
}

func TestUsageAndSpend(t *testing.T) {
	g := startGateway(t)
	mustCLI(t, "users", "create", "alice")
	mustCLI(t, "users", "create", "bob")
	keys := map[string]string{
		"alice": createKey(t, "--alias", "alice-key", "--user", "alice", "--tags", "repo=org/app", "--budget-usd", "10", "--period", "day"),
		"bob":   createKey(t, "--alias", "bob-key", "--user", "bob", "--tags", "repo=org/other"),
	}
	type totals struct{ requests, input, output int64 }
	want := map[string]*totals{"alice": {}, "bob": {}}
	for i, prompt := range []string{"hello", "write a haiku about gateways", "count to three please"} {
		for user, key := range keys {
			if user == "bob" && i == 2 {
				continue
			}
			m := g.call(t, key, "claude-haiku-4-5", prompt)
			if m.status != 200 || m.usage.InputTokens == 0 || m.usage.OutputTokens == 0 {
				t.Fatalf("call = %d %s", m.status, m.body)
			}
			w := want[user]
			w.requests++
			w.input += m.usage.InputTokens
			w.output += m.usage.OutputTokens
		}
	}

	// The usage writer flushes every 10 ms; wait until every call is counted.
	var resp admin.UsageResponse
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp = admin.UsageResponse{}
		if err := json.Unmarshal([]byte(mustCLI(t, "usage", "--by", "user", "--json")), &resp); err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, r := range resp.Rows {
			n += r.Requests
		}
		if n == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range resp.Rows {
		w := want[r.Name]
		if w == nil || r.Requests != w.requests || r.Input != w.input || r.Output != w.output {
			t.Errorf("usage row %s = %d requests, %d in, %d out; want %+v", r.Name, r.Requests, r.Input, r.Output, w)
		}
	}
	if len(resp.Rows) != 2 {
		t.Fatalf("usage --by user rows = %+v, want alice and bob", resp.Rows)
	}

	table := mustCLI(t, "usage", "--by", "user", "--since", "1h")
	wantContains(t, "usage table", table, "Usage by user", "USER", "REQUESTS", "INPUT", "OUTPUT", "CACHE WRITE", "CACHE READ", "COST USD")
	alice := lineWith(t, table, "alice")
	fields := strings.Fields(alice)
	// alice  requests errors input output cache-write cache-read total cost
	if len(fields) != 9 || fields[1] != "3" || fields[3] != count(want["alice"].input) || fields[4] != count(want["alice"].output) {
		t.Errorf("usage row for alice = %q; want 3 requests, %d input, %d output", alice, want["alice"].input, want["alice"].output)
	}
	if !regexp.MustCompile(`^\d+\.\d{2,4}$`).MatchString(fields[8]) || fields[8] == "0.00" {
		t.Errorf("alice's cost = %q, want a non-zero amount with 2-4 decimals", fields[8])
	}
	total := strings.Fields(lineWith(t, table, "TOTAL"))
	if total[1] != "5" || total[3] != count(want["alice"].input+want["bob"].input) {
		t.Errorf("TOTAL row = %v", total)
	}
	// Numbers are right-aligned: the REQUESTS header ends where the counts end.
	head := lineWith(t, table, "USER")
	if end := strings.Index(head, "REQUESTS") + len("REQUESTS"); !strings.HasPrefix(alice[end-1:], "3 ") {
		t.Errorf("REQUESTS column not right-aligned:\n%s\n%s", head, alice)
	}

	tags := mustCLI(t, "usage", "--tag", "repo")
	wantContains(t, "usage --tag repo", tags, "TAG repo", "org/app", "org/other")
	wantContains(t, "usage --by model", mustCLI(t, "usage", "--by", "model", "--granularity", "day"), "TIME", "claude-haiku-4-5")

	rows, err := csv.NewReader(strings.NewReader(mustCLI(t, "usage", "--by", "key", "--csv"))).ReadAll()
	if err != nil {
		t.Fatalf("usage --csv is not CSV: %v", err)
	}
	if len(rows) != 3 || rows[0][2] != "name" || rows[1][2] != "alice-key" || rows[1][3] != "3" || rows[2][2] != "bob-key" {
		t.Errorf("usage --csv = %v", rows)
	}

	spend := mustCLI(t, "spend")
	line := lineWith(t, spend, "key alice-key")
	if !regexp.MustCompile(`key alice-key\s+day\s+\$0\.\d{4}\s+\$10\.00\s+\$\d+\.\d+\s+\d+\.\d%\s+\d{4}-\d\d-\d\d 00:00 UTC`).MatchString(line) {
		t.Errorf("spend row = %q", line)
	}
}

func TestAdminCLIConnectionAndCredentials(t *testing.T) {
	startGateway(t)
	t.Run("missing admin key", func(t *testing.T) {
		t.Setenv("TOLLGATE_ADMIN_KEY", "")
		_, _, err := cli(t, "keys", "list")
		if err == nil || !strings.Contains(err.Error(), "TOLLGATE_ADMIN_KEY is not set") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("wrong admin key", func(t *testing.T) {
		_, _, err := cli(t, "users", "list", "--admin-key", "tga-wrong-wrong-wrong-wrong")
		if err == nil || !strings.Contains(err.Error(), "invalid admin key (HTTP 401") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nothing listens", func(t *testing.T) {
		addr := closedPort(t)
		t.Setenv("TOLLGATE_URL", "http://"+addr)
		_, _, err := cli(t, "teams", "list")
		if err == nil || !strings.Contains(err.Error(), "cannot reach the gateway at http://"+addr) ||
			!strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "TOLLGATE_URL") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		if out, _, err := cli(t, "keys", "create", "--budget-usd", "50", "--period", "month"); err != nil || !strings.Contains(out, `Created key "key_`) {
			t.Errorf("keys create without alias = %q, %v; want a key named by its id", out, err)
		}
		if _, _, err := cli(t, "keys", "frobnicate"); err == nil {
			t.Error("unknown subcommand accepted")
		}
		if _, _, err := cli(t, "budgets", "create", "--user", "a", "--team", "b", "--usd", "1", "--period", "day"); err == nil || !strings.Contains(err.Error(), "exactly one") {
			t.Errorf("two scopes: %v", err)
		}
		if _, _, err := cli(t, "usage", "--since", "yesterday-ish"); err == nil || !strings.Contains(err.Error(), "(HTTP 400") {
			t.Errorf("bad --since: %v", err)
		}
	})
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		micros      int64
		cost, money string
	}{
		{0, "0.00", "$0.00"},
		{11650, "0.0117", "$0.01165"},
		{40, "<0.0001", "$0.00004"},
		{999_999, "1.00", "$0.999999"},
		{1_234_500, "1.23", "$1.2345"},
		{50_000_000, "50.00", "$50.00"},
		{1_234_567_890_000, "1,234,567.89", "$1,234,567.89"},
	} {
		if got := cost(c.micros); got != c.cost {
			t.Errorf("cost(%d) = %q, want %q", c.micros, got, c.cost)
		}
		if got := money(c.micros); got != c.money {
			t.Errorf("money(%d) = %q, want %q", c.micros, got, c.money)
		}
	}
}

// TestUpdateCommands changes a key, a budget and a limit in place, and
// checks that budgets create still takes the old --usd and --tokens.
func TestUpdateCommands(t *testing.T) {
	startGateway(t)
	mustCLI(t, "users", "create", "alice")
	mustCLI(t, "teams", "create", "platform")
	createKey(t, "--alias", "ci", "--user", "alice", "--models", "claude-haiku-4-5", "--expires", "30d")

	wantContains(t, "keys update", mustCLI(t, "keys", "update", "ci", "--alias", "ci-2", "--user", "none", "--team", "platform",
		"--models", "all", "--tags", "env=ci", "--expires", "never"),
		`Updated key "ci-2"`, "team platform;", "models: all", "tags: env=ci", "expires: never")
	if _, _, err := cli(t, "keys", "update", "ci-2"); err == nil || !strings.Contains(err.Error(), "give at least one") {
		t.Errorf("keys update without flags: %v", err)
	}

	_, stderr, err := cli(t, "budgets", "create", "--key", "ci-2", "--usd", "10", "--tokens", "1000", "--period", "day")
	if err != nil || !strings.Contains(stderr, "deprecated") || !strings.Contains(stderr, "--budget-usd") {
		t.Errorf("budgets create --usd: err %v, stderr %q; want it accepted with a deprecation note", err, stderr)
	}
	var bl admin.BudgetsResponse
	json.Unmarshal([]byte(mustCLI(t, "budgets", "list", "--key", "ci-2", "--json")), &bl)
	if len(bl.Budgets) != 1 || bl.Budgets[0].LimitUSDMicros == nil || *bl.Budgets[0].LimitUSDMicros != 10_000_000 {
		t.Fatalf("budgets list --json = %+v", bl)
	}
	id := bl.Budgets[0].ID
	wantContains(t, "budgets update", mustCLI(t, "budgets", "update", id, "--budget-usd", "25.5", "--budget-tokens", "0",
		"--period", "week", "--thresholds", "80,100"),
		"$25.50 per week (UTC) for key ci-2, estimate mode, overdraft 5%; alerts at 80%,100%")
	wantContains(t, "budgets update --thresholds ''", mustCLI(t, "budgets", "update", id, "--thresholds", ""), "alerts at 50%,80%,100%")
	wantContains(t, "budgets update --overdraft", mustCLI(t, "budgets", "update", id, "--overdraft", "$0.50"), "estimate mode, overdraft 0.5;")
	wantContains(t, "budgets update --mode strict", mustCLI(t, "budgets", "update", id, "--mode", "strict"), "for key ci-2, strict;")
	if line := lineWith(t, mustCLI(t, "budgets", "list", "--key", "ci-2"), "bdg"); !strings.Contains(line, "strict") {
		t.Errorf("budgets list of a strict budget = %q, want the mode shown", line)
	}
	if _, _, err := cli(t, "budgets", "update", id, "--overdraft", "lots"); err == nil || !strings.Contains(err.Error(), "overdraft") {
		t.Errorf("budgets update --overdraft lots: err %v; want a clear refusal", err)
	}

	mustCLI(t, "limits", "create", "--key", "ci-2", "--rpm", "10", "--concurrent", "2")
	var ll admin.LimitsResponse
	json.Unmarshal([]byte(mustCLI(t, "limits", "list", "--json")), &ll)
	if len(ll.Limits) != 1 {
		t.Fatalf("limits list --json = %+v", ll)
	}
	wantContains(t, "limits update", mustCLI(t, "limits", "update", ll.Limits[0].ID, "--rpm", "20", "--concurrent", "0"),
		"20 requests/min for key ci-2")
}

// TestKeysRotate: a rotated key answers to its new secret at once; with
// --overlap the old secret works too, without it the old one is refused.
func TestKeysRotate(t *testing.T) {
	g := startGateway(t)
	old := createKey(t, "--alias", "ci", "--budget-usd", "5", "--period", "day")

	out := mustCLI(t, "keys", "rotate", "ci", "--overlap", "1h")
	wantContains(t, "keys rotate --overlap", out, `Rotated key "ci"`, "keeps working until", "shown only once")
	m := secretRE.FindStringSubmatch(out)
	if m == nil || m[1] == old {
		t.Fatalf("keys rotate printed no new secret:\n%s", out)
	}
	second := m[1]
	for name, secret := range map[string]string{"new": second, "old, in the overlap": old} {
		if r := g.call(t, secret, "claude-haiku-4-5", "hi"); r.status != 200 {
			t.Errorf("call with the %s secret = %d %s", name, r.status, r.body)
		}
	}
	wantContains(t, "keys show after rotate", mustCLI(t, "keys", "show", "ci"), "$5.00 per day")

	out = mustCLI(t, "keys", "rotate", "ci")
	wantContains(t, "keys rotate", out, "The old secret stopped working.")
	third := secretRE.FindStringSubmatch(out)[1]
	if r := g.call(t, third, "claude-haiku-4-5", "hi"); r.status != 200 {
		t.Errorf("call with the newest secret = %d %s", r.status, r.body)
	}
	for name, secret := range map[string]string{"first": old, "second": second} {
		if r := g.call(t, secret, "claude-haiku-4-5", "hi"); r.status != 401 {
			t.Errorf("call with the %s secret after a rotation without overlap = %d, want 401", name, r.status)
		}
	}
}

// TestOverBudgetNamesAlias: budget and rate-limit refusals name their scope
// by the names the CLI shows — the key's alias, the user's name — not by
// ids.
func TestOverBudgetNamesAlias(t *testing.T) {
	g := startGateway(t)
	mustCLI(t, "users", "create", "山田")
	secret := createKey(t, "--alias", "tiny", "--user", "山田", "--budget-tokens", "1", "--period", "day")
	r := g.call(t, secret, "claude-haiku-4-5", "hi")
	if r.status != 429 || !strings.Contains(r.body, `budget \"tiny daily\" of key \"tiny\" has 1 tokens left`) {
		t.Errorf("call over the key's budget = %d %s, want a 429 naming key \"tiny\"", r.status, r.body)
	}
	mustCLI(t, "keys", "update", "tiny", "--alias", "renamed")
	mustCLI(t, "budgets", "create", "--user", "山田", "--budget-tokens", "1", "--period", "week")
	mustCLI(t, "budgets", "delete", lineFields(t, mustCLI(t, "budgets", "list", "--key", "renamed"))[0])
	r = g.call(t, secret, "claude-haiku-4-5", "hi")
	if r.status != 429 || !strings.Contains(r.body, `budget \"山田 weekly\" (user) of key \"renamed\"`) {
		t.Errorf("call over the user's budget = %d %s, want a 429 naming user \"山田\"", r.status, r.body)
	}

	// Rate limits too.
	mustCLI(t, "budgets", "delete", lineFields(t, mustCLI(t, "budgets", "list"))[0])
	mustCLI(t, "limits", "create", "--key", "renamed", "--rpm", "1")
	g.call(t, secret, "claude-haiku-4-5", "hi")
	r = g.call(t, secret, "claude-haiku-4-5", "hi")
	if r.status != 429 || !strings.Contains(r.body, `rate limited: key \"renamed\" allows 1 requests per minute`) {
		t.Errorf("call over the key's rate limit = %d %s, want a 429 naming key \"renamed\"", r.status, r.body)
	}
}

// lineFields returns the fields of the second line of a table (its first
// row).
func lineFields(t *testing.T, table string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) < 2 {
		t.Fatalf("table without rows:\n%s", table)
	}
	return strings.Fields(lines[1])
}
