package bedrocksim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// markerOpen starts every marker.
const markerOpen = "[[sim:"

// Marker is one [[sim:NAME ARGS]] directive found in a prompt.
type Marker struct {
	// Name is the directive, lower-cased: "text", "tool", "throttle", ...
	Name string
	// Args is the text between the name and the closing "]]", trimmed of
	// surrounding white space. It may span lines.
	Args string
	// Offset is the byte offset of "[[sim:" in the scanned text.
	Offset int
}

// ParseMarkers returns the markers of text in order. A marker's arguments
// end at the first "]]", except for tool, whose JSON input is scanned as
// JSON so that it may itself contain "]]". Text outside markers is ignored.
// An unterminated or malformed marker is an error, so that a typo in a test
// prompt fails loudly instead of silently answering the default reply.
func ParseMarkers(text string) ([]Marker, error) {
	var out []Marker
	pos := 0
	for {
		i := strings.Index(text[pos:], markerOpen)
		if i < 0 {
			return out, nil
		}
		start := pos + i
		p := start + len(markerOpen)
		j := p
		for j < len(text) && isNameByte(text[j]) {
			j++
		}
		name := strings.ToLower(text[p:j])
		if name == "" {
			return out, fmt.Errorf("marker at byte %d: missing name after %q", start, markerOpen)
		}
		m := Marker{Name: name, Offset: start}
		var end int
		switch {
		case strings.HasPrefix(text[j:], "]]"):
			end = j + 2
		case j < len(text) && isSpace(text[j]):
			if name == "tool" {
				var err error
				if end, err = scanToolEnd(text, j); err != nil {
					return out, fmt.Errorf("marker at byte %d: %w", start, err)
				}
			} else {
				k := strings.Index(text[j:], "]]")
				if k < 0 {
					return out, fmt.Errorf("marker at byte %d: unterminated, missing \"]]\"", start)
				}
				end = j + k + 2
			}
			m.Args = strings.TrimSpace(text[j : end-2])
		default:
			return out, fmt.Errorf("marker at byte %d: expected a space or \"]]\" after %q", start, markerOpen+name)
		}
		out = append(out, m)
		pos = end
	}
}

// scanToolEnd returns the index just past the "]]" closing a tool marker
// whose arguments start at i: a tool name, then optionally one JSON value.
func scanToolEnd(text string, i int) (int, error) {
	i = skipSpace(text, i)
	j := i
	for j < len(text) && !isSpace(text[j]) && !strings.HasPrefix(text[j:], "]]") {
		j++
	}
	j = skipSpace(text, j)
	if !strings.HasPrefix(text[j:], "]]") && j < len(text) {
		dec := json.NewDecoder(strings.NewReader(text[j:]))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return 0, fmt.Errorf("tool input is not JSON: %v", err)
		}
		j = skipSpace(text, j+int(dec.InputOffset()))
	}
	if !strings.HasPrefix(text[j:], "]]") {
		return 0, fmt.Errorf("unterminated tool marker, missing \"]]\"")
	}
	return j + 2, nil
}

func validToolName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-'
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// blockSpec is one content block the script asks for.
type blockSpec struct {
	Kind  string // "text", "thinking", "redacted_thinking" or "tool_use"
	Text  string // text or thinking
	Name  string // tool name
	Input json.RawMessage
}

// usageOverride forces some reported usage numbers; nil fields are computed.
type usageOverride struct {
	Input, Output, CacheWrite5m, CacheWrite1h, CacheRead *int
}

type faultKind int

const (
	faultHTTP      faultKind = iota // answer an HTTP error instead of a reply
	faultMidstream                  // exception frame after the first delta
	faultDrop                       // cut the connection after the first delta
	faultSlow                       // stall before the first frame
	faultStall                      // headers (and half a body), then nothing until the client leaves
)

