package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/buildinfo"
	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// Metrics holds Tollgate's metrics and the registry that exports them. Make
// one with New; a nil *Metrics is valid and records nothing.
type Metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	ttft           *prometheus.HistogramVec
	tokens         *prometheus.CounterVec
	cost           *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
	retries        *prometheus.CounterVec
	fallbacks      *prometheus.CounterVec
	attempts       *prometheus.CounterVec
	cooldowns      *prometheus.CounterVec
	queueWaits     *prometheus.CounterVec
	overruns       *prometheus.CounterVec
	rejections     *prometheus.CounterVec
	accessDenied   *prometheus.CounterVec

	// Per-door gauges and their decrement functions, built once so that
	// InFlight and OpenStream allocate nothing.
	inFlight, openStreams         [numDoors]prometheus.Gauge
	inFlightDone, openStreamsDone [numDoors]func()

	budgets  budgetCollector
	writer   writerCollector
	alerting *alerting // open mode and budget alerts (alerting.go)
	logging  *logging  // the asynchronous log's drops (logging.go)

	models, providers, keys, users, teams, errorTypes, groups, targets *valueSet

	requestSeries childCache[requestKey, prometheus.Counter]
	callSeries    childCache[callKey, prometheus.Observer]
	ttftSeries    childCache[ttftKey, prometheus.Observer]
	tokenSeries   childCache[string, *[numKinds]prometheus.Counter]
	costSeries    childCache[costKey, prometheus.Counter]
}

// Door indexes; doorNames[i] is the label value.
const (
	doorAnthropic = iota
	doorBedrock
	doorOpenAI
	doorOther
	numDoors
)

var doorNames = [numDoors]string{string(DoorAnthropic), string(DoorBedrock), string(DoorOpenAI), valueOther}

func doorIndex(d Door) int {
	switch d {
	case DoorAnthropic:
		return doorAnthropic
	case DoorBedrock:
		return doorBedrock
	case DoorOpenAI:
		return doorOpenAI
	}
	return doorOther
}

const numKinds = 5

var kindNames = [numKinds]string{KindInput, KindOutput, KindCacheWrite5m, KindCacheWrite1h, KindCacheRead}

type requestKey struct {
	door     uint8
	model    string
	provider string
	status   string
	origin   string
}

type callKey struct {
	door   uint8
	model  string
	stream bool
}

type ttftKey struct {
	door  uint8
	model string
}

type costKey struct {
	model, key, user, team string
}

// New returns Tollgate's metrics on a fresh registry that also carries the
// Go runtime and process collectors. build is exported as
// tollgate_build_info{version, revision, date, goversion, modified}, so that
// a dashboard can tell which commit each replica runs.
func New(build buildinfo.Info) *Metrics { return NewWithCaps(build, Caps{}) }

