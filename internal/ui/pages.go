package ui

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// pageSize is the rows of one page of a table.
const pageSize = 50

// pager is one page of a table: the rows shown and the link to the next.
type pager struct {
	Page    int
	NextURL string
}

// paginate returns page ?page= of rows and the pager.
func paginate[T any](r *http.Request, rows []T) ([]T, pager) {
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	p = max(p, 1)
	lo := min((p-1)*pageSize, len(rows))
	hi := min(lo+pageSize, len(rows))
	pg := pager{Page: p}
	if hi < len(rows) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p+1))
		pg.NextURL = r.URL.Path + "?" + q.Encode()
	}
	return rows[lo:hi], pg
}

// failed turns an admin API refusal into the message shown on the form;
// any other error is returned for the error page.
func failed(err error) (string, error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 {
		return ae.Message, nil
	}
	return "", err
}

// seeOther redirects after a successful POST, so a reload does not post
// again; ok names the notice shown.
func seeOther(w http.ResponseWriter, r *http.Request, path, ok string) error {
	http.Redirect(w, r, path+"?ok="+ok, http.StatusSeeOther)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func parseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &apiError{Status: http.StatusBadRequest, Message: "tags: " + strconv.Quote(kv) + " is not name=value"}
		}
		tags[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return tags, nil
}

func parseInts(field, s string) ([]int, error) {
	out := []int{}
	for _, v := range splitList(s) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, &apiError{Status: http.StatusBadRequest, Message: field + ": " + strconv.Quote(v) + " is not a whole number"}
		}
		out = append(out, n)
	}
	return out, nil
}

// forbidden reports whether err is the admin API refusing the principal's
// role.
func forbidden(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden
}