// fault is one failure a request may suffer.
type fault struct {
	Kind    faultKind
	Exc     exception     // faultHTTP and faultMidstream
	Message string        // overrides Exc.Message when set
	Delay   time.Duration // faultSlow
	// Count makes the fault transient: it hits only that many requests
	// with an identical body (after the counts of earlier faults in the
	// same script). 0 hits every request.
	Count int
}

func (f fault) message() string {
	if f.Message != "" {
		return f.Message
	}
	return f.Exc.Message
}

// script is a compiled set of markers.
type script struct {
	Blocks  []blockSpec
	Usage   usageOverride
	Latency *time.Duration
	TPS     *float64
	Stop    string
	StopSeq *string
	Faults  []fault
}

// httpFaultMarkers maps the short fault markers to their exceptions.
var httpFaultMarkers = map[string]string{
	"throttle":    "ThrottlingException",
	"validation":  "ValidationException",
	"unavailable": "ServiceUnavailableException",
	"internal":    "InternalServerException",
	"timeout":     "ModelTimeoutException",
	"denied":      "AccessDeniedException",
}

var stopReasons = map[string]bool{
	"end_turn": true, "max_tokens": true, "stop_sequence": true,
	"tool_use": true, "pause_turn": true, "refusal": true,
}

// compileScript turns markers into a script, rejecting unknown names and
// bad arguments.
func compileScript(ms []Marker) (*script, error) {
	sc := &script{}
	for _, m := range ms {
		if err := sc.add(m); err != nil {
			return nil, fmt.Errorf("marker %s%s]]: %w", markerOpen, m.Name, err)
		}
	}
	return sc, nil
}

func (sc *script) add(m Marker) error {
	args := m.Args
	switch m.Name {
	case "text":
		sc.Blocks = append(sc.Blocks, blockSpec{Kind: "text", Text: args})
	case "thinking":
		sc.Blocks = append(sc.Blocks, blockSpec{Kind: "thinking", Text: args})
	case "redacted-thinking":
		sc.Blocks = append(sc.Blocks, blockSpec{Kind: "redacted_thinking"})
	case "tool":
		name, input := args, ""
		if i := strings.IndexAny(args, " \t\r\n"); i >= 0 {
			name, input = args[:i], args[i:]
		}
		if !validToolName(name) {
			return fmt.Errorf("tool name %q must match [a-zA-Z0-9_-]{1,128}", name)
		}
		raw := json.RawMessage(`{}`)
		if in := strings.TrimSpace(input); in != "" {
			var buf bytes.Buffer
			if err := json.Compact(&buf, []byte(in)); err != nil {
				return fmt.Errorf("tool input: %v", err)
			}
			if buf.Len() == 0 || buf.Bytes()[0] != '{' {
				return fmt.Errorf("tool input must be a JSON object")
			}
			raw = buf.Bytes()
		}
		sc.Blocks = append(sc.Blocks, blockSpec{Kind: "tool_use", Name: name, Input: raw})
	case "usage":
		return sc.addUsage(args)
	case "latency":
		d, err := parseDuration(args)
		if err != nil {
			return err
		}
		sc.Latency = &d
	case "tps":
		v, err := strconv.ParseFloat(args, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("tps wants a number >= 0, got %q", args)
		}
		sc.TPS = &v
	case "stop":
		reason, seq, hasSeq := strings.Cut(args, " ")
		if !stopReasons[reason] {
			return fmt.Errorf("unknown stop reason %q", reason)
		}
		sc.Stop = reason
		if hasSeq {
			s := strings.TrimSpace(seq)
			sc.StopSeq = &s
		}
	default:
		f, err := compileFault(m.Name, args)
		if err != nil {
			return err
		}
		sc.Faults = append(sc.Faults, f)
	}
	return nil
}

func (sc *script) addUsage(args string) error {
	for _, kv := range strings.Fields(args) {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return fmt.Errorf("usage wants key=N with N >= 0, got %q", kv)
		}
		switch k {
		case "in":
			sc.Usage.Input = &n
		case "out":
			sc.Usage.Output = &n
		case "cw5m":
			sc.Usage.CacheWrite5m = &n
		case "cw1h":
			sc.Usage.CacheWrite1h = &n
		case "cr":
			sc.Usage.CacheRead = &n
		default:
			return fmt.Errorf("unknown usage key %q (want in, out, cw5m, cw1h, cr)", k)
		}
	}
	return nil
}

