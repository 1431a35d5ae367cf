// Package adminclient is the typed client of Tollgate's admin REST API. It
// decodes answers into the admin package's own view types, the ones the
// server encodes, so that the CLI and the tests cannot drift from the API:
// a renamed field is a compile error, not a silently zero-filled column.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tollgate-gw/tollgate/internal/admin"
)

// maxAnswer bounds an answer's body; usage exports are the largest.
const maxAnswer = 64 << 20

// Client calls the admin API of one gateway with the admin key.
type Client struct {
	base      string
	key       string
	hc        *http.Client
	userAgent string

	account, password string // HTTP Basic instead of the key, when account is set
	label             string // the X-Tollgate-Client header, for the audit log
}

// WithAccount returns a copy of c that signs in as the admin account name
// with password (HTTP Basic) instead of sending the key.
func (c *Client) WithAccount(name, password string) *Client {
	c2 := *c
	c2.account, c2.password = name, password
	return &c2
}

// WithLabel returns a copy of c that tells the gateway which client it is
// (admin.ClientHeader, e.g. "cli"), for the audit log's "via".
func (c *Client) WithLabel(label string) *Client {
	c2 := *c
	c2.label = label
	return &c2
}

// authorize sets the credential and the client label on req.
func (c *Client) authorize(req *http.Request) {
	if c.account != "" {
		req.SetBasicAuth(c.account, c.password)
	} else {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.label != "" {
		req.Header.Set(admin.ClientHeader, c.label)
	}
}

// New returns a client of the gateway at base (scheme and host, no
// /admin/), authenticated with the admin key. A nil hc means
// http.DefaultClient; userAgent may be empty.
func New(base, key string, hc *http.Client, userAgent string) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), key: key, hc: hc, userAgent: userAgent}
}

// Base returns the gateway URL the client calls, without a trailing slash.
func (c *Client) Base() string { return c.base }

// Error is a non-2xx answer: the admin API's {"error":{"type","message"}},
// or the front doors' errors of the same shape (an access rule refusing
// /admin/), or a Bedrock-style {"message"}, or, from something that is not
// Tollgate, the start of the body.
type Error struct {
	Status    int
	Type      string
	Message   string
	RequestID string
}

