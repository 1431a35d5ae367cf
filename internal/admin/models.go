package admin

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// Model sources: where a route comes from (Model.Source).
const (
	SourceFile     = "file"     // the config file's models:
	SourceDatabase = "database" // added at run time, /admin/models
	SourceCatalog  = "catalog"  // the built-in catalog
	SourcePattern  = "pattern"  // a routing.patterns rule: a family of names
)

// ModelRuntime is the gateway's side of /admin/models: what the config file
// says, what the gateway serves, and a way to try a route. The store holds
// runtime models; only the gateway knows the config in force, so it checks
// a model before it is stored and lists every route with its source. The
// gateway implements it; without one, the API lists the database's models
// alone and cannot test them.
type ModelRuntime interface {
	// Check validates m against the configuration in force: known
	// providers, upstream ids that suit them. It returns an
	// *apierror.Error (400) naming the field.
	Check(m store.Model) error
	// Routes lists every route: file models, then database models (a
	// database model whose name a file model holds is listed, flagged,
	// after it), then catalog models, then patterns.
	Routes(ctx context.Context) ([]Model, error)
	// Test sends a one-token call for name through the routing in force.
	Test(ctx context.Context, name string) ModelTestResult
}

// Model is one route as GET /admin/models lists it.
type Model struct {
	Name string `json:"name"`
	// Source is file, database, catalog or pattern.
	Source      string        `json:"source"`
	DisplayName string        `json:"display_name,omitempty"`
	Aliases     []string      `json:"aliases"`
	Strategy    string        `json:"strategy"`
	DropBetas   []string      `json:"drop_betas"`
	DropFields  []string      `json:"drop_fields"`
	Targets     []ModelTarget `json:"targets"`
	// Price is the model's own price (database models that set one), else
	// the price the gateway charges for its first target; null when none
	// is known (calls are recorded unpriced).
	Price *ModelPrice `json:"price"`
	// PriceSource is database, file, catalog or none.
	PriceSource string `json:"price_source"`
	// Served is false for a database model the gateway does not route:
	// Problem says why (a clash with a file model, which wins, or a
	// provider the config no longer has).
	Served  bool   `json:"served"`
	Problem string `json:"problem,omitempty"`
	// ClashesWith names the file model that holds this database model's
	// name.
	ClashesWith string `json:"clashes_with,omitempty"`
	// Database models only.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	UpdatedBy string     `json:"updated_by,omitempty"`
}

// ModelTarget is one target of a model, in the config file's terms.
type ModelTarget struct {
	Provider       string   `json:"provider"`
	Model          string   `json:"model"`
	Weight         *int     `json:"weight,omitempty"`
	MaxConcurrent  int      `json:"max_concurrent,omitempty"`
	QueueTimeoutMS int64    `json:"queue_timeout_ms,omitempty"`
	DropBetas      []string `json:"drop_betas,omitempty"`
	DropFields     []string `json:"drop_fields,omitempty"`
}

// ModelPrice is a price in USD per million tokens, by kind.
type ModelPrice struct {
	Input        float64 `json:"input"`
	Output       float64 `json:"output"`
	CacheWrite5m float64 `json:"cache_write_5m"`
	CacheWrite1h float64 `json:"cache_write_1h"`
	CacheRead    float64 `json:"cache_read"`
}

// ModelTestResult answers POST /admin/models/{name}/test.
type ModelTestResult struct {
	OK        bool    `json:"ok"`
	Model     string  `json:"model"`
	Provider  string  `json:"provider,omitempty"`
	Target    string  `json:"target,omitempty"`
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Attempts  int     `json:"attempts"`
	RequestID string  `json:"request_id"`
	// UpstreamRequestID is the provider's id of the call, for its support.
	UpstreamRequestID string `json:"upstream_request_id,omitempty"`
	// ErrorOrigin is client, gateway or upstream when the call failed.
	ErrorOrigin string `json:"error_origin,omitempty"`
	Error       string `json:"error,omitempty"`
}