// NewWithCaps is New with label caps other than DefaultCaps; zero fields
// keep the defaults.
func NewWithCaps(build buildinfo.Info, caps Caps) *Metrics {
	caps = caps.withDefaults()
	m := &Metrics{
		reg:        prometheus.NewRegistry(),
		models:     newValueSet(caps.Models),
		providers:  newValueSet(caps.Providers),
		keys:       newValueSet(caps.Keys),
		users:      newValueSet(caps.Users),
		teams:      newValueSet(caps.Teams),
		errorTypes: newValueSet(caps.ErrorTypes),
		groups:     newValueSet(caps.Groups),
		targets:    newValueSet(caps.Targets),
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameRequests,
		Help: "Model calls answered, by front door, public model, provider, HTTP status sent to the client, and error origin (none, client, gateway or upstream). A stream that fails after it started keeps status 200 and carries the origin of the failure.",
	}, []string{labelDoor, labelModel, labelProvider, labelStatus, labelOrigin})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    nameDuration,
		Help:    "Whole model-call duration in seconds, from the request's arrival to the last byte sent, by front door, public model and whether the answer streamed.",
		Buckets: durationBuckets,
	}, []string{labelDoor, labelModel, labelStream})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    nameTTFT,
		Help:    "Time from the request's arrival to the first byte of the answer (the first event of a stream) in seconds, by front door and public model. Only calls that sent an answer are observed.",
		Buckets: ttftBuckets,
	}, []string{labelDoor, labelModel})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameTokens,
		Help: "Tokens metered, by public model and kind (input, output, cache_write_5m, cache_write_1h, cache_read). Input excludes cache reads and writes.",
	}, []string{labelModel, labelKind})
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameCost,
		Help: "Cost of metered tokens in USD at the configured prices, by public model and the calling key's, user's and team's aliases (\"none\" when a key has no user or team).",
	}, []string{labelModel, labelKey, labelUser, labelTeam})
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameUpstreamErrors,
		Help: "Failed upstream attempts, including ones that were retried, by provider and error type (Anthropic error type or Bedrock exception name).",
	}, []string{labelProvider, labelType})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameRetries,
		Help: "Upstream attempts retried on the same provider before the first byte reached the client.",
	}, []string{labelProvider})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameFallbacks,
		Help: "Calls that moved on to a model's next target after the previous target failed, by public model.",
	}, []string{labelModel})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameAttempts,
		Help: "Upstream attempts, retries and fallbacks included, by provider, target (upstream model id) and outcome (ok, throttled, 5xx, error, busy). Only attempts before the first byte reached the client exist: nothing is retried after it.",
	}, []string{labelProvider, labelTarget, labelOutcome})
	m.cooldowns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameCooldowns,
		Help: "Cooldowns entered by a target after it throttled or failed with a 5xx, by provider and target; calls skip a cooling target while another target of the model is ready.",
	}, []string{labelProvider, labelTarget})
	m.queueWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameQueueWaits,
		Help: "Calls that waited for a slot on a target at its max_concurrent, by provider, target and outcome (acquired, or busy when the queue timeout ran out and the call moved on).",
	}, []string{labelProvider, labelTarget, labelOutcome})
	m.overruns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameOverruns,
		Help: "Calls whose reported usage exceeded the worst case they reserved against budgets (charged the actual), by public model.",
	}, []string{labelModel})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameRejections,
		Help: "Requests refused by the gateway before reaching a provider, by reason (budget, rate_limit, access, auth, model_not_allowed).",
	}, []string{labelReason})
	m.accessDenied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: nameAccessDenied,
		Help: "Requests denied by an access rule (source IP not allowed and no valid secret header), by path group.",
	}, []string{labelGroup})
	inFlight := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: nameInFlight,
		Help: "Model calls in progress, by front door.",
	}, []string{labelDoor})
	openStreams := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: nameOpenStreams,
		Help: "Streamed answers being relayed to clients, by front door.",
	}, []string{labelDoor})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: nameBuildInfo,
		Help: "Always 1; the labels identify the running build: version, VCS revision (12 hex digits) and commit or build date (none when unknown), Go version, and modified=true for a build from a tree with uncommitted changes.",
	}, []string{labelVersion, labelRevision, labelDate, labelGoVersion, labelModified})
	buildInfo.WithLabelValues(labelValue(build.Version), labelValue(build.Revision), labelValue(build.Time),
		labelValue(build.GoVersion), strconv.FormatBool(build.Modified)).Set(1)

	for d := range numDoors {
		g, s := inFlight.WithLabelValues(doorNames[d]), openStreams.WithLabelValues(doorNames[d])
		m.inFlight[d], m.openStreams[d] = g, s
		m.inFlightDone[d], m.openStreamsDone[d] = g.Dec, s.Dec
	}
	// Pre-create the fixed-set series so that dashboards show zeros rather
	// than "no data" before the first event.
	for _, r := range reasons {
		m.rejections.WithLabelValues(string(r))
	}

	m.reg.MustRegister(
		m.requests, m.duration, m.ttft, m.tokens, m.cost,
		m.upstreamErrors, m.retries, m.fallbacks, m.attempts, m.cooldowns, m.queueWaits, m.overruns, m.rejections, m.accessDenied,
		inFlight, openStreams, buildInfo,
		&m.budgets, &m.writer,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.alerting = newAlerting(m.reg)
	m.logging = newLogging(m.reg)
	return m
}