// Error returns the API's message with the status and request id, so an
// operator can find the request in the gateway's log.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	fmt.Fprintf(&b, " (HTTP %d", e.Status)
	if e.RequestID != "" {
		b.WriteString(", request id " + e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// UnreachableError is a request that got no HTTP answer at all.
type UnreachableError struct {
	Base string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the gateway at %s: %v", e.Base, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Do sends one request to path (under /admin/) with q as its query string
// and in, when not nil, as its JSON body, and decodes a 2xx JSON answer into
// out when out is not nil. It returns the raw answer too. A non-2xx answer
// is an *Error; no answer at all is an *UnreachableError.
func (c *Client) Do(ctx context.Context, method, path string, q url.Values, in, out any) ([]byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("adminclient: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("adminclient: build request: %w", err)
	}
	c.authorize(req)
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &UnreachableError{Base: c.base, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("adminclient: read the answer of %s %s: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, ErrorFrom(resp, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("adminclient: the answer of %s %s is not the admin API's JSON (is %s a Tollgate gateway?): %w", method, path, c.base, err)
		}
	}
	return raw, nil
}

// ErrorFrom builds the *Error of a non-2xx answer whose body is raw. It is
// exported for the other clients of the gateway's endpoints, such as
// `tollgate healthcheck`, so that they read error bodies the same way.
func ErrorFrom(resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("x-request-id")}
	var body struct {
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(raw, &body) == nil {
		switch {
		case body.Error != nil:
			e.Type, e.Message = body.Error.Type, body.Error.Message
		case body.Message != "":
			e.Message = body.Message
		}
		if e.RequestID == "" {
			e.RequestID = body.RequestID
		}
	}
	if e.Message == "" {
		e.Message = firstLine(string(raw), 200)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// firstLine returns the first non-empty line of s, cut to max runes.
func firstLine(s string, max int) string {
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if r := []rune(line); len(r) > max {
			return string(r[:max]) + "…"
		}
		return line
	}
	return ""
}

// ref makes an id, name or alias safe as one path segment.
func ref(s string) string { return url.PathEscape(s) }

// call is Do for the typed methods, which do not need the raw answer.
func call[T any](ctx context.Context, c *Client, method, path string, q url.Values, in any) (T, error) {
	var out T
	_, err := c.Do(ctx, method, path, q, in, &out)
	return out, err
}

// Delete deletes the object at path (e.g. "/admin/keys/ci").
func (c *Client) Delete(ctx context.Context, path string) error {
	_, err := c.Do(ctx, http.MethodDelete, path, nil, nil, nil)
	return err
}

// CreateUser creates a user (POST /admin/users).
func (c *Client) CreateUser(ctx context.Context, req admin.UserRequest) (admin.User, error) {
	r, err := call[admin.UserResponse](ctx, c, http.MethodPost, "/admin/users", nil, req)
	return r.User, err
}

// Users lists the users.
func (c *Client) Users(ctx context.Context) ([]admin.User, error) {
	r, err := call[admin.UsersResponse](ctx, c, http.MethodGet, "/admin/users", nil, nil)
	return r.Users, err
}

// CreateTeam creates a team named name.
func (c *Client) CreateTeam(ctx context.Context, name string) (admin.Team, error) {
	r, err := call[admin.TeamResponse](ctx, c, http.MethodPost, "/admin/teams", nil, admin.TeamRequest{Name: &name})
	return r.Team, err
}

// Teams lists the teams.
func (c *Client) Teams(ctx context.Context) ([]admin.Team, error) {
	r, err := call[admin.TeamsResponse](ctx, c, http.MethodGet, "/admin/teams", nil, nil)
	return r.Teams, err
}

// AddMember adds user (id or name) to team and returns the team.
func (c *Client) AddMember(ctx context.Context, team, user string) (admin.Team, error) {
	r, err := call[admin.TeamResponse](ctx, c, http.MethodPost, "/admin/teams/"+ref(team)+"/members", nil,
		admin.MemberRequest{User: user})
	return r.Team, err
}

// RemoveMember removes user from team.
func (c *Client) RemoveMember(ctx context.Context, team, user string) error {
	return c.Delete(ctx, "/admin/teams/"+ref(team)+"/members/"+ref(user))
}

// CreateKey creates a key, with its budget and limit when req has them, in
// one transaction. The answer holds the secret, which is shown only once.
func (c *Client) CreateKey(ctx context.Context, req admin.CreateKeyRequest) (admin.CreateKeyResponse, error) {
	return call[admin.CreateKeyResponse](ctx, c, http.MethodPost, "/admin/keys", nil, req)
}

// Keys lists keys, of one user and/or team when they are not empty.
func (c *Client) Keys(ctx context.Context, user, team string) ([]admin.Key, error) {
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
	}
	if team != "" {
		q.Set("team", team)
	}
	r, err := call[admin.KeysResponse](ctx, c, http.MethodGet, "/admin/keys", q, nil)
	return r.Keys, err
}

// Key returns the key with id or alias k.
func (c *Client) Key(ctx context.Context, k string) (admin.Key, error) {
	r, err := call[admin.KeyResponse](ctx, c, http.MethodGet, "/admin/keys/"+ref(k), nil, nil)
	return r.Key, err
}

// RevokeKey revokes the key with id or alias k.
func (c *Client) RevokeKey(ctx context.Context, k string) (admin.Key, error) {
	r, err := call[admin.KeyResponse](ctx, c, http.MethodPost, "/admin/keys/"+ref(k)+"/revoke", nil, nil)
	return r.Key, err
}

// Scope names one key, user or team (id or name) for budgets, limits and
// spend; the zero Scope means all.
type Scope struct {
	Kind string // "key", "user" or "team"
	Ref  string
}

func (s Scope) query() url.Values {
	if s.Kind == "" {
		return nil
	}
	return url.Values{s.Kind: {s.Ref}}
}

// CreateBudget creates a budget.
func (c *Client) CreateBudget(ctx context.Context, req admin.BudgetRequest) (admin.Budget, error) {
	r, err := call[admin.BudgetResponse](ctx, c, http.MethodPost, "/admin/budgets", nil, req)
	return r.Budget, err
}

// Budgets lists the budgets of s.
func (c *Client) Budgets(ctx context.Context, s Scope) ([]admin.Budget, error) {
	r, err := call[admin.BudgetsResponse](ctx, c, http.MethodGet, "/admin/budgets", s.query(), nil)
	return r.Budgets, err
}

// CreateLimit creates a rate limit.
func (c *Client) CreateLimit(ctx context.Context, req admin.LimitRequest) (admin.Limit, error) {
	r, err := call[admin.LimitResponse](ctx, c, http.MethodPost, "/admin/limits", nil, req)
	return r.Limit, err
}

// Limits lists the rate limits of s.
func (c *Client) Limits(ctx context.Context, s Scope) ([]admin.Limit, error) {
	r, err := call[admin.LimitsResponse](ctx, c, http.MethodGet, "/admin/limits", s.query(), nil)
	return r.Limits, err
}

// Spend returns the budgets of s with what the gateway enforces for them
// in the current period.
func (c *Client) Spend(ctx context.Context, s Scope) (admin.SpendResponse, error) {
	return call[admin.SpendResponse](ctx, c, http.MethodGet, "/admin/spend", s.query(), nil)
}

// Usage runs a usage query; q holds the query parameters of GET
// /admin/usage (by, since, until, granularity, tz, tag and the filters).
func (c *Client) Usage(ctx context.Context, q url.Values) (admin.UsageResponse, error) {
	return call[admin.UsageResponse](ctx, c, http.MethodGet, "/admin/usage", q, nil)
}

// UpdateKey changes the fields of the key with id or alias k that req sets.
func (c *Client) UpdateKey(ctx context.Context, k string, req admin.PatchKeyRequest) (admin.Key, error) {
	r, err := call[admin.KeyResponse](ctx, c, http.MethodPatch, "/admin/keys/"+ref(k), nil, req)
	return r.Key, err
}

// Budget returns the budget with id b.
func (c *Client) Budget(ctx context.Context, b string) (admin.Budget, error) {
	r, err := call[admin.BudgetResponse](ctx, c, http.MethodGet, "/admin/budgets/"+ref(b), nil, nil)
	return r.Budget, err
}

// UpdateBudget changes the fields of budget b that req sets.
func (c *Client) UpdateBudget(ctx context.Context, b string, req admin.PatchBudgetRequest) (admin.Budget, error) {
	r, err := call[admin.BudgetResponse](ctx, c, http.MethodPatch, "/admin/budgets/"+ref(b), nil, req)
	return r.Budget, err
}

// UpdateLimit changes the fields of rate limit l that req sets.
func (c *Client) UpdateLimit(ctx context.Context, l string, req admin.PatchLimitRequest) (admin.Limit, error) {
	r, err := call[admin.LimitResponse](ctx, c, http.MethodPatch, "/admin/limits/"+ref(l), nil, req)
	return r.Limit, err
}

// DeleteUser deletes the user with id or name u.
func (c *Client) DeleteUser(ctx context.Context, u string) error {
	return c.Delete(ctx, "/admin/users/"+ref(u))
}

// DeleteTeam deletes the team with id or name t.
func (c *Client) DeleteTeam(ctx context.Context, t string) error {
	return c.Delete(ctx, "/admin/teams/"+ref(t))
}

// DeleteKey deletes the key with id or alias k.
func (c *Client) DeleteKey(ctx context.Context, k string) error {
	return c.Delete(ctx, "/admin/keys/"+ref(k))
}

// DeleteBudget deletes the budget with id b.
func (c *Client) DeleteBudget(ctx context.Context, b string) error {
	return c.Delete(ctx, "/admin/budgets/"+ref(b))
}

// DeleteLimit deletes the rate limit with id l.
func (c *Client) DeleteLimit(ctx context.Context, l string) error {
	return c.Delete(ctx, "/admin/limits/"+ref(l))
}

// UsageCSV runs a usage query as GET /admin/usage.csv does and returns the
// CSV as the gateway wrote it.
func (c *Client) UsageCSV(ctx context.Context, q url.Values) ([]byte, error) {
	return c.Do(ctx, http.MethodGet, "/admin/usage.csv", q, nil, nil)
}

// LiveUsage opens the live usage feed (GET /admin/usage/live), which runs
// until ctx ends: the client's timeout, meant for one answer, does not
// apply. Read it with anthropic.NewSSEReader; each "usage" event's data is
// an admin.LiveRecord. The caller closes the body.
func (c *Client) LiveUsage(ctx context.Context) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/admin/usage/live", nil)
	if err != nil {
		return nil, fmt.Errorf("adminclient: build request: %w", err)
	}
	c.authorize(req)
	req.Header.Set("Accept", "text/event-stream")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := (&http.Client{Transport: c.hc.Transport}).Do(req)
	if err != nil {
		return nil, &UnreachableError{Base: c.base, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, ErrorFrom(resp, raw)
	}
	return resp.Body, nil
}

// RotateKey gives the key with id or alias k a new secret, in the answer
// only; with a non-empty overlap ("1h") the old secret keeps working until
// the answer's PreviousExpiresAt.
func (c *Client) RotateKey(ctx context.Context, k, overlap string) (admin.RotateKeyResponse, error) {
	return call[admin.RotateKeyResponse](ctx, c, http.MethodPost, "/admin/keys/"+ref(k)+"/rotate", nil,
		admin.RotateKeyRequest{Overlap: overlap})
}

// Whoami returns the principal the client is signed in as.
func (c *Client) Whoami(ctx context.Context) (admin.WhoamiResponse, error) {
	return call[admin.WhoamiResponse](ctx, c, http.MethodGet, "/admin/whoami", nil, nil)
}

// Accounts lists the admin accounts.
func (c *Client) Accounts(ctx context.Context) ([]admin.Account, error) {
	r, err := call[admin.AccountsResponse](ctx, c, http.MethodGet, "/admin/accounts", nil, nil)
	return r.Accounts, err
}

// CreateAccount creates an admin account.
func (c *Client) CreateAccount(ctx context.Context, req admin.AccountRequest) (admin.Account, error) {
	r, err := call[admin.AccountResponse](ctx, c, http.MethodPost, "/admin/accounts", nil, req)
	return r.Account, err
}

// UpdateAccount changes the admin account with id or name a.
func (c *Client) UpdateAccount(ctx context.Context, a string, req admin.AccountRequest) (admin.Account, error) {
	r, err := call[admin.AccountResponse](ctx, c, http.MethodPatch, "/admin/accounts/"+ref(a), nil, req)
	return r.Account, err
}

// DeleteAccount deletes the admin account with id or name a.
func (c *Client) DeleteAccount(ctx context.Context, a string) error {
	return c.Delete(ctx, "/admin/accounts/"+ref(a))
}

// Tokens lists the scoped admin tokens.
func (c *Client) Tokens(ctx context.Context) ([]admin.Token, error) {
	r, err := call[admin.TokensResponse](ctx, c, http.MethodGet, "/admin/tokens", nil, nil)
	return r.Tokens, err
}

// CreateToken creates a scoped admin token; its secret is in the answer
// only.
func (c *Client) CreateToken(ctx context.Context, req admin.TokenRequest) (admin.CreateTokenResponse, error) {
	return call[admin.CreateTokenResponse](ctx, c, http.MethodPost, "/admin/tokens", nil, req)
}

// RevokeToken revokes the token with id or name t.
func (c *Client) RevokeToken(ctx context.Context, t string) (admin.Token, error) {
	r, err := call[admin.TokenResponse](ctx, c, http.MethodPost, "/admin/tokens/"+ref(t)+"/revoke", nil, nil)
	return r.Token, err
}

// Audit reads one page of the audit log (GET /admin/audit) with the query
// q (actor, target, action, since, until, limit, cursor).
func (c *Client) Audit(ctx context.Context, q url.Values) (admin.AuditResponse, error) {
	return call[admin.AuditResponse](ctx, c, http.MethodGet, "/admin/audit", q, nil)
}

// Models lists every route the gateway serves, with its source.
func (c *Client) Models(ctx context.Context) ([]admin.Model, error) {
	r, err := call[admin.ModelsResponse](ctx, c, http.MethodGet, "/admin/models", nil, nil)
	return r.Models, err
}

// Model returns the route named name.
func (c *Client) Model(ctx context.Context, name string) (admin.Model, error) {
	r, err := call[admin.ModelResponse](ctx, c, http.MethodGet, "/admin/models/"+ref(name), nil, nil)
	return r.Model, err
}

// CreateModel adds a runtime model.
func (c *Client) CreateModel(ctx context.Context, req admin.ModelRequest) (admin.Model, error) {
	r, err := call[admin.ModelResponse](ctx, c, http.MethodPost, "/admin/models", nil, req)
	return r.Model, err
}

// UpdateModel changes a runtime model; absent fields are left alone.
func (c *Client) UpdateModel(ctx context.Context, name string, req admin.ModelRequest) (admin.Model, error) {
	r, err := call[admin.ModelResponse](ctx, c, http.MethodPatch, "/admin/models/"+ref(name), nil, req)
	return r.Model, err
}

// DeleteModel removes a runtime model.
func (c *Client) DeleteModel(ctx context.Context, name string) error {
	return c.Delete(ctx, "/admin/models/"+ref(name))
}

// TestModel sends a one-token call through the route named name.
func (c *Client) TestModel(ctx context.Context, name string) (admin.ModelTestResult, error) {
	return call[admin.ModelTestResult](ctx, c, http.MethodPost, "/admin/models/"+ref(name)+"/test", nil, nil)
}