// compileFault compiles one fault marker.
func compileFault(name, args string) (fault, error) {
	words := strings.Fields(args)
	switch name {
	case "throttle", "validation", "unavailable", "internal", "timeout", "denied":
		f := fault{Kind: faultHTTP, Exc: mustException(httpFaultMarkers[name])}
		var err error
		f.Count, f.Message, err = countAndMessage(args)
		return f, err
	case "error":
		if len(words) == 0 {
			return fault{}, fmt.Errorf("error wants an exception name")
		}
		e, ok := lookupException(words[0])
		if !ok {
			return fault{}, fmt.Errorf("unknown exception %q", words[0])
		}
		f := fault{Kind: faultHTTP, Exc: e}
		var err error
		f.Count, f.Message, err = countAndMessage(strings.TrimSpace(strings.TrimPrefix(args, words[0])))
		return f, err
	case "midstream-error":
		f := fault{Kind: faultMidstream, Exc: mustException("ModelStreamErrorException")}
		rest := args
		if len(words) > 0 && !isCount(words[0]) {
			e, ok := lookupException(words[0])
			if !ok || e.StreamName == "" {
				return fault{}, fmt.Errorf("%q is not a stream exception (want one of %s)", words[0], streamExceptionNames())
			}
			f.Exc = e
			rest = strings.TrimSpace(strings.TrimPrefix(args, words[0]))
		}
		var err error
		f.Count, f.Message, err = countAndMessage(rest)
		return f, err
	case "drop":
		f := fault{Kind: faultDrop}
		if len(words) > 1 || len(words) == 1 && !isCount(words[0]) {
			return fault{}, fmt.Errorf("drop takes only an optional count, got %q", args)
		}
		if len(words) == 1 {
			f.Count, _ = strconv.Atoi(words[0])
		}
		return f, nil
	case "stall":
		f := fault{Kind: faultStall}
		if len(words) > 1 || len(words) == 1 && !isCount(words[0]) {
			return fault{}, fmt.Errorf("stall takes only an optional count, got %q", args)
		}
		if len(words) == 1 {
			f.Count, _ = strconv.Atoi(words[0])
		}
		return f, nil
	case "slow-first-byte":
		if len(words) == 0 || len(words) > 2 {
			return fault{}, fmt.Errorf("slow-first-byte wants a duration and an optional count")
		}
		d, err := parseDuration(words[0])
		if err != nil {
			return fault{}, err
		}
		f := fault{Kind: faultSlow, Delay: d}
		if len(words) == 2 {
			if !isCount(words[1]) {
				return fault{}, fmt.Errorf("bad count %q", words[1])
			}
			f.Count, _ = strconv.Atoi(words[1])
		}
		return f, nil
	}
	return fault{}, fmt.Errorf("unknown marker %q", name)
}

// countAndMessage splits "[COUNT] [MESSAGE...]".
func countAndMessage(args string) (int, string, error) {
	first, rest, _ := strings.Cut(args, " ")
	if isCount(first) {
		n, _ := strconv.Atoi(first)
		return n, strings.TrimSpace(rest), nil
	}
	if first != "" && first[0] >= '0' && first[0] <= '9' && strings.Trim(first, "0123456789") == "" {
		return 0, "", fmt.Errorf("count must be >= 1, got %q", first)
	}
	return 0, args, nil
}

// isCount reports whether s is a whole number >= 1.
func isCount(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && strings.Trim(s, "0123456789") == ""
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration >= 0 like 200ms, got %q", s)
	}
	return d, nil
}

func streamExceptionNames() string {
	var names []string
	for _, e := range exceptions {
		if e.StreamName != "" {
			names = append(names, e.StreamName)
		}
	}
	return strings.Join(names, ", ")
}

