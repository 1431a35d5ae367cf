package bedrocksim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// prepared is an invoke request that passed validation: its fault if any,
// its planned answer and its pacing.
type prepared struct {
	fault   *fault
	reply   *reply
	latency time.Duration
	tps     float64
}

// prepare runs everything InvokeModel and InvokeModelWithResponseStream
// share: model id, body validation, markers, fault selection, usage.
func (s *Server) prepare(r *http.Request, c *call) (*prepared, error) {
	defaultFault, faultErr := s.defaults()
	if faultErr != nil {
		return nil, &apiError{Status: http.StatusInternalServerError, Type: "InternalServerException", Message: faultErr.Error()}
	}
	model, err := parseModelID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	req, err := parseInvokeBody(c.body, validateOptions{
		RejectBetas:  s.opts.RejectBetas,
		RejectFields: s.opts.RejectFields,
		HeaderBetas:  headerBetas(r.Header),
		Signatures:   true,
		ThinkingKey:  s.opts.ThinkingKey,
	})
	if err != nil {
		return nil, err
	}
	sc := &script{}
	if last := req.lastUserMessage(); last != nil {
		ms, err := ParseMarkers(last.promptText())
		if err == nil {
			sc, err = compileScript(ms)
		}
		if err != nil {
			s.log.Warn("bedrocksim: bad marker", "err", err)
			return nil, validationError("bedrock-sim: %v", err)
		}
	}
	p := &prepared{latency: s.opts.FirstByteLatency, tps: s.opts.TokensPerSecond}
	if sc.Latency != nil {
		p.latency = *sc.Latency
	}
	if sc.TPS != nil {
		p.tps = *sc.TPS
	}
	faults := sc.Faults
	if len(faults) == 0 {
		faults = defaultFault
	}
	if len(faults) > 0 {
		if f, ok := pickFault(faults, s.faults.next(c.body)); ok {
			p.fault = &f
			if f.Kind == faultHTTP {
				return nil, &apiError{Status: f.Exc.Status, Type: f.Exc.Name, Message: f.message()}
			}
		}
	}
	p.reply = s.plan(c.rng, model.Name, req, sc)
	in := s.cache.account(model.Name, req.segments(), s.opts.Now(), s.opts.MinCacheableTokens)
	in.Output = p.reply.Usage.Output
	p.reply.Usage = in.apply(sc.Usage)
	return p, nil
}

// headerBetas splits the anthropic-beta header the way the Anthropic SDKs
// join it: comma-separated, possibly repeated.
func headerBetas(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Anthropic-Beta") {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	return out
}

// invoke answers InvokeModel with one Anthropic Message JSON.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.prepare(r, c)
	if err != nil {
		return err
	}
	delay := p.latency
	if p.fault != nil && p.fault.Kind == faultSlow {
		delay += p.fault.Delay
	}
	if p.tps > 0 {
		delay += time.Duration(float64(p.reply.Usage.Output) / p.tps * float64(time.Second))
	}
	if err := sleep(r.Context(), delay); err != nil {
		return nil // the client left
	}
	if p.fault != nil && p.fault.Kind == faultMidstream {
		return &apiError{Status: p.fault.Exc.Status, Type: p.fault.Exc.Name, Message: p.fault.message()}
	}

	body := mustJSON(messageJSON(p.reply, true))
	u := p.reply.Usage
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(u.Input))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(u.Output))
	h.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(s.opts.Now().Sub(c.start).Milliseconds(), 10))
	if u.CacheRead > 0 {
		h.Set("X-Amzn-Bedrock-Cache-Read-Input-Token-Count", strconv.Itoa(u.CacheRead))
	}
	if u.cacheWrite() > 0 {
		h.Set("X-Amzn-Bedrock-Cache-Write-Input-Token-Count", strconv.Itoa(u.cacheWrite()))
	}
	w.WriteHeader(http.StatusOK)
	if p.fault != nil && p.fault.Kind == faultStall {
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done() // hold the connection, silent, until the client leaves
		return nil
	}
	if p.fault != nil && p.fault.Kind == faultDrop {
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // cut the connection mid-body
	}
	_, _ = w.Write(body)
	return nil
}

// Wire shapes. Field order follows the Anthropic API.