type (
	// ModelResponse answers the single-model endpoints.
	ModelResponse struct {
		Model Model `json:"model"`
	}
	// ModelsResponse answers GET /admin/models.
	ModelsResponse struct {
		Models []Model `json:"models"`
	}
)

// ModelRequest is the body of POST and PATCH /admin/models; absent fields
// are left alone by PATCH, and price: null takes the model back to the
// file's or the catalog's price.
type ModelRequest struct {
	Name        *string              `json:"name,omitempty"`
	DisplayName *string              `json:"display_name,omitempty"`
	Strategy    *string              `json:"strategy,omitempty"`
	DropBetas   *[]string            `json:"drop_betas,omitempty"`
	DropFields  *[]string            `json:"drop_fields,omitempty"`
	Targets     *[]ModelTarget       `json:"targets,omitempty"`
	Price       Optional[ModelPrice] `json:"price,omitzero"`
}

// apply copies the request's fields onto m.
func (req *ModelRequest) apply(m *store.Model) {
	if req.Name != nil {
		m.Name = *req.Name
	}
	if req.DisplayName != nil {
		m.DisplayName = *req.DisplayName
	}
	if req.Strategy != nil {
		m.Strategy = *req.Strategy
	}
	if req.DropBetas != nil {
		m.DropBetas = *req.DropBetas
	}
	if req.DropFields != nil {
		m.DropFields = *req.DropFields
	}
	if req.Targets != nil {
		m.Targets = make([]store.ModelTarget, len(*req.Targets))
		for i, t := range *req.Targets {
			m.Targets[i] = store.ModelTarget{Provider: t.Provider, Model: t.Model, Weight: t.Weight, MaxConcurrent: t.MaxConcurrent,
				QueueTimeout: time.Duration(t.QueueTimeoutMS) * time.Millisecond, DropBetas: t.DropBetas, DropFields: t.DropFields}
		}
	}
	switch {
	case req.Price.Null:
		m.Price = nil
	case req.Price.Set:
		p := store.ModelPrice(req.Price.V)
		m.Price = &p
	}
}

// who names the admin principal of a request, for updated_by.
func who(ctx context.Context) string {
	if p, ok := authz.FromContext(ctx); ok && p.Name != "" {
		return p.Name
	}
	return "admin key"
}

// check runs the gateway's checks of a model before it is stored.
func (a *API) checkModel(m store.Model) error {
	if a.opts.Models == nil {
		return nil
	}
	return a.opts.Models.Check(m)
}

func (a *API) createModel(w http.ResponseWriter, r *http.Request) error {
	var req ModelRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return badRequest("field \"name\" is required")
	}
	if req.Targets == nil {
		return badRequest("field \"targets\" is required: at least one {\"provider\", \"model\"}")
	}
	m := store.Model{CreatedAt: a.opts.Now(), UpdatedBy: who(r.Context())}
	req.apply(&m)
	if err := a.checkModel(m); err != nil {
		return err
	}
	m, err := a.st.CreateModel(r.Context(), m)
	if err != nil {
		return err
	}
	a.changed()
	return a.writeModel(w, r, http.StatusCreated, m.Name, SourceDatabase)
}

// writeModel answers with the route named name as the gateway now lists
// it, preferring the one from source.
func (a *API) writeModel(w http.ResponseWriter, r *http.Request, status int, name, source string) error {
	routes, err := a.modelRoutes(r.Context())
	if err != nil {
		return err
	}
	var found *Model
	for i := range routes {
		if strings.EqualFold(routes[i].Name, name) && routes[i].Source != SourcePattern {
			if found == nil || (found.Source != source && routes[i].Source == source) {
				found = &routes[i]
			}
		}
	}
	if found == nil {
		return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "model %q is not served by this gateway (GET /admin/models lists every route)", name)
	}
	return writeJSON(w, status, ModelResponse{*found})
}