// parseFault compiles Options.Fault, which uses the marker vocabulary
// without brackets. Only fault markers are allowed there.
func parseFault(spec string) ([]fault, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	ms, err := ParseMarkers(markerOpen + spec + "]]")
	if err != nil {
		return nil, fmt.Errorf("bedrocksim: fault %q: %w", spec, err)
	}
	sc, err := compileScript(ms)
	if err != nil {
		return nil, fmt.Errorf("bedrocksim: fault %q: %w", spec, err)
	}
	if len(ms) != 1 || len(sc.Faults) != 1 {
		return nil, fmt.Errorf("bedrocksim: fault %q is not a single fault marker", spec)
	}
	return sc.Faults, nil
}

// MarkerHelp documents the marker language; cmd/bedrock-sim prints it in
// --help and README.md repeats it.
const MarkerHelp = `Markers go in the text of the LAST user message (string content or text
blocks; tool_result content is ignored). Several may be combined. A marker's
arguments end at the first "]]" (tool input is read as JSON and may contain
"]]"). An unknown or malformed marker is answered with a 400
ValidationException that names it.

Reply content (blocks appear in marker order):
  [[sim:text Hello world]]          a text block
  [[sim:thinking I should say hi]]  a thinking block, signed (signature_delta)
  [[sim:redacted-thinking]]         a redacted_thinking block
  [[sim:tool Bash {"command":"ls"}]] a tool_use block (id toolu_sim_...); input
                                    streamed only as input_json_delta pieces.
                                    If the script has no text block, the text
                                    "Calling <Name>." is put before the first
                                    tool. stop_reason becomes tool_use.
  [[sim:stop max_tokens]]           force stop_reason (end_turn, max_tokens,
                                    stop_sequence [SEQ], tool_use, pause_turn,
                                    refusal)
  [[sim:usage in=10 out=20 cw5m=30 cw1h=0 cr=40]]
                                    force any subset of the reported usage
  [[sim:latency 200ms]]             delay before the response starts
  [[sim:tps 50]]                    pace output at 50 tokens per second

Faults (COUNT makes a fault transient: it hits only the first COUNT requests
with an identical body, later identical requests go on to the next fault or
succeed; without COUNT it hits every request; a first argument that is a
whole number is the COUNT, the rest of the arguments is the message):
  [[sim:throttle [COUNT] [MSG]]]    429 ThrottlingException
  [[sim:validation [COUNT] [MSG]]]  400 ValidationException
  [[sim:unavailable [COUNT] [MSG]]] 503 ServiceUnavailableException
  [[sim:internal [COUNT] [MSG]]]    500 InternalServerException
  [[sim:timeout [COUNT] [MSG]]]     408 ModelTimeoutException
  [[sim:denied [COUNT] [MSG]]]      403 AccessDeniedException
  [[sim:error TYPE [COUNT] [MSG]]]  any Bedrock exception by name, e.g.
                                    ModelNotReadyException, ModelErrorException
  [[sim:midstream-error [TYPE] [COUNT] [MSG]]]
                                    exception frame after the first delta
                                    (default modelStreamErrorException; also
                                    throttlingException, validationException,
                                    internalServerException,
                                    modelTimeoutException,
                                    serviceUnavailableException); on /invoke
                                    the same exception as an HTTP error
  [[sim:drop [COUNT]]]              cut the connection after the first delta
                                    (no final frame); on /invoke cut the body
  [[sim:slow-first-byte DUR [COUNT]]]
                                    stream: send headers, then stall DUR
                                    before the first frame; /invoke: like
                                    latency
  [[sim:stall [COUNT]]]             stream: send headers, then nothing until
                                    the client leaves; /invoke: headers and
                                    half the body, then nothing

Without a block marker the reply is the configured reply text ("Hello from
bedrock-sim."), or "Tool result: <text of the first tool_result>" when the
last user message carries tool_result blocks.`