// Handler serves the metrics in the Prometheus text format (or OpenMetrics
// when the scraper asks for it). A nil *Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// Registry returns the private registry, for embedders that add their own
// collectors or export through another handler.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// RequestSample is one finished model call, as ObserveRequest records it.
// Every string field is an alias or a name from the configuration; there is
// deliberately no field for a request id, a key id or a secret.
type RequestSample struct {
	Door     Door            // DoorAnthropic, DoorBedrock or DoorOpenAI
	Model    string          // public model name after routing; "" when the call never routed
	Provider string          // provider name from the config; "" when none was tried
	Status   int             // HTTP status sent to the client (499 when the client went away)
	Origin   apierror.Origin // "", OriginClient, OriginGateway or OriginUpstream
	Stream   bool

	Duration time.Duration // arrival to last byte
	TTFT     time.Duration // arrival to first byte of the answer; 0 when none was sent

	Tokens     tokens.Counts // as charged: the upstream's figures, or the estimate of a cut stream
	CostMicros int64         // price of Tokens in micro-USD

	KeyAlias  string // the calling key's alias (or static key name)
	UserAlias string // the key owner's alias, "" when none
	TeamAlias string // the key's team alias, "" when none
}

// ObserveRequest records a finished model call: its count, duration, time to
// first token, tokens and cost. Call it once per call to a model endpoint
// (Messages, Bedrock invoke, chat completions), including calls refused
// before routing, and not for health checks or model listings. It is safe
// for concurrent use and does not allocate once a call's series exist.
func (m *Metrics) ObserveRequest(s RequestSample) {
	if m == nil {
		return
	}
	door := uint8(doorIndex(s.Door))
	model := m.models.get(s.Model)

	rk := requestKey{door: door, model: model, provider: m.providers.get(s.Provider),
		status: statusValue(s.Status), origin: oneOf(s.Origin, OriginClient, OriginGateway, OriginUpstream)}
	c, ok := m.requestSeries.load(rk)
	if !ok {
		c = m.requestSeries.store(rk, m.requests.WithLabelValues(doorNames[rk.door], rk.model, rk.provider, rk.status, rk.origin))
	}
	c.Inc()

	ck := callKey{door: door, model: model, stream: s.Stream}
	dur, ok := m.callSeries.load(ck)
	if !ok {
		stream := "false"
		if s.Stream {
			stream = "true"
		}
		dur = m.callSeries.store(ck, m.duration.WithLabelValues(doorNames[door], model, stream))
	}
	dur.Observe(s.Duration.Seconds())

	if s.TTFT > 0 {
		tk := ttftKey{door: door, model: model}
		ttft, ok := m.ttftSeries.load(tk)
		if !ok {
			ttft = m.ttftSeries.store(tk, m.ttft.WithLabelValues(doorNames[door], model))
		}
		ttft.Observe(s.TTFT.Seconds())
	}

	t := s.Tokens
	if t != (tokens.Counts{}) {
		ks, ok := m.tokenSeries.load(model)
		if !ok {
			var cs [numKinds]prometheus.Counter
			for i, k := range kindNames {
				cs[i] = m.tokens.WithLabelValues(model, k)
			}
			ks = m.tokenSeries.store(model, &cs)
		}
		// In the order of kindNames; a new kind in tokens.Counts needs its
		// label in names.go and its place here.
		for i, n := range [numKinds]int64{t.Input, t.Output, t.CacheWrite5m, t.CacheWrite1h, t.CacheRead} {
			if n > 0 {
				ks[i].Add(float64(n))
			}
		}
	}

	if s.CostMicros > 0 {
		k := costKey{model: model, key: m.keys.get(s.KeyAlias), user: m.users.get(s.UserAlias), team: m.teams.get(s.TeamAlias)}
		cost, ok := m.costSeries.load(k)
		if !ok {
			cost = m.costSeries.store(k, m.cost.WithLabelValues(k.model, k.key, k.user, k.team))
		}
		cost.Add(float64(s.CostMicros) / 1e6)
	}
}