// modelRoutes lists every route, or the database's models alone without a
// ModelRuntime.
func (a *API) modelRoutes(ctx context.Context) ([]Model, error) {
	if a.opts.Models != nil {
		return a.opts.Models.Routes(ctx)
	}
	ms, err := a.st.ListModels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Model, 0, len(ms))
	for _, m := range ms {
		out = append(out, DatabaseModel(m))
	}
	return out, nil
}

// DatabaseModel is a stored runtime model as the API lists it, served, its
// price its own or unknown; the gateway fills in the rest.
func DatabaseModel(m store.Model) Model {
	out := Model{Name: m.Name, Source: SourceDatabase, DisplayName: m.DisplayName, Aliases: []string{}, Strategy: cmpOr(m.Strategy, "ordered"),
		DropBetas: nonNilList(m.DropBetas), DropFields: nonNilList(m.DropFields), Served: true, PriceSource: "none",
		CreatedAt: timeJSON(m.CreatedAt), UpdatedAt: timeJSON(m.UpdatedAt), UpdatedBy: m.UpdatedBy}
	for _, t := range m.Targets {
		out.Targets = append(out.Targets, ModelTarget{Provider: t.Provider, Model: t.Model, Weight: t.Weight, MaxConcurrent: t.MaxConcurrent,
			QueueTimeoutMS: t.QueueTimeout.Milliseconds(), DropBetas: t.DropBetas, DropFields: t.DropFields})
	}
	if m.Price != nil {
		p := ModelPrice(*m.Price)
		out.Price, out.PriceSource = &p, SourceDatabase
	}
	return out
}

func nonNilList(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (a *API) listModels(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	routes, err := a.modelRoutes(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ModelsResponse{routes})
}

func (a *API) getModel(w http.ResponseWriter, r *http.Request) error {
	return a.writeModel(w, r, http.StatusOK, r.PathValue("name"), SourceFile)
}

// fileOnly answers a write to a model the database does not hold: if the
// file (or the catalog) has it, say where to change it.
func (a *API) fileOnly(ctx context.Context, name string, err error) error {
	routes, rerr := a.modelRoutes(ctx)
	if rerr != nil {
		return err
	}
	for _, m := range routes {
		if strings.EqualFold(m.Name, name) && m.Source != SourceDatabase {
			return apierror.Client(http.StatusConflict, apierror.TypeConflict,
				"model %q comes from the %s, not the database: change it in the config file and reload it (SIGHUP), or add a database model of another name", name, sourceNoun(m.Source))
		}
	}
	return err
}

func sourceNoun(source string) string {
	switch source {
	case SourceFile:
		return "config file"
	case SourceCatalog:
		return "built-in catalog"
	}
	return source
}

func (a *API) patchModel(w http.ResponseWriter, r *http.Request) error {
	var req ModelRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := a.st.UpdateModel(r.Context(), r.PathValue("name"), func(m *store.Model) error {
		req.apply(m)
		m.UpdatedBy, m.UpdatedAt = who(r.Context()), a.opts.Now()
		return a.checkModel(*m)
	})
	if err != nil {
		return a.fileOnly(r.Context(), r.PathValue("name"), err)
	}
	a.changed()
	return a.writeModel(w, r, http.StatusOK, m.Name, SourceDatabase)
}

func (a *API) deleteModel(w http.ResponseWriter, r *http.Request) error {
	if err := a.st.DeleteModel(r.Context(), r.PathValue("name")); err != nil {
		return a.fileOnly(r.Context(), r.PathValue("name"), err)
	}
	a.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) testModel(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if a.opts.Models == nil {
		return apierror.Client(http.StatusNotImplemented, apierror.TypeInvalidRequest, "this admin API is not attached to a gateway: it cannot send calls")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	return writeJSON(w, http.StatusOK, a.opts.Models.Test(ctx, r.PathValue("name")))
}
