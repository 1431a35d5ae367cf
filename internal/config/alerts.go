package config

import (
	"encoding/base64"
	"net/url"
	"strings"
	"time"
)

// Alert sink types.
const (
	SinkWebhook = "webhook"
	SinkSlack   = "slack"
)

// Defaults of the alerts block.
const (
	DefaultAlertQueueSize    = 1000
	DefaultAlertMaxAttempts  = 6
	DefaultAlertRetryBackoff = 2 * time.Second
)

// Alerts configures budget alerts: when a budget's settled spend reaches one
// of its thresholds, or the budget refuses a call, the gateway logs it,
// counts it in tollgate_budget_alerts_total and notifies every sink, once per
// budget, threshold and period across restarts and replicas. Delivery runs
// in the background, never on a request.
type Alerts struct {
	// Sinks receive every alert. None: alerts are logged and counted only.
	Sinks []AlertSink `yaml:"sinks"`
	// QueueSize bounds the alerts waiting for delivery, per sink; beyond it
	// alerts are dropped for that sink and counted in
	// tollgate_alert_queue_dropped_total. Default 1000.
	QueueSize int `yaml:"queue_size"`
	// MaxAttempts is how many times a delivery is tried before it is given
	// up (counted as failed). Default 6.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBackoff is the wait before the second attempt; each later wait
	// doubles, up to 5 minutes. Default 2s (so six attempts span about a
	// minute).
	RetryBackoff time.Duration `yaml:"retry_backoff"`
}

// AlertSink is one notification target.
type AlertSink struct {
	// Name identifies the sink in logs and metrics. Default: the type;
	// required to tell two sinks of one type apart.
	Name string `yaml:"name"`
	// Type is "webhook" (a JSON POST signed per the Standard Webhooks
	// specification) or "slack" (a Slack incoming webhook).
	Type string `yaml:"type"`
	// URL receives the POST. Keep Slack URLs, which are secrets, in the
	// environment: url: ${SLACK_WEBHOOK_URL}.
	URL string `yaml:"url"`
	// Secret signs webhook bodies: "whsec_" followed by base64 (at least 24
	// bytes), as Standard Webhooks receivers expect; required for webhooks,
	// not allowed for Slack. Keep it in the environment: ${ALERT_SECRET}.
	Secret string `yaml:"secret"`
}

func (a *Alerts) applyDefaults() {
	a.QueueSize = orZero(a.QueueSize, DefaultAlertQueueSize)
	a.MaxAttempts = orZero(a.MaxAttempts, DefaultAlertMaxAttempts)
	a.RetryBackoff = orZero(a.RetryBackoff, DefaultAlertRetryBackoff)
	for i := range a.Sinks {
		a.Sinks[i].Name = or(a.Sinks[i].Name, a.Sinks[i].Type)
	}
}

func (v *validator) alerts() {
	a := v.c.Alerts
	if a.QueueSize < 0 {
		v.add("alerts.queue_size", "must not be negative (0 means the default, %d)", DefaultAlertQueueSize)
	}
	if a.MaxAttempts < 0 {
		v.add("alerts.max_attempts", "must not be negative (0 means the default, %d)", DefaultAlertMaxAttempts)
	}
	v.nonNegative("alerts.retry_backoff", a.RetryBackoff)
	names := map[string]int{}
	for i, s := range a.Sinks {
		p := indexPath("alerts.sinks", i)
		v.oneOf(p+".type", s.Type, []string{SinkWebhook, SinkSlack})
		if j, dup := names[s.Name]; dup && s.Name != "" {
			v.add(p+".name", "duplicate sink name %q (also alerts.sinks[%d]); give each sink its own name", s.Name, j)
		} else {
			names[s.Name] = i
		}
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(p+".url", "is not an absolute http or https URL (usually \"${SOME_ENV_VAR}\")")
		}
		switch s.Type {
		case SinkWebhook:
			if !validWebhookSecret(s.Secret) {
				v.add(p+".secret", "a webhook needs a signing secret: whsec_ followed by base64 of at least 24 bytes (usually \"${SOME_ENV_VAR}\"); generate one with: echo whsec_$(openssl rand -base64 32)")
			}
		case SinkSlack:
			if s.Secret != "" {
				v.add(p+".secret", "Slack incoming webhooks are not signed; the URL itself is the secret")
			}
		}
	}
}

// validWebhookSecret reports whether s is a Standard Webhooks signing
// secret. The message never echoes the secret.
func validWebhookSecret(s string) bool {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(key) >= 24
}
