package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
	"github.com/tollgate-gw/tollgate/internal/server"
	"github.com/tollgate-gw/tollgate/internal/store"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// Models keeps the gateway's routing in step with its two sources — the
// config file, replaced on SIGHUP, and the runtime models in the database,
// changed through the admin API on any replica — and swaps a freshly built
// server.Routing in whenever either changes. A swap applies to the next
// call at once; calls in flight finish on the routing they started with;
// target health (cooldowns, concurrency caps, least-busy counts) lives in
// the server's router.Health and outlives every swap. It implements
// admin.ModelRuntime.
type Models struct {
	st    *store.Store
	log   *slog.Logger
	creds map[string]aws.CredentialsProvider
	srv   *server.Server // nil until the server exists

	mu        sync.Mutex // one rebuild at a time; guards the fields below
	file      *config.Config
	db        []store.Model
	providers map[string]builtProvider

	view atomic.Pointer[modelView]
}

// builtProvider is a provider with the config it was built from, so that a
// reload keeps (with its connections) every provider whose config did not
// change.
type builtProvider struct {
	cfg config.Provider
	p   provider.Provider
}

// modelView is what one build merged, for the listing.
type modelView struct {
	file    *config.Config
	merged  *config.Config
	routing *server.Routing
	db      []store.Model
	// unserved maps a database model's name to why it is not routed, and
	// clash to the file model holding its name.
	unserved, clash map[string]string
}

func newModels(st *store.Store, log *slog.Logger, creds map[string]aws.CredentialsProvider) *Models {
	return &Models{st: st, log: log, creds: creds, providers: map[string]builtProvider{}}
}

// build makes the routing of file and db. m.mu must be held. It does not
// swap anything in; it fails only on what a validated file cannot cause
// (a provider whose credentials cannot be set up).
func (m *Models) build(ctx context.Context, file *config.Config, db []store.Model) (*modelView, map[string]builtProvider, error) {
	v := &modelView{file: file, db: db, unserved: map[string]string{}, clash: map[string]string{}}
	merged := *file
	merged.Models = slices.Clone(file.Models)
	owner := map[string]string{}
	for _, fm := range file.Models {
		for _, n := range append([]string{fm.Name}, fm.Aliases...) {
			owner[strings.ToLower(n)] = fm.Name
		}
	}
	var dbPrices []config.Price
	for _, dm := range db {
		if o, ok := owner[strings.ToLower(dm.Name)]; ok {
			v.clash[dm.Name] = o
			v.unserved[dm.Name] = fmt.Sprintf("the config file's model %q holds this name and wins; rename or remove one of them", o)
			continue
		}
		cm := configModel(dm)
		if ps := file.CheckModel(cm); len(ps) > 0 {
			v.unserved[dm.Name] = "not valid against the config in force: " + ps[0].String()
			continue
		}
		merged.Models = append(merged.Models, cm)
		owner[strings.ToLower(dm.Name)] = dm.Name
		if p := dm.Price; p != nil {
			dbPrices = append(dbPrices, config.Price{Match: dm.Name, Input: p.Input, Output: p.Output,
				CacheWrite5m: p.CacheWrite5m, CacheWrite1h: p.CacheWrite1h, CacheRead: p.CacheRead})
		}
	}
	v.merged = &merged
	rt, err := router.New(&merged)
	if err != nil {
		return nil, nil, fmt.Errorf("build router: %w", err)
	}
	// A database model's own price is the most specific entry there is;
	// the file's entries (often globs) come after it.
	prices, err := usage.NewPrices(priceOverrides(append(dbPrices, file.Prices...)))
	if err != nil {
		return nil, nil, fmt.Errorf("prices: %w", err)
	}
	routing := &server.Routing{Router: rt, Prices: prices, Providers: map[string]provider.Provider{},
		MaxRetries: map[string]int{}, ProviderTypes: map[string]string{}, ProviderRegions: map[string]string{}}
	built := map[string]builtProvider{}
	for _, name := range file.ProviderNames() { // sorted: the reported region is stable
		pc := file.Providers[name]
		bp, ok := m.providers[name]
		if !ok || !reflect.DeepEqual(bp.cfg, pc) {
			p, err := newProvider(ctx, name, pc, m.creds[name], m.log)
			if err != nil {
				return nil, nil, fmt.Errorf("provider %s: %w", name, err)
			}
			bp = builtProvider{cfg: pc, p: p}
		}
		built[name] = bp
		routing.Providers[name] = bp.p
		routing.ProviderTypes[name] = pc.Type
		if pc.MaxRetries != nil {
			routing.MaxRetries[name] = *pc.MaxRetries
		}
		if pc.Type == config.ProviderBedrock {
			routing.ProviderRegions[name] = pc.Region
			if routing.Region == "" || name == file.Routing.DefaultProvider {
				routing.Region = pc.Region
			}
		}
	}
	if routing.Region == "" {
		routing.Region = config.DefaultRegion
	}
	v.routing = routing
	return v, built, nil
}