type usageJSON struct {
	InputTokens              int            `json:"input_tokens"`
	CacheCreationInputTokens int            `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int            `json:"cache_read_input_tokens"`
	CacheCreation            *cacheCreation `json:"cache_creation"`
	OutputTokens             int            `json:"output_tokens"`
}

type cacheCreation struct {
	Ephemeral5m int `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int `json:"ephemeral_1h_input_tokens"`
}

type messageOut struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Role         string    `json:"role"`
	Model        string    `json:"model"`
	Content      []any     `json:"content"`
	StopReason   *string   `json:"stop_reason"`
	StopSequence *string   `json:"stop_sequence"`
	Usage        usageJSON `json:"usage"`
}

type textJSON struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type thinkingJSON struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

type redactedJSON struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

type toolUseJSON struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// blockJSON renders a block complete (for InvokeModel) or as it opens a
// stream block (empty text, thinking and signature; tool input {}).
func blockJSON(b outBlock, complete bool) any {
	switch b.Type {
	case "thinking":
		if !complete {
			return thinkingJSON{Type: b.Type}
		}
		return thinkingJSON{Type: b.Type, Thinking: b.Text, Signature: b.Signature}
	case "redacted_thinking":
		return redactedJSON{Type: b.Type, Data: b.Data}
	case "tool_use":
		in := b.Input
		if !complete {
			in = json.RawMessage(`{}`)
		}
		return toolUseJSON{Type: b.Type, ID: b.ID, Name: b.Name, Input: in}
	}
	if !complete {
		return textJSON{Type: b.Type}
	}
	return textJSON{Type: b.Type, Text: b.Text}
}

func (u usage) json(output int) usageJSON {
	return usageJSON{
		InputTokens:              u.Input,
		CacheCreationInputTokens: u.cacheWrite(),
		CacheReadInputTokens:     u.CacheRead,
		CacheCreation:            &cacheCreation{Ephemeral5m: u.CacheWrite5m, Ephemeral1h: u.CacheWrite1h},
		OutputTokens:             output,
	}
}

// messageJSON renders the whole answer (complete) or the message of
// message_start (no content, no stop reason, output_tokens 1).
func messageJSON(rp *reply, complete bool) messageOut {
	m := messageOut{ID: rp.ID, Type: "message", Role: "assistant", Model: rp.Model, Content: []any{}}
	if !complete {
		m.Usage = rp.Usage.json(1)
		return m
	}
	for _, b := range rp.Blocks {
		m.Content = append(m.Content, blockJSON(b, true))
	}
	m.StopReason = &rp.StopReason
	m.StopSequence = rp.StopSeq
	m.Usage = rp.Usage.json(rp.Usage.Output)
	return m
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// countTokens answers CountTokens. Like Bedrock, it refuses
// inference-profile ids and ARNs; it estimates the prompt with the same
// formula as InvokeModel, without the cache split.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	model, err := parseModelID(r.PathValue("id"))
	if err != nil {
		return err
	}
	if model.Profile {
		return validationError("The provided model doesn't support counting tokens.")
	}
	var in struct {
		Input struct {
			InvokeModel *struct {
				Body []byte `json:"body"`
			} `json:"invokeModel"`
			Converse map[string]json.RawMessage `json:"converse"`
		} `json:"input"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return validationError("1 validation error detected: input: %v", err)
	}
	n := 0
	switch {
	case in.Input.InvokeModel != nil:
		req, err := parseInvokeBody(in.Input.InvokeModel.Body, validateOptions{
			RejectBetas:  s.opts.RejectBetas,
			RejectFields: s.opts.RejectFields,
		})
		if err != nil {
			return err
		}
		n = promptTokens(req.segments())
	case in.Input.Converse != nil:
		if _, ok := in.Input.Converse["messages"]; !ok {
			return validationError("1 validation error detected: Value null at 'input.converse.messages' failed to satisfy constraint: Member must not be null")
		}
		var segs []segment
		for _, k := range []string{"toolConfig", "system", "messages"} {
			if raw, ok := in.Input.Converse[k]; ok {
				segs = append(segs, segment{Bytes: compactJSON(raw)})
			}
		}
		n = promptTokens(segs)
	default:
		return validationError("1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null")
	}
	body := mustJSON(map[string]int{"inputTokens": n})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	_, _ = w.Write(body)
	return nil
}