// usage runs an admin usage query. A team admin of several teams sees the
// usage of each of them (the API answers one team at a time), merged.
func (c *Console) usage(r *http.Request, s *session, q url.Values) (admin.UsageResponse, error) {
	var out admin.UsageResponse
	teams := teamScope(s.Principal)
	if len(teams) < 2 || q.Get("team") != "" {
		err := c.admin(r.Context(), s, "GET", "/admin/usage", q, nil, &out)
		return out, err
	}
	type key struct {
		t     int64
		group string
	}
	index := map[key]int{}
	for _, t := range teams {
		tq := url.Values{}
		for k, v := range q {
			tq[k] = v
		}
		tq.Set("team", t)
		var part admin.UsageResponse
		if err := c.admin(r.Context(), s, "GET", "/admin/usage", tq, nil, &part); err != nil {
			return out, err
		}
		rows := out.Rows
		out, out.Rows = part, rows
		for _, row := range part.Rows {
			k := key{group: row.Group}
			if row.Time != nil {
				k.t = row.Time.UnixMilli()
			}
			if i, ok := index[k]; ok {
				m := &out.Rows[i]
				m.Requests += row.Requests
				m.Errors += row.Errors
				m.Unpriced += row.Unpriced
				m.Counts.Add(row.Counts)
				m.TotalTokens += row.TotalTokens
				m.CostUSDMicros += row.CostUSDMicros
				m.CostUSD = admin.USD(m.CostUSDMicros)
				continue
			}
			index[k] = len(out.Rows)
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// directory names users and teams for tables of ids.
type directory struct {
	Users []admin.User
	Teams []admin.Team
	user  map[string]string
	team  map[string]string
}

func (c *Console) directory(r *http.Request, s *session) (*directory, error) {
	var us admin.UsersResponse
	var ts admin.TeamsResponse
	// A role that may not list users or teams still gets its page, with
	// ids where the names would be.
	if err := c.admin(r.Context(), s, "GET", "/admin/users", nil, nil, &us); err != nil && !forbidden(err) {
		return nil, err
	}
	if err := c.admin(r.Context(), s, "GET", "/admin/teams", nil, nil, &ts); err != nil && !forbidden(err) {
		return nil, err
	}
	d := &directory{Users: us.Users, Teams: ts.Teams, user: map[string]string{}, team: map[string]string{}}
	for _, u := range us.Users {
		d.user[u.ID] = u.Name
	}
	for _, t := range ts.Teams {
		d.team[t.ID] = t.Name
	}
	return d, nil
}

// UserName and TeamName show a name for an id (the id itself when the
// user or team is gone).
func (d *directory) UserName(id string) string { return cmp.Or(d.user[id], id) }
func (d *directory) TeamName(id string) string { return cmp.Or(d.team[id], id) }

// ---- Overview ----

type overviewData struct {
	By             string
	Bys            []string
	Today, Month   admin.UsageRow
	Chart          *chart
	Top            []admin.UsageRow
	Budgets        []admin.BudgetSpend
	Generated      time.Time
	FragmentSource string
}

func sumRows(rows []admin.UsageRow) admin.UsageRow {
	var t admin.UsageRow
	for _, r := range rows {
		t.Requests += r.Requests
		t.Errors += r.Errors
		t.Counts.Add(r.Counts)
		t.TotalTokens += r.TotalTokens
		t.CostUSDMicros += r.CostUSDMicros
	}
	return t
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (c *Console) overviewData(r *http.Request, s *session) (*overviewData, error) {
	ctx := r.Context()
	now := c.opts.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	by := r.URL.Query().Get("by")
	if by != store.ByUser && by != store.ByTeam {
		by = store.ByModel
	}
	d := &overviewData{By: by, Bys: []string{store.ByModel, store.ByUser, store.ByTeam}, Generated: now,
		FragmentSource: "/ui/fragments/overview?by=" + by}
	today, err := c.usage(r, s, url.Values{"by": {"model"}, "since": {rfc(day)}})
	if err != nil {
		return nil, err
	}
	monthly, err := c.usage(r, s, url.Values{"by": {"user"}, "since": {rfc(month)}})
	if err != nil {
		return nil, err
	}
	// Daily bars over two weeks: whole days come from the daily rollup,
	// and a hundred users make 1,400 points rather than 33,600 hourly ones.
	since := day.Add(-13 * 24 * time.Hour)
	series, err := c.usage(r, s, url.Values{"by": {by}, "since": {rfc(since)}, "granularity": {"day"}})
	if err != nil {
		return nil, err
	}
	var spend admin.SpendResponse
	if err := c.admin(ctx, s, "GET", "/admin/spend", nil, nil, &spend); err != nil {
		return nil, err
	}
	l := langFor(r)
	d.Today, d.Month = sumRows(today.Rows), sumRows(monthly.Rows)
	d.Chart = buildChart(l, l.T("chart.label", l.T("by."+by)), series.Rows, since, now, 24*time.Hour)
	top := slices.Clone(monthly.Rows)
	slices.SortStableFunc(top, func(a, b admin.UsageRow) int { return cmp.Compare(b.CostUSDMicros, a.CostUSDMicros) })
	d.Top = top[:min(len(top), 10)]
	d.Budgets = spend.Budgets
	return d, nil
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.overviewData(r, s)
	if err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, "overview", "overview", d, "")
}

func (c *Console) overviewFragment(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.overviewData(r, s)
	if err != nil {
		return err
	}
	return c.renderFragment(w, r, s, "overview", "live", d)
}

// ---- Live requests ----

type requestsData struct {
	Calls      []store.Call
	Dir        *directory
	Filter     store.CallFilter
	Query      string
	OlderURL   string
	Live       bool
	FragmentQ  string
	ModelNames []string
}

// teamScope is the team filter of the direct store reads: a team admin
// sees the calls of their teams only.
func teamScope(p authz.Principal) []string {
	if p.Role == authz.TeamAdmin {
		return append([]string{}, p.Teams...)
	}
	return nil
}

func (c *Console) requestsData(r *http.Request, s *session) (*requestsData, error) {
	q := r.URL.Query()
	f := store.CallFilter{KeyID: q.Get("key"), UserID: q.Get("user"), TeamID: q.Get("team"), Model: q.Get("model"),
		ErrorsOnly: q.Get("errors") == "1", Teams: teamScope(s.Principal)}
	if b, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil {
		f.Before = time.UnixMilli(b)
	}
	calls, err := c.opts.Store.RecentCalls(r.Context(), f, pageSize)
	if err != nil {
		return nil, err
	}
	dir, err := c.directory(r, s)
	if err != nil {
		return nil, err
	}
	fq := url.Values{}
	for _, k := range []string{"key", "user", "team", "model", "errors"} {
		if v := q.Get(k); v != "" {
			fq.Set(k, v)
		}
	}
	d := &requestsData{Calls: calls, Dir: dir, Filter: f, Live: f.Before.IsZero(), FragmentQ: "/ui/fragments/requests?" + fq.Encode()}
	if len(calls) == pageSize {
		oq := url.Values{}
		for k, v := range fq {
			oq[k] = v
		}
		oq.Set("before", strconv.FormatInt(calls[len(calls)-1].Time.UnixMilli(), 10))
		d.OlderURL = "/ui/requests?" + oq.Encode()
	}
	return d, nil
}

func (c *Console) requests(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.requestsData(r, s)
	if err != nil {
		return err
	}
	return c.render(w, r, s, http.StatusOK, "requests", "requests", d, "")
}

func (c *Console) requestsFragment(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := c.requestsData(r, s)
	if err != nil {
		return err
	}
	return c.renderFragment(w, r, s, "requests", "rows", d)
}

type requestData struct {
	Call store.Call
	Dir  *directory
	Tags []string
}

func (c *Console) request(w http.ResponseWriter, r *http.Request, s *session) error {
	call, err := c.opts.Store.CallByRequestID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{Status: http.StatusNotFound, Msg: "err.notfound"}
	}
	if err != nil {
		return err
	}
	if teams := teamScope(s.Principal); teams != nil && !slices.Contains(teams, call.TeamID) {
		return &pageError{Status: http.StatusNotFound, Msg: "err.notfound"}
	}
	dir, err := c.directory(r, s)
	if err != nil {
		return err
	}
	d := &requestData{Call: call, Dir: dir}
	for k, v := range call.Tags {
		d.Tags = append(d.Tags, k+"="+v)
	}
	slices.Sort(d.Tags)
	return c.render(w, r, s, http.StatusOK, "request", "requests", d, "")
}

// ---- Keys ----

type keysData struct {
	Keys  []admin.Key
	Pager pager
	Dir   *directory
}

func (c *Console) keysView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	var ks admin.KeysResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/keys", nil, nil, &ks); err != nil {
		return err
	}
	dir, err := c.directory(r, s)
	if err != nil {
		return err
	}
	d := &keysData{Dir: dir}
	d.Keys, d.Pager = paginate(r, ks.Keys)
	return c.render(w, r, s, status, "keys", "keys", d, msg)
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.keysView(w, r, s, http.StatusOK, "")
}

