package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/limits"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// USD is an amount in micro-USD that marshals as an exact JSON decimal
// number of dollars (12.5, 0.000123), never through a float.
type USD int64

// MarshalJSON writes the exact decimal.
func (u USD) MarshalJSON() ([]byte, error) { return []byte(FormatUSD(int64(u))), nil }

// FormatUSD formats micro-USD as a decimal number of dollars without
// trailing zeros: 50000000 → "50", 1234500 → "1.2345".
func FormatUSD(micros int64) string {
	sign := ""
	u := uint64(micros)
	if micros < 0 {
		sign, u = "-", uint64(-micros)
	}
	s := fmt.Sprintf("%s%d.%06d", sign, u/1_000_000, u%1_000_000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// parseUSD converts a decimal number of dollars to micro-USD exactly.
func parseUSD(field string, n json.Number) (int64, error) {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return 0, badRequest("field %q: %q is not a number", field, n)
	}
	r.Mul(r, big.NewRat(1_000_000, 1))
	if !r.IsInt() {
		return 0, badRequest("field %q: %s has more than 6 decimal places", field, n)
	}
	if r.Sign() < 0 {
		return 0, badRequest("field %q must not be negative", field)
	}
	if !r.Num().IsInt64() {
		return 0, badRequest("field %q: %s is too large", field, n)
	}
	return r.Num().Int64(), nil
}

// UnmarshalJSON reads an exact decimal number of dollars, so the typed
// client sees the same micro-USD the server sent.
func (u *USD) UnmarshalJSON(b []byte) error {
	r, ok := new(big.Rat).SetString(string(b))
	if !ok {
		return fmt.Errorf("admin: %s is not a number of dollars", b)
	}
	r.Mul(r, big.NewRat(1_000_000, 1))
	if !r.IsInt() || !r.Num().IsInt64() {
		return fmt.Errorf("admin: %s is not a whole number of micro-dollars", b)
	}
	*u = USD(r.Num().Int64())
	return nil
}

// timeJSON is a time for a view: in UTC, so that it marshals as RFC 3339
// with a Z; zero is nil (null).
func timeJSON(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// directory maps ids to names for responses.
type directory struct {
	users, teams, keys map[string]string
}

func (a *API) directory(ctx context.Context) (*directory, error) {
	snap, err := a.st.AuthSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	d := &directory{users: map[string]string{}, teams: map[string]string{}, keys: map[string]string{}}
	for _, u := range snap.Users {
		d.users[u.ID] = u.Name
	}
	for _, t := range snap.Teams {
		d.teams[t.ID] = t.Name
	}
	for _, k := range snap.Keys {
		d.keys[k.ID] = k.Alias
	}
	return d, nil
}

func (d *directory) scopeName(kind, id string) string {
	switch kind {
	case store.ScopeUser:
		return d.users[id]
	case store.ScopeTeam:
		return d.teams[id]
	case store.ScopeKey:
		return d.keys[id]
	}
	return ""
}

// byName returns the names of ids in m and the ids, both ordered by name
// (then id), so the two lists line up and read alphabetically.
func byName(m map[string]string, ids []string) (names, sorted []string) {
	sorted = slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b string) int { return cmp.Or(cmp.Compare(m[a], m[b]), cmp.Compare(a, b)) })
	names = make([]string, 0, len(ids))
	for _, id := range sorted {
		names = append(names, m[id])
	}
	if sorted == nil {
		sorted = []string{}
	}
	return names, sorted
}

// User is a user as the admin API shows it.
type User struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Email     string     `json:"email"`
	Disabled  bool       `json:"disabled"`
	Teams     []string   `json:"teams"`
	TeamIDs   []string   `json:"team_ids"`
	CreatedAt *time.Time `json:"created_at"`
}

func (d *directory) user(u store.User) User {
	teams, ids := byName(d.teams, u.TeamIDs)
	return User{ID: u.ID, Name: u.Name, Email: u.Email, Disabled: u.Disabled, Teams: teams, TeamIDs: ids,
		CreatedAt: timeJSON(u.CreatedAt)}
}

// Team is a team as the admin API shows it, with its members by name.
type Team struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Members   []string   `json:"members"`
	MemberIDs []string   `json:"member_ids"`
	CreatedAt *time.Time `json:"created_at"`
}