// noop is what nil-receiver InFlight and OpenStream return.
func noop() {}

// InFlight counts a model call in progress on door and returns the function
// that ends it; call it exactly once (defer it).
func (m *Metrics) InFlight(door Door) (done func()) {
	if m == nil {
		return noop
	}
	d := doorIndex(door)
	m.inFlight[d].Inc()
	return m.inFlightDone[d]
}

// OpenStream counts a streamed answer being relayed on door and returns the
// function that ends it; call it exactly once (defer it).
func (m *Metrics) OpenStream(door Door) (done func()) {
	if m == nil {
		return noop
	}
	d := doorIndex(door)
	m.openStreams[d].Inc()
	return m.openStreamsDone[d]
}

// UpstreamError counts one failed upstream attempt on provider, whether or
// not it is then retried. typ is the Anthropic error type
// (apierror.Type…) or the Bedrock exception name.
func (m *Metrics) UpstreamError(provider, typ string) {
	if m == nil {
		return
	}
	m.upstreamErrors.WithLabelValues(m.providers.get(provider), m.errorTypes.get(typ)).Inc()
}

// Retry counts one retry of an upstream attempt on provider.
func (m *Metrics) Retry(provider string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(m.providers.get(provider)).Inc()
}

// Fallback counts one move to the next target of the public model.
func (m *Metrics) Fallback(model string) {
	if m == nil {
		return
	}
	m.fallbacks.WithLabelValues(m.models.get(model)).Inc()
}

// Attempt counts one upstream attempt on a target and how it ended.
func (m *Metrics) Attempt(provider, target string, outcome Outcome) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(m.providers.get(provider), m.targets.get(target), string(outcome)).Inc()
}

// Cooldown counts one cooldown entered by a target.
func (m *Metrics) Cooldown(provider, target string) {
	if m == nil {
		return
	}
	m.cooldowns.WithLabelValues(m.providers.get(provider), m.targets.get(target)).Inc()
}

// QueueWait counts one call that waited for a slot on a target at its
// max_concurrent; outcome is OutcomeAcquired or OutcomeBusy.
func (m *Metrics) QueueWait(provider, target string, outcome Outcome) {
	if m == nil {
		return
	}
	m.queueWaits.WithLabelValues(m.providers.get(provider), m.targets.get(target), string(outcome)).Inc()
}

// ReservationOverrun counts one call whose reported usage exceeded its
// budget reservation. The call is charged what it used; the count shows how
// often reservations under-estimate, which lets concurrent calls overspend
// a budget by up to the overruns.
func (m *Metrics) ReservationOverrun(model string) {
	if m == nil {
		return
	}
	m.overruns.WithLabelValues(m.models.get(model)).Inc()
}

// Rejected counts one request refused before reaching a provider; reason is
// one of the Reason constants (anything else is counted as "other").
func (m *Metrics) Rejected(reason Reason) {
	if m == nil {
		return
	}
	m.rejections.WithLabelValues(oneOf(reason, reasons...)).Inc()
}

// AccessDenied counts one request denied by the access rule of the path
// group (its name in the config). It also counts a rejection with reason
// "access", so callers do not call Rejected(ReasonAccess) as well.
func (m *Metrics) AccessDenied(group string) {
	if m == nil {
		return
	}
	m.accessDenied.WithLabelValues(m.groups.get(group)).Inc()
	m.rejections.WithLabelValues(string(ReasonAccess)).Inc()
}