// secretData is the page that shows a new secret, once, with the snippets
// that use it.
type secretData struct {
	Key               admin.Key
	Secret            string
	BaseURL           string
	Rotated           bool
	PreviousExpiresAt *time.Time
}

// baseURL is the gateway's address as the browser reached it: what the
// snippets tell clients to use.
func baseURL(r *http.Request) string {
	scheme := "http"
	if secureRequest(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{}
	if v := strings.TrimSpace(r.PostFormValue("alias")); v != "" {
		req["alias"] = v
	}
	for _, f := range []string{"user", "team", "expires_in"} {
		if v := strings.TrimSpace(r.PostFormValue(f)); v != "" {
			req[f] = v
		}
	}
	if m := splitList(r.PostFormValue("models")); len(m) > 0 {
		req["models"] = m
	}
	tags, err := parseTags(r.PostFormValue("tags"))
	if err != nil {
		return c.keysView(w, r, s, http.StatusBadRequest, err.(*apiError).Message)
	}
	if len(tags) > 0 {
		req["tags"] = tags
	}
	if v := strings.TrimSpace(r.PostFormValue("budget_usd")); v != "" {
		req["budget"] = map[string]any{"limit_usd": json.Number(v), "period": cmp.Or(r.PostFormValue("period"), "month")}
	}
	var out admin.CreateKeyResponse
	if err := c.admin(r.Context(), s, "POST", "/admin/keys", nil, req, &out); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.keysView(w, r, s, http.StatusBadRequest, msg)
	}
	return c.render(w, r, s, http.StatusCreated, "secret", "keys", &secretData{Key: out.Key, Secret: out.Secret, BaseURL: baseURL(r)}, "")
}