func (d *directory) team(t store.Team) Team {
	members, ids := byName(d.users, t.MemberIDs)
	return Team{ID: t.ID, Name: t.Name, Members: members, MemberIDs: ids, CreatedAt: timeJSON(t.CreatedAt)}
}

// Key is a virtual key as the admin API shows it, never with its secret.
type Key struct {
	ID         string            `json:"id"`
	Alias      string            `json:"alias"`
	Prefix     string            `json:"prefix"`
	UserID     *string           `json:"user_id"`
	User       *string           `json:"user"`
	TeamID     *string           `json:"team_id"`
	Team       *string           `json:"team"`
	ExpiresAt  *time.Time        `json:"expires_at"`
	Expired    bool              `json:"expired"`
	Models     []string          `json:"models"`
	Tags       map[string]string `json:"tags"`
	Disabled   bool              `json:"disabled"`
	CreatedAt  *time.Time        `json:"created_at"`
	LastUsedAt *time.Time        `json:"last_used_at"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (d *directory) key(k store.Key, now time.Time) Key {
	v := Key{ID: k.ID, Alias: k.Alias, Prefix: k.Prefix, UserID: optString(k.UserID), TeamID: optString(k.TeamID),
		ExpiresAt: timeJSON(k.ExpiresAt), Expired: k.Expired(now), Models: k.Models, Tags: k.Tags,
		Disabled: k.Disabled, CreatedAt: timeJSON(k.CreatedAt), LastUsedAt: timeJSON(k.LastUsedAt)}
	if k.UserID != "" {
		v.User = optString(d.users[k.UserID])
	}
	if k.TeamID != "" {
		v.Team = optString(d.teams[k.TeamID])
	}
	if v.Models == nil {
		v.Models = []string{}
	}
	if v.Tags == nil {
		v.Tags = map[string]string{}
	}
	return v
}

// Budget is a budget as the admin API shows it. USD amounts come twice:
// as an exact decimal for people and as integer micro-USD for programs.
type Budget struct {
	ID             string `json:"id"`
	ScopeKind      string `json:"scope_kind"`
	ScopeID        string `json:"scope_id"`
	Scope          string `json:"scope"`
	LimitUSD       *USD   `json:"limit_usd"`
	LimitUSDMicros *int64 `json:"limit_usd_micros"`
	LimitTokens    *int64 `json:"limit_tokens"`
	Period         string `json:"period"`
	Timezone       string `json:"timezone"`
	Thresholds     []int  `json:"thresholds"`
	// Mode is "estimate" or "strict"; Overdraft is how far spend may pass
	// the limit in estimate mode, as configured ("5%" when defaulted).
	Mode      string     `json:"mode"`
	Overdraft string     `json:"overdraft"`
	CreatedAt *time.Time `json:"created_at"`
}

func usdPtr(micros *int64) *USD {
	if micros == nil {
		return nil
	}
	u := USD(*micros)
	return &u
}

func (d *directory) budget(b store.Budget) Budget {
	v := Budget{ID: b.ID, ScopeKind: b.ScopeKind, ScopeID: b.ScopeID, Scope: d.scopeName(b.ScopeKind, b.ScopeID),
		LimitUSD: usdPtr(b.LimitUSDMicros), LimitUSDMicros: b.LimitUSDMicros, LimitTokens: b.LimitTokens,
		Period: b.Period, Timezone: b.Timezone, Thresholds: b.Thresholds, Mode: b.Mode, Overdraft: b.Overdraft,
		CreatedAt: timeJSON(b.CreatedAt)}
	if v.Mode == "" {
		v.Mode = store.ModeEstimate
	}
	if v.Overdraft == "" {
		v.Overdraft = strconv.Itoa(limits.DefaultOverdraftPercent) + "%"
	}
	return v
}

// Limit is a rate limit as the admin API shows it; 0 means no limit.
type Limit struct {
	ID         string     `json:"id"`
	ScopeKind  string     `json:"scope_kind"`
	ScopeID    string     `json:"scope_id"`
	Scope      string     `json:"scope"`
	RPM        int64      `json:"rpm"`
	TPM        int64      `json:"tpm"`
	Concurrent int64      `json:"concurrent"`
	CreatedAt  *time.Time `json:"created_at"`
}

func (d *directory) limit(l store.Limit) Limit {
	return Limit{ID: l.ID, ScopeKind: l.ScopeKind, ScopeID: l.ScopeID, Scope: d.scopeName(l.ScopeKind, l.ScopeID),
		RPM: l.RPM, TPM: l.TPM, Concurrent: l.Concurrent, CreatedAt: timeJSON(l.CreatedAt)}
}

// byScope orders budgets and limits for people: by scope kind, scope name,
// then period.
func byScope(kindA, nameA, periodA, kindB, nameB, periodB string) int {
	return cmp.Or(cmp.Compare(kindA, kindB), cmp.Compare(nameA, nameB), cmp.Compare(periodOrder(periodA), periodOrder(periodB)))
}

func periodOrder(p string) int {
	return slices.Index([]string{store.PeriodDay, store.PeriodWeek, store.PeriodMonth, store.PeriodTotal}, p)
}

// UsageRow is one group (and time bucket) of GET /admin/usage. The token
// counts are embedded, so that their JSON names (input_tokens …
// cache_read_tokens) are tokens.Counts' own and a new kind appears here
// without an edit; TotalTokens is their Total, sent so that clients need
// not know the kinds to sum them.
type UsageRow struct {
	Time     *time.Time `json:"time,omitempty"`
	Group    string     `json:"group"`
	Name     string     `json:"name,omitempty"`
	Requests int64      `json:"requests"`
	Errors   int64      `json:"errors"`
	Unpriced int64      `json:"unpriced"`
	tokens.Counts
	TotalTokens   int64 `json:"total_tokens"`
	CostUSD       USD   `json:"cost_usd"`
	CostUSDMicros int64 `json:"cost_usd_micros"`
	// Attempts is the upstream attempts the requests took; above Requests
	// when some were retried or fell back to another target.
	Attempts int64 `json:"attempts"`
}

func usageRow(r store.UsageRow) UsageRow {
	return UsageRow{Time: timeJSON(r.Time), Group: r.Group, Name: r.Name, Requests: r.Requests, Errors: r.Errors,
		Unpriced: r.Unpriced, Counts: r.Tokens, TotalTokens: r.Tokens.Total(),
		CostUSD: USD(r.CostMicros), CostUSDMicros: r.CostMicros, Attempts: r.Attempts}
}

// BudgetSpend is a budget with what it has enforced in the current period,
// as GET /admin/spend shows it.
type BudgetSpend struct {
	Budget
	PeriodStart        *time.Time `json:"period_start"`
	ResetsAt           *time.Time `json:"resets_at"`
	SpentUSD           USD        `json:"spent_usd"`
	SpentUSDMicros     int64      `json:"spent_usd_micros"`
	SpentTokens        int64      `json:"spent_tokens"`
	ReservedUSD        USD        `json:"reserved_usd"`
	ReservedUSDMicros  int64      `json:"reserved_usd_micros"`
	ReservedTokens     int64      `json:"reserved_tokens"`
	RemainingUSD       *USD       `json:"remaining_usd"`
	RemainingUSDMicros *int64     `json:"remaining_usd_micros"`
	RemainingTokens    *int64     `json:"remaining_tokens"`
	Percent            float64    `json:"percent"`
	ThresholdsCrossed  []int      `json:"thresholds_crossed"`
}

// spend shows b with its enforced status st. Spent is settled spend;
// Reserved what calls in flight hold; Remaining what a new call can still
// reserve (limit - spent - reserved), exactly the
// x-tollgate-budget-remaining-* headers. Percent and the thresholds count
// settled spend only, as the alerts do.
func (d *directory) spend(b store.Budget, st limits.BudgetStatus) BudgetSpend {
	v := BudgetSpend{Budget: d.budget(b), PeriodStart: timeJSON(st.PeriodStart), ResetsAt: timeJSON(st.ResetAt),
		SpentUSD: USD(st.Spent.Micros), SpentUSDMicros: st.Spent.Micros, SpentTokens: st.Spent.Tokens,
		ReservedUSD: USD(st.Reserved.Micros), ReservedUSDMicros: st.Reserved.Micros, ReservedTokens: st.Reserved.Tokens,
		ThresholdsCrossed: st.Crossed}
	if v.ThresholdsCrossed == nil {
		v.ThresholdsCrossed = []int{}
	}
	var pct float64
	if lim := b.LimitUSDMicros; lim != nil {
		left := max(st.Remaining.Micros, 0)
		if st.Remaining.Micros < 0 { // a zero limit: the ledger enforces none
			left = max(*lim-st.Spent.Micros-st.Reserved.Micros, 0)
		}
		v.RemainingUSD, v.RemainingUSDMicros = usdPtr(&left), &left
		pct = max(pct, percentOf(st.Spent.Micros, *lim))
	}
	if lim := b.LimitTokens; lim != nil {
		left := max(st.Remaining.Tokens, 0)
		if st.Remaining.Tokens < 0 {
			left = max(*lim-st.Spent.Tokens-st.Reserved.Tokens, 0)
		}
		v.RemainingTokens = &left
		pct = max(pct, percentOf(st.Spent.Tokens, *lim))
	}
	v.Percent = math.Round(pct*100) / 100
	return v
}

// percentOf is spent as a percentage of limit; a zero limit counts as 100 %.
func percentOf(spent, limit int64) float64 {
	if limit <= 0 {
		return 100
	}
	return float64(spent) * 100 / float64(limit)
}

// parseWhen parses a point in time: an RFC 3339 time, a date
// (2025-06-01, midnight UTC) or a duration back from now ("7d", "12h",
// "2w", "90m").
func parseWhen(field, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return time.Time{}, badRequest("%s %q: want an RFC 3339 time, a date (2025-06-01) or a duration back from now (7d, 12h)", field, v)
	}
	return now.Add(-d), nil
}

// parseDuration parses Go durations plus days ("30d") and weeks ("2w").
func parseDuration(v string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if num, ok := strings.CutSuffix(v, suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil || !(n >= 0 && n <= 100*365) { // also refuses NaN
				return 0, fmt.Errorf("bad duration %q", v)
			}
			return time.Duration(n * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return d, nil
}

// The answers of the admin API, one type per shape, shared by the handlers
// that write them and the typed client (package adminclient) that reads
// them, so that a renamed field cannot silently zero-fill the CLI.
type (
	// UserResponse answers the single-user endpoints.
	UserResponse struct {
		User User `json:"user"`
	}
	// UsersResponse answers GET /admin/users.
	UsersResponse struct {
		Users []User `json:"users"`
	}
	// TeamResponse answers the single-team endpoints.
	TeamResponse struct {
		Team Team `json:"team"`
	}
	// TeamsResponse answers GET /admin/teams.
	TeamsResponse struct {
		Teams []Team `json:"teams"`
	}
	// KeyResponse answers the single-key endpoints.
	KeyResponse struct {
		Key Key `json:"key"`
	}
	// KeysResponse answers GET /admin/keys.
	KeysResponse struct {
		Keys []Key `json:"keys"`
	}
	// CreateKeyResponse answers POST /admin/keys. The secret is in this
	// answer only; it is never stored or logged.
	CreateKeyResponse struct {
		Key    Key     `json:"key"`
		Secret string  `json:"secret"`
		Budget *Budget `json:"budget,omitempty"`
		Limit  *Limit  `json:"limit,omitempty"`
	}
	// BudgetResponse answers the single-budget endpoints.
	BudgetResponse struct {
		Budget Budget `json:"budget"`
	}
	// BudgetsResponse answers GET /admin/budgets.
	BudgetsResponse struct {
		Budgets []Budget `json:"budgets"`
	}
	// LimitResponse answers the single-limit endpoints.
	LimitResponse struct {
		Limit Limit `json:"limit"`
	}
	// LimitsResponse answers GET /admin/limits.
	LimitsResponse struct {
		Limits []Limit `json:"limits"`
	}
	// UsageResponse answers GET /admin/usage.
	UsageResponse struct {
		By          string     `json:"by"`
		Granularity string     `json:"granularity"`
		Rows        []UsageRow `json:"rows"`
		Since       *time.Time `json:"since"`
		Until       *time.Time `json:"until"`
	}
	// SpendResponse answers GET /admin/spend.
	SpendResponse struct {
		At      *time.Time    `json:"at"`
		Budgets []BudgetSpend `json:"budgets"`
	}
)
