package config

import (
	"strings"
	"testing"
)

func TestOpenMode(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		open   bool // server.open_without_keys
		want   bool
	}{
		{"default loopback", "127.0.0.1:4000", false, true},
		{"other loopback address", "127.0.0.2:4000", false, true},
		{"ipv6 loopback", "[::1]:4000", false, true},
		{"localhost", "localhost:4000", false, true},
		{"all interfaces", "0.0.0.0:4000", false, false},
		{"empty host", ":4000", false, false},
		{"ipv6 any", "[::]:4000", false, false},
		{"private address", "10.0.0.5:4000", false, false},
		{"explicit open", "0.0.0.0:4000", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Listen: tt.listen, Server: Server{OpenWithoutKeys: tt.open}}
			if got, why := c.OpenMode(); got != tt.want {
				t.Errorf("OpenMode(%q, open_without_keys=%v) = %v (%s), want %v", tt.listen, tt.open, got, why, tt.want)
			}
		})
	}
}

// TestAlertsBlock: the alerts block parses strictly, and its problems carry
// file:line:col.
func TestAlertsBlock(t *testing.T) {
	env := func(name string) (string, bool) {
		switch name {
		case "ALERT_SECRET":
			return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true
		case "SLACK_URL":
			return "https://hooks.slack.com/services/T0/B0/x", true
		}
		return "", false
	}
	good := `alerts:
  sinks:
    - name: ops
      type: webhook
      url: https://hooks.example.com/tollgate?team=platform
      secret: ${ALERT_SECRET}
    - type: slack
      url: ${SLACK_URL}
  retry_backoff: 1s
`
	c, err := ParseWith([]byte(good), "t.yaml", env)
	if err != nil {
		t.Fatalf("ParseWith(good) = %v", err)
	}
	if got := c.Alerts.Sinks[1].Name; got != "slack" {
		t.Errorf("default sink name = %q, want slack", got)
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown type", "alerts:\n  sinks:\n    - type: email\n      url: https://x.example\n", "t.yaml:3:"},
		{"webhook without secret", "alerts:\n  sinks:\n    - type: webhook\n      url: https://x.example\n", "whsec_"},
		{"bad secret", "alerts:\n  sinks:\n    - type: webhook\n      url: https://x.example\n      secret: hunter2\n", "t.yaml:5:"},
		{"slack with secret", "alerts:\n  sinks:\n    - type: slack\n      url: https://x.example\n      secret: ${ALERT_SECRET}\n", "not signed"},
		{"bad url", "alerts:\n  sinks:\n    - type: slack\n      url: ${NOPE:-}\n", "http or https"},
		{"duplicate names", "alerts:\n  sinks:\n    - type: slack\n      url: https://a.example\n    - type: slack\n      url: https://b.example\n", "duplicate sink name"},
		{"unknown field", "alerts:\n  sinks:\n    - type: slack\n      ur1: https://a.example\n", "t.yaml:4:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWith([]byte(tt.yaml), "t.yaml", env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseWith = %v, want an error containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
}
