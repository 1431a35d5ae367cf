package bedrocksim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Operation names, as recorded in RecordedRequest.Op.
const (
	OpInvokeModel                   = "InvokeModel"
	OpInvokeModelWithResponseStream = "InvokeModelWithResponseStream"
	OpCountTokens                   = "CountTokens"
	OpListInferenceProfiles         = "ListInferenceProfiles"
	OpGetInferenceProfile           = "GetInferenceProfile"
	OpUnknown                       = "Unknown"
)

// Server simulates Bedrock Runtime. It is an http.Handler; serve it with
// httptest.NewServer or an http.Server. It is safe for concurrent use.
type Server struct {
	opts         Options
	log          *slog.Logger
	mux          *http.ServeMux
	faultMu      sync.RWMutex // guards defaultFault and faultErr, which SetFault changes
	defaultFault []fault
	faultErr     error
	cache        *promptCache
	faults       *faultCounter
	rec          *recorder

	rngMu sync.Mutex
	rng   *mrand.Rand
}

// New returns a Server configured by opts (see Options for defaults). An
// invalid Options.Fault is reported by Options.Validate; New accepts it but
// then answers every invoke with a 500 that explains the mistake.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	s := &Server{
		opts:   opts,
		log:    opts.Logger,
		cache:  newPromptCache(),
		faults: newFaultCounter(),
		rec:    &recorder{max: opts.MaxRecorded},
		rng:    mrand.New(mrand.NewPCG(seed, 0x62656472_6f636b73)),
	}
	s.defaultFault, s.faultErr = parseFault(opts.Fault)

	mux := http.NewServeMux()
	mux.Handle("POST /model/{id}/invoke", s.op(OpInvokeModel, s.invoke))
	mux.Handle("POST /model/{id}/invoke-with-response-stream", s.op(OpInvokeModelWithResponseStream, s.invokeStream))
	mux.Handle("POST /model/{id}/count-tokens", s.op(OpCountTokens, s.countTokens))
	mux.Handle("GET /inference-profiles", s.op(OpListInferenceProfiles, s.listInferenceProfiles))
	mux.Handle("GET /inference-profiles/{id}", s.op(OpGetInferenceProfile, s.getInferenceProfile))
	mux.Handle("/", s.op(OpUnknown, s.unknown))
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Reset forgets recorded requests, the prompt cache and the counts of
// transient faults.
func (s *Server) Reset() {
	s.rec.reset()
	s.cache.reset()
	s.faults.reset()
}

// SetFault replaces Options.Fault while the simulator runs: "throttle"
// starts a throttling storm on this instance and "" ends it. Fault tests use
// it to make one of two simulated regions fail for a while. An invalid spec
// is returned and leaves the current fault in place.
func (s *Server) SetFault(spec string) error {
	f, err := parseFault(spec)
	if err != nil {
		return err
	}
	s.faultMu.Lock()
	s.defaultFault, s.faultErr = f, nil
	s.faultMu.Unlock()
	return nil
}

// defaults returns the fault applied to requests without a fault marker.
func (s *Server) defaults() ([]fault, error) {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	return s.defaultFault, s.faultErr
}

// Requests returns copies of the recorded requests, oldest first.
func (s *Server) Requests() []RecordedRequest {
	return s.rec.list()
}

// call is the state of one request as it goes through a handler.
type call struct {
	op     string
	start  time.Time
	reqID  string
	body   []byte
	rng    *mrand.Rand
	record *RecordedRequest
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// op adapts a handler that returns an error into an http.Handler: it reads
// and records the body, authenticates, runs h, and renders any error.
func (s *Server) op(name string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.rngMu.Lock()
		seed := s.rng.Uint64()
		s.rngMu.Unlock()
		c := &call{op: name, start: s.opts.Now(), rng: mrand.New(mrand.NewPCG(seed, seed>>1))}
		c.reqID = uuid(c.rng)

		body, readErr := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		c.body = body
		c.record = s.rec.add(RecordedRequest{
			Op:       name,
			ModelID:  r.PathValue("id"),
			Method:   r.Method,
			Path:     escapedPath(r),
			RawQuery: r.URL.RawQuery,
			Header:   r.Header.Clone(),
			Body:     bytes.Clone(body),
			Time:     c.start,
		})
		rw := &recordingWriter{ResponseWriter: w, s: s, rec: c.record}
		rw.Header().Set("X-Amzn-RequestId", c.reqID)

		err := readErr
		if err == nil && len(body) > MaxBodyBytes {
			err = &apiError{Status: http.StatusRequestEntityTooLarge, Type: "ValidationException",
				Message: fmt.Sprintf("Request body exceeds the maximum size of %d bytes.", MaxBodyBytes)}
		}
		if err == nil {
			err = s.authenticate(r, body, c)
		}
		if err == nil {
			err = h(rw, r, c)
		}
		if err != nil {
			s.writeError(rw, c, err)
		}
		s.log.Debug("bedrocksim: request", "op", name, "model", r.PathValue("id"), "status", rw.status, "err", err)
	})
}