// commit makes v the view and its routing the server's. m.mu must be held.
func (m *Models) commit(v *modelView, built map[string]builtProvider) {
	m.file, m.db, m.providers = v.file, v.db, built
	m.view.Store(v)
	if m.srv != nil {
		m.srv.SetRouting(v.routing)
	}
}

// ReloadDatabase reads the runtime models again and swaps in the routing
// they make with the config file in force. The admin API's writes and
// other replicas' announcements call it.
func (m *Models) ReloadDatabase(ctx context.Context) error {
	db, err := m.st.ListModels(ctx)
	if err != nil {
		return fmt.Errorf("load runtime models: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, built, err := m.build(ctx, m.file, db)
	if err != nil {
		return err
	}
	m.commit(v, built)
	return nil
}

// setFile swaps in a new config file (already validated) with the runtime
// models last loaded.
func (m *Models) setFile(ctx context.Context, file *config.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, built, err := m.build(ctx, file, m.db)
	if err != nil {
		return err
	}
	m.commit(v, built)
	return nil
}

// configModel is a runtime model as the config file would write it.
func configModel(dm store.Model) config.Model {
	cm := config.Model{Name: dm.Name, DisplayName: dm.DisplayName, Strategy: dm.Strategy,
		Rules: config.Rules{DropBetas: dm.DropBetas, DropFields: dm.DropFields}}
	for _, t := range dm.Targets {
		cm.Targets = append(cm.Targets, config.Target{Provider: t.Provider, Model: t.Model, Weight: t.Weight,
			MaxConcurrent: t.MaxConcurrent, QueueTimeout: t.QueueTimeout,
			Rules: config.Rules{DropBetas: t.DropBetas, DropFields: t.DropFields}})
	}
	return cm
}

// Check validates a runtime model against the config file in force.
func (m *Models) Check(dm store.Model) error {
	v := m.view.Load()
	if ps := v.file.CheckModel(configModel(dm)); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.String()
		}
		return apierror.Client(http.StatusBadRequest, apierror.TypeInvalidRequest, "%s", strings.Join(msgs, "; "))
	}
	return nil
}