type keyData struct {
	Key admin.Key
	Dir *directory
}

func (c *Console) keyView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	var k admin.KeyResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/keys/"+url.PathEscape(r.PathValue("id")), nil, nil, &k); err != nil {
		return err
	}
	dir, err := c.directory(r, s)
	if err != nil {
		return err
	}
	return c.render(w, r, s, status, "key", "keys", &keyData{Key: k.Key, Dir: dir}, msg)
}

func (c *Console) key(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.keyView(w, r, s, http.StatusOK, "")
}

func (c *Console) editKey(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	req := map[string]any{}
	switch r.PostFormValue("action") {
	case "disable":
		req["disabled"] = true
	case "enable":
		req["disabled"] = false
	default:
		req["alias"] = strings.TrimSpace(r.PostFormValue("alias"))
		models := splitList(r.PostFormValue("models"))
		if models == nil {
			models = []string{} // every model
		}
		req["models"] = models
		if v := strings.TrimSpace(r.PostFormValue("expires_in")); v != "" {
			req["expires_in"] = v
		}
	}
	if err := c.admin(r.Context(), s, "PATCH", "/admin/keys/"+url.PathEscape(id), nil, req, nil); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.keyView(w, r, s, http.StatusBadRequest, msg)
	}
	return seeOther(w, r, "/ui/keys/"+url.PathEscape(id), "saved")
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request, s *session) error {
	var out admin.RotateKeyResponse
	req := map[string]any{}
	if v := strings.TrimSpace(r.PostFormValue("overlap")); v != "" {
		req["overlap"] = v
	}
	if err := c.admin(r.Context(), s, "POST", "/admin/keys/"+url.PathEscape(r.PathValue("id"))+"/rotate", nil, req, &out); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.keyView(w, r, s, http.StatusBadRequest, msg)
	}
	return c.render(w, r, s, http.StatusOK, "secret", "keys", &secretData{Key: out.Key, Secret: out.Secret, BaseURL: baseURL(r),
		Rotated: true, PreviousExpiresAt: out.PreviousExpiresAt}, "")
}

func (c *Console) deleteKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.admin(r.Context(), s, "DELETE", "/admin/keys/"+url.PathEscape(r.PathValue("id")), nil, nil, nil); err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.keyView(w, r, s, http.StatusBadRequest, msg)
	}
	return seeOther(w, r, "/ui/keys", "deleted")
}

// ---- Users and teams ----

type usersData struct {
	Users []admin.User
	Pager pager
}

func (c *Console) usersView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	var us admin.UsersResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/users", nil, nil, &us); err != nil {
		return err
	}
	d := &usersData{}
	d.Users, d.Pager = paginate(r, us.Users)
	return c.render(w, r, s, status, "users", "users", d, msg)
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.usersView(w, r, s, http.StatusOK, "")
}

// mutate runs one admin write for a form and either redirects to back
// with a notice or shows the API's refusal on the page view renders.
func (c *Console) mutate(w http.ResponseWriter, r *http.Request, s *session, method, path string, req any, back, ok string,
	view func(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error) error {
	if err := c.admin(r.Context(), s, method, path, nil, req, nil); err != nil {
		status := http.StatusBadRequest
		if forbidden(err) {
			status = http.StatusForbidden // the role's refusal, as the API said it
		}
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return view(w, r, s, status, msg)
	}
	return seeOther(w, r, back, ok)
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{"name": strings.TrimSpace(r.PostFormValue("name"))}
	if v := strings.TrimSpace(r.PostFormValue("email")); v != "" {
		req["email"] = v
	}
	return c.mutate(w, r, s, "POST", "/admin/users", req, "/ui/users", "created", c.usersView)
}

func (c *Console) editUser(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{"disabled": r.PostFormValue("action") == "disable"}
	return c.mutate(w, r, s, "PATCH", "/admin/users/"+url.PathEscape(r.PathValue("id")), req, "/ui/users", "saved", c.usersView)
}

func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.mutate(w, r, s, "DELETE", "/admin/users/"+url.PathEscape(r.PathValue("id")), nil, "/ui/users", "deleted", c.usersView)
}