// escapedPath is the path exactly as the client sent it, escapes included.
func escapedPath(r *http.Request) string {
	if p := r.RequestURI; len(p) > 0 && p[0] == '/' {
		for i := 0; i < len(p); i++ {
			if p[i] == '?' {
				return p[:i]
			}
		}
		return p
	}
	return r.URL.EscapedPath()
}

// recordingWriter stores the response status in the request's record
// before the status line leaves, so a test that has seen the response also
// sees the status in Requests.
type recordingWriter struct {
	http.ResponseWriter
	s      *Server
	rec    *RecordedRequest
	status int
}

func (rw *recordingWriter) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
		rw.s.rec.setStatus(rw.rec, code)
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recordingWriter) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (rw *recordingWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

func (s *Server) unknown(w http.ResponseWriter, r *http.Request, c *call) error {
	return &apiError{Status: http.StatusNotFound, Type: "UnknownOperationException", Message: "The requested operation is not recognized by the service."}
}

// RecordedRequest is one request the simulator received, as it arrived.
type RecordedRequest struct {
	// Op is one of the Op* constants.
	Op string
	// ModelID is the {id} path segment, percent-decoded: a model id, an
	// ARN, or an inference-profile id. Empty for routes without one.
	ModelID string
	// Method is the HTTP method.
	Method string
	// Path is the path exactly as sent, escapes included (an ARN's "/"
	// arrives as %2F).
	Path string
	// RawQuery is the query string as sent, without "?".
	RawQuery string
	// Header holds the request headers (Host is not among them).
	Header http.Header
	// Body is the request body as received (at most MaxBodyBytes+1 bytes).
	Body []byte
	// Auth is how the request authenticated: "sigv4", "bearer", "none",
	// or "" when authentication failed.
	Auth string
	// AccessKeyID is the SigV4 access key id, when Auth is "sigv4".
	AccessKeyID string
	// Status is the HTTP status answered; 0 until the response starts.
	Status int
	// Time is when the request arrived, by Options.Now.
	Time time.Time
}

// recorder is a bounded ring of recorded requests.
type recorder struct {
	mu   sync.Mutex
	max  int
	ring []*RecordedRequest
	next int // index of the oldest entry once the ring is full
}

func (rc *recorder) add(r RecordedRequest) *RecordedRequest {
	p := &r
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.ring) < rc.max {
		rc.ring = append(rc.ring, p)
	} else {
		rc.ring[rc.next] = p
		rc.next = (rc.next + 1) % rc.max
	}
	return p
}

func (rc *recorder) setStatus(p *RecordedRequest, status int) {
	rc.mu.Lock()
	p.Status = status
	rc.mu.Unlock()
}

func (rc *recorder) setAuth(p *RecordedRequest, auth, akid string) {
	rc.mu.Lock()
	p.Auth, p.AccessKeyID = auth, akid
	rc.mu.Unlock()
}

func (rc *recorder) list() []RecordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]RecordedRequest, 0, len(rc.ring))
	for i := range rc.ring {
		p := rc.ring[(rc.next+i)%len(rc.ring)]
		r := *p
		r.Header = p.Header.Clone()
		r.Body = bytes.Clone(p.Body)
		out = append(out, r)
	}
	return out
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	rc.ring, rc.next = nil, 0
	rc.mu.Unlock()
}

// faultCounter counts requests per body hash, for transient faults.
type faultCounter struct {
	mu     sync.Mutex
	counts map[[sha256.Size]byte]int
}

// maxFaultBodies bounds the counter; when full it starts over.
const maxFaultBodies = 100_000

func newFaultCounter() *faultCounter {
	return &faultCounter{counts: make(map[[sha256.Size]byte]int)}
}

// next returns the 1-based number of this request among those with body.
func (fc *faultCounter) next(body []byte) int {
	key := sha256.Sum256(body)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.counts) >= maxFaultBodies {
		if _, ok := fc.counts[key]; !ok {
			clear(fc.counts)
		}
	}
	fc.counts[key]++
	return fc.counts[key]
}

func (fc *faultCounter) reset() {
	fc.mu.Lock()
	clear(fc.counts)
	fc.mu.Unlock()
}

// pickFault returns the fault that hits the n-th request with a body:
// faults are taken in order, each hitting the next Count requests (all of
// them when Count is 0).
func pickFault(faults []fault, n int) (fault, bool) {
	seen := 0
	for _, f := range faults {
		if f.Count == 0 {
			return f, true
		}
		seen += f.Count
		if n <= seen {
			return f, true
		}
	}
	return fault{}, false
}

func uuid(rng *mrand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// mustJSON marshals v without HTML escaping, as the Anthropic API and
// Bedrock do ("<" stays "<").
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("bedrocksim: marshal %T: %v", v, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
