package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/authz"
)

// apiError is an admin API refusal, shown on the form that caused it.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("admin API: %d %s", e.Status, e.Message) }

// recorder is the response writer of an in-process admin call.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

// adminRaw calls the admin API in process as p and returns the raw answer
// of a 2xx; other statuses become an *apiError with the API's message.
func (c *Console) adminRaw(ctx context.Context, p authz.Principal, method, path string, q url.Values, in any) (*recorder, error) {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("ui: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	u := path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("ui: build %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = p.RemoteAddr
	rec := &recorder{h: http.Header{}}
	c.opts.Admin.ServeAs(rec, req, p)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 300 {
		var eb admin.ErrorBody
		if json.Unmarshal(rec.body.Bytes(), &eb) == nil && eb.Error.Message != "" {
			return nil, &apiError{Status: rec.status, Message: eb.Error.Message}
		}
		return nil, &apiError{Status: rec.status, Message: http.StatusText(rec.status)}
	}
	return rec, nil
}

// admin calls the admin API as s's principal and decodes the answer into
// out (when not nil).
func (c *Console) admin(ctx context.Context, s *session, method, path string, q url.Values, in, out any) error {
	rec, err := c.adminRaw(ctx, s.Principal, method, path, q, in)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("ui: decode %s %s: %w", method, path, err)
	}
	return nil
}