type teamsData struct {
	Teams []admin.Team
	Pager pager
}

func (c *Console) teamsView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	var ts admin.TeamsResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/teams", nil, nil, &ts); err != nil {
		return err
	}
	d := &teamsData{}
	d.Teams, d.Pager = paginate(r, ts.Teams)
	return c.render(w, r, s, status, "teams", "teams", d, msg)
}

func (c *Console) teams(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.teamsView(w, r, s, http.StatusOK, "")
}

func (c *Console) createTeam(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{"name": strings.TrimSpace(r.PostFormValue("name"))}
	return c.mutate(w, r, s, "POST", "/admin/teams", req, "/ui/teams", "created", c.teamsView)
}

func (c *Console) addMember(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{"user": strings.TrimSpace(r.PostFormValue("user"))}
	return c.mutate(w, r, s, "POST", "/admin/teams/"+url.PathEscape(r.PathValue("id"))+"/members", req, "/ui/teams", "saved", c.teamsView)
}

func (c *Console) removeMember(w http.ResponseWriter, r *http.Request, s *session) error {
	path := "/admin/teams/" + url.PathEscape(r.PathValue("id")) + "/members/" + url.PathEscape(r.PathValue("user"))
	return c.mutate(w, r, s, "DELETE", path, nil, "/ui/teams", "saved", c.teamsView)
}

func (c *Console) deleteTeam(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.mutate(w, r, s, "DELETE", "/admin/teams/"+url.PathEscape(r.PathValue("id")), nil, "/ui/teams", "deleted", c.teamsView)
}

// ---- Budgets and limits ----

type budgetsData struct {
	Budgets []admin.BudgetSpend
	Pager   pager
	Periods []string
}

var periods = []string{"day", "week", "month", "total"}

func (c *Console) budgetsView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	var sp admin.SpendResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/spend", nil, nil, &sp); err != nil {
		return err
	}
	d := &budgetsData{Periods: periods}
	d.Budgets, d.Pager = paginate(r, sp.Budgets)
	return c.render(w, r, s, status, "budgets", "budgets", d, msg)
}

func (c *Console) budgets(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.budgetsView(w, r, s, http.StatusOK, "")
}

// budgetFields reads the amount fields shared by the create and edit
// forms; an empty field is left out (create) or cleared (edit, clear).
func budgetFields(r *http.Request, req map[string]any, clear bool) error {
	if v := strings.TrimSpace(r.PostFormValue("limit_usd")); v != "" {
		req["limit_usd"] = json.Number(v)
	} else if clear {
		req["limit_usd"] = nil
	}
	if v := strings.TrimSpace(r.PostFormValue("limit_tokens")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return &apiError{Status: http.StatusBadRequest, Message: "limit (tokens): " + strconv.Quote(v) + " is not a whole number"}
		}
		req["limit_tokens"] = n
	} else if clear {
		req["limit_tokens"] = nil
	}
	if v := strings.TrimSpace(r.PostFormValue("thresholds")); v != "" {
		t, err := parseInts("thresholds", v)
		if err != nil {
			return err
		}
		req["thresholds"] = t
	}
	if v := strings.TrimSpace(r.PostFormValue("timezone")); v != "" {
		req["timezone"] = v
	}
	return nil
}