// Routes lists every route with its source: file models, database models,
// catalog models, then pattern rules.
func (m *Models) Routes(ctx context.Context) ([]admin.Model, error) {
	v := m.view.Load()
	fileNames := map[string]bool{}
	for _, fm := range v.file.Models {
		fileNames[fm.Name] = true
	}
	dbByName := map[string]store.Model{}
	for _, dm := range v.db {
		dbByName[dm.Name] = dm
	}
	tableOnly, _ := usage.NewPrices(nil)
	var out, fromDB []admin.Model
	emitted := map[string]bool{}
	for _, cm := range v.merged.AllModels() {
		var am admin.Model
		if dm, ok := dbByName[cm.Name]; ok && !fileNames[cm.Name] {
			am = admin.DatabaseModel(dm)
			am.Aliases = nonNil(cm.Aliases)
		} else {
			am = routeModel(cm)
			am.Source = admin.SourceCatalog
			if fileNames[cm.Name] {
				am.Source = admin.SourceFile
			}
		}
		if am.Price == nil && len(cm.Targets) > 0 {
			t := cm.Targets[0]
			typ := v.routing.ProviderTypes[t.Provider]
			if p, ok := v.routing.Prices.Lookup(typ, t.Model, cm.Name); ok {
				am.Price = usdPrice(p)
				am.PriceSource = admin.SourceFile
				if q, ok := tableOnly.Lookup(typ, t.Model, cm.Name); ok && reflect.DeepEqual(p, q) {
					am.PriceSource = admin.SourceCatalog
				}
			}
		}
		emitted[cm.Name] = true
		if am.Source == admin.SourceDatabase {
			fromDB = append(fromDB, am)
			continue
		}
		out = append(out, am)
	}
	// File models first, then the database's (served, then not), then
	// the catalog's: AllModels put catalog models last already.
	nFile := 0
	for nFile < len(out) && out[nFile].Source == admin.SourceFile {
		nFile++
	}
	for _, dm := range v.db {
		if emitted[dm.Name] {
			continue
		}
		am := admin.DatabaseModel(dm)
		am.Served, am.Problem, am.ClashesWith = false, v.unserved[dm.Name], v.clash[dm.Name]
		fromDB = append(fromDB, am)
	}
	out = slices.Concat(out[:nFile], fromDB, out[nFile:])
	for _, p := range v.merged.Routing.Patterns {
		out = append(out, admin.Model{Name: p.Match, Source: admin.SourcePattern, Aliases: []string{}, Strategy: config.StrategyOrdered,
			DropBetas: []string{}, DropFields: []string{}, Targets: []admin.ModelTarget{{Provider: p.Provider, Model: p.Model}},
			Served: true, PriceSource: "none"})
	}
	return out, nil
}

// routeModel is a config model as the API lists it.
func routeModel(cm config.Model) admin.Model {
	am := admin.Model{Name: cm.Name, DisplayName: cm.DisplayName, Aliases: nonNil(cm.Aliases), Strategy: cm.Strategy,
		DropBetas: nonNil(cm.Rules.DropBetas), DropFields: nonNil(cm.Rules.DropFields), Served: true, PriceSource: "none"}
	if am.Strategy == "" {
		am.Strategy = config.StrategyOrdered
	}
	for _, t := range cm.Targets {
		am.Targets = append(am.Targets, admin.ModelTarget{Provider: t.Provider, Model: t.Model, Weight: t.Weight,
			MaxConcurrent: t.MaxConcurrent, QueueTimeoutMS: t.QueueTimeout.Milliseconds(), DropBetas: t.Rules.DropBetas, DropFields: t.Rules.DropFields})
	}
	return am
}

func usdPrice(p usage.Price) *admin.ModelPrice {
	f := func(v int64) float64 { return float64(v) / 1e6 }
	return &admin.ModelPrice{Input: f(p.Input), Output: f(p.Output), CacheWrite5m: f(p.CacheWrite5m), CacheWrite1h: f(p.CacheWrite1h), CacheRead: f(p.CacheRead)}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// Test sends a one-token call for name through the routing in force.
func (m *Models) Test(ctx context.Context, name string) admin.ModelTestResult {
	r := m.srv.Probe(ctx, name)
	return admin.ModelTestResult{OK: r.Status == http.StatusOK, Model: r.Model, Provider: r.Provider, Target: r.Target, Status: r.Status,
		LatencyMS: float64(r.Latency.Microseconds()) / 1000, Attempts: r.Attempts, RequestID: r.RequestID,
		UpstreamRequestID: r.UpstreamRequestID, ErrorOrigin: string(r.Origin), Error: r.Error}
}

// run reloads the runtime models every interval until ctx ends: the safety
// net for changes made while this replica did not hear the change feed,
// as Accounts.Run is for keys and budgets.
func (m *Models) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := m.ReloadDatabase(rctx); err != nil && ctx.Err() == nil {
			m.log.Warn("periodic reload of runtime models failed; serving the previous routes", "err", err)
		}
		cancel()
	}
}
