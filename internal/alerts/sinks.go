package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Webhook posts an alert as JSON, signed per the Standard Webhooks
// specification (webhook-id, webhook-timestamp and webhook-signature
// headers; v1 HMAC-SHA256 over "id.timestamp.body"), so that receivers can
// use any Standard Webhooks library to verify it. The id is the alert's,
// the same on every retry, so receivers can deduplicate.
type Webhook struct {
	name   string
	url    string
	signer *standardwebhooks.Webhook
	client *http.Client
	now    func() time.Time
}

// NewWebhook returns a webhook sink; secret is "whsec_" + base64.
func NewWebhook(name, url, secret string, client *http.Client) (*Webhook, error) {
	signer, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, fmt.Errorf("alerts: webhook %s: signing secret: %w", name, err)
	}
	return &Webhook{name: name, url: url, signer: signer, client: orDefault(client), now: time.Now}, nil
}

// Name returns the sink's name.
func (w *Webhook) Name() string { return w.name }

// Send posts a once; any status but 2xx is an error.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("alerts: encode alert: %w", err)
	}
	// A fresh timestamp per attempt: receivers reject old ones.
	ts := w.now()
	sig, err := w.signer.Sign(a.ID, ts, body)
	if err != nil {
		return fmt.Errorf("alerts: sign alert: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	hdr.Set(standardwebhooks.HeaderWebhookID, a.ID)
	hdr.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(ts.Unix()))
	hdr.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return post(ctx, w.client, w.url, hdr, body)
}

// Slack posts an alert's message to a Slack incoming webhook.
type Slack struct {
	name   string
	url    string
	client *http.Client
}

// NewSlack returns a Slack sink; url is the incoming webhook's URL.
func NewSlack(name, url string, client *http.Client) *Slack {
	return &Slack{name: name, url: url, client: orDefault(client)}
}

// Name returns the sink's name.
func (s *Slack) Name() string { return s.name }

// Send posts {"text": message}.
func (s *Slack) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(map[string]string{"text": a.Data.Message})
	if err != nil {
		return fmt.Errorf("alerts: encode slack message: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	return post(ctx, s.client, s.url, hdr, body)
}

func orDefault(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return c
}

func post(ctx context.Context, c *http.Client, url string, hdr http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alerts: build request: %w", err)
	}
	req.Header = hdr
	resp, err := c.Do(req)
	if err != nil {
		// The URL may hold a secret (Slack's always does): say only where.
		return fmt.Errorf("alerts: POST to %s failed: %w", req.URL.Host, unwrapURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alerts: POST to %s: HTTP %d %s", req.URL.Host, resp.StatusCode, bytes.TrimSpace(snippet))
	}
	return nil
}