func (c *Console) createBudget(w http.ResponseWriter, r *http.Request, s *session) error {
	kind := r.PostFormValue("scope_kind")
	if kind != "key" && kind != "user" && kind != "team" {
		return c.budgetsView(w, r, s, http.StatusBadRequest, "scope: choose key, user or team")
	}
	req := map[string]any{kind: strings.TrimSpace(r.PostFormValue("scope")), "period": r.PostFormValue("period")}
	if err := budgetFields(r, req, false); err != nil {
		return c.budgetsView(w, r, s, http.StatusBadRequest, err.(*apiError).Message)
	}
	return c.mutate(w, r, s, "POST", "/admin/budgets", req, "/ui/budgets", "created", c.budgetsView)
}

type budgetData struct {
	Budget  admin.BudgetSpend
	Periods []string
}

func (c *Console) budgetView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	id := r.PathValue("id")
	var sp admin.SpendResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/spend", nil, nil, &sp); err != nil {
		return err
	}
	for _, b := range sp.Budgets {
		if b.ID == id {
			return c.render(w, r, s, status, "budget", "budgets", &budgetData{Budget: b, Periods: periods}, msg)
		}
	}
	return &pageError{Status: http.StatusNotFound, Msg: "err.notfound"}
}

func (c *Console) budget(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.budgetView(w, r, s, http.StatusOK, "")
}

func (c *Console) editBudget(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{}
	if err := budgetFields(r, req, true); err != nil {
		return c.budgetView(w, r, s, http.StatusBadRequest, err.(*apiError).Message)
	}
	if p := r.PostFormValue("period"); p != "" {
		req["period"] = p
	}
	id := url.PathEscape(r.PathValue("id"))
	return c.mutate(w, r, s, "PATCH", "/admin/budgets/"+id, req, "/ui/budgets/"+id, "saved", c.budgetView)
}

func (c *Console) deleteBudget(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.mutate(w, r, s, "DELETE", "/admin/budgets/"+url.PathEscape(r.PathValue("id")), nil, "/ui/budgets", "deleted", c.budgetView)
}

type limitsData struct {
	Limits []admin.Limit
	Pager  pager
}

func (c *Console) limitsView(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) error {
	var ls admin.LimitsResponse
	if err := c.admin(r.Context(), s, "GET", "/admin/limits", nil, nil, &ls); err != nil {
		return err
	}
	d := &limitsData{}
	d.Limits, d.Pager = paginate(r, ls.Limits)
	return c.render(w, r, s, status, "limits", "limits", d, msg)
}

func (c *Console) limitsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.limitsView(w, r, s, http.StatusOK, "")
}

func limitFields(r *http.Request, req map[string]any) error {
	for _, f := range []string{"rpm", "tpm", "concurrent"} {
		v := strings.TrimSpace(r.PostFormValue(f))
		if v == "" {
			v = "0"
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return &apiError{Status: http.StatusBadRequest, Message: f + ": " + strconv.Quote(v) + " is not a whole number"}
		}
		req[f] = n
	}
	return nil
}

func (c *Console) createLimit(w http.ResponseWriter, r *http.Request, s *session) error {
	kind := r.PostFormValue("scope_kind")
	if kind != "key" && kind != "user" && kind != "team" {
		return c.limitsView(w, r, s, http.StatusBadRequest, "scope: choose key, user or team")
	}
	req := map[string]any{kind: strings.TrimSpace(r.PostFormValue("scope"))}
	if err := limitFields(r, req); err != nil {
		return c.limitsView(w, r, s, http.StatusBadRequest, err.(*apiError).Message)
	}
	return c.mutate(w, r, s, "POST", "/admin/limits", req, "/ui/limits", "created", c.limitsView)
}

func (c *Console) editLimit(w http.ResponseWriter, r *http.Request, s *session) error {
	req := map[string]any{}
	if err := limitFields(r, req); err != nil {
		return c.limitsView(w, r, s, http.StatusBadRequest, err.(*apiError).Message)
	}
	return c.mutate(w, r, s, "PATCH", "/admin/limits/"+url.PathEscape(r.PathValue("id")), req, "/ui/limits", "saved", c.limitsView)
}

func (c *Console) deleteLimit(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.mutate(w, r, s, "DELETE", "/admin/limits/"+url.PathEscape(r.PathValue("id")), nil, "/ui/limits", "deleted", c.limitsView)
}

// ---- Usage explorer ----

type explorerData struct {
	By, Range, Granularity, Tag, Model string
	Bys, Ranges, Granularities         []string
	Rows                               []admin.UsageRow
	Total                              admin.UsageRow
	Pager                              pager
	Chart                              *chart
	CSVURL                             string
	HourCapped                         bool
}

var ranges = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

// explorerQuery reads the explorer's form into an admin usage query.
func (c *Console) explorerQuery(r *http.Request) (*explorerData, url.Values) {
	q := r.URL.Query()
	d := &explorerData{By: q.Get("by"), Range: q.Get("range"), Granularity: q.Get("granularity"), Tag: strings.TrimSpace(q.Get("tag")),
		Model: strings.TrimSpace(q.Get("model")),
		Bys:   []string{"user", "team", "key", "model", "tag", "session"}, Ranges: []string{"24h", "7d", "30d", "90d"},
		Granularities: []string{"total", "day", "hour"}}
	if !slices.Contains(d.Bys, d.By) {
		d.By = "user"
	}
	if _, ok := ranges[d.Range]; !ok {
		d.Range = "7d"
	}
	if !slices.Contains(d.Granularities, d.Granularity) {
		d.Granularity = "total"
	}
	// Hourly buckets cover one day at most: a week of hours by user is
	// 16,800 rows, too many to read, chart and page in 200 ms.
	if d.Granularity == "hour" && d.Range != "24h" {
		d.Range, d.HourCapped = "24h", true
	}
	since := c.opts.Now().UTC().Truncate(time.Hour).Add(-ranges[d.Range])
	aq := url.Values{"by": {d.By}, "since": {rfc(since)}, "granularity": {d.Granularity}}
	if d.By == "tag" && d.Tag != "" {
		aq.Set("tag", d.Tag)
	}
	if d.Model != "" {
		aq.Set("model", d.Model)
	}
	cq := url.Values{"by": {d.By}, "range": {d.Range}, "granularity": {d.Granularity}}
	if d.Tag != "" {
		cq.Set("tag", d.Tag)
	}
	if d.Model != "" {
		cq.Set("model", d.Model)
	}
	d.CSVURL = "/ui/usage.csv?" + cq.Encode()
	return d, aq
}

func (c *Console) explorer(w http.ResponseWriter, r *http.Request, s *session) error {
	d, aq := c.explorerQuery(r)
	if d.By == "tag" && d.Tag == "" {
		return c.render(w, r, s, http.StatusOK, "usage", "usage", d, "")
	}
	u, err := c.usage(r, s, aq)
	if err != nil {
		msg, err := failed(err)
		if err != nil {
			return err
		}
		return c.render(w, r, s, http.StatusBadRequest, "usage", "usage", d, msg)
	}
	d.Total = sumRows(u.Rows)
	if d.Granularity != "total" && u.Since != nil && u.Until != nil {
		step := time.Hour
		if d.Granularity == "day" {
			step = 24 * time.Hour
		}
		l := langFor(r)
		d.Chart = buildChart(l, l.T("chart.label", l.T("by."+d.By)), u.Rows, *u.Since, *u.Until, step)
	}
	rows := u.Rows
	if d.Granularity == "total" {
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b admin.UsageRow) int { return cmp.Compare(b.CostUSDMicros, a.CostUSDMicros) })
	}
	d.Rows, d.Pager = paginate(r, rows)
	return c.render(w, r, s, http.StatusOK, "usage", "usage", d, "")
}

// explorerCSV is the admin API's CSV export of the explorer's query.
func (c *Console) explorerCSV(w http.ResponseWriter, r *http.Request, s *session) error {
	_, aq := c.explorerQuery(r)
	rec, err := c.adminRaw(r.Context(), s.Principal, "GET", "/admin/usage.csv", aq, nil)
	if err != nil {
		return err
	}
	for _, h := range []string{"Content-Type", "Content-Disposition", "Cache-Control"} {
		w.Header().Set(h, rec.h.Get(h))
	}
	_, err = w.Write(rec.body.Bytes())
	return err
}
