package config

import (
	"fmt"
	"strings"
)

// Describe is a short human summary printed at start: where the gateway
// listens, each provider with its region or endpoint and how it
// authenticates, how many models it serves and whether client keys are
// configured. It never prints a secret: keys are counted, API keys are
// named by the variable that holds them, and URL passwords are masked.
func (c *Config) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen %s, data dir %s, log %s/%s\n", c.Listen, c.DataDir, c.Log.Level, c.Log.Format)
	if c.TLS.Enabled() {
		fmt.Fprintf(&b, "tls: HTTPS with %s and %s, reloaded when they change\n", c.TLS.CertFile, c.TLS.KeyFile)
	}
	fmt.Fprintf(&b, "database %s\n", redactURL(c.Database))
	for _, name := range c.ProviderNames() {
		p := c.Providers[name]
		fmt.Fprintf(&b, "provider %s: %s", name, p.Type)
		switch p.Type {
		case ProviderBedrock:
			fmt.Fprintf(&b, " in %s", p.Region)
			if p.Endpoint != "" {
				fmt.Fprintf(&b, " via %s", redactURL(p.Endpoint))
			}
			switch {
			case p.APIKeyEnv != "":
				fmt.Fprintf(&b, ", Bedrock API key from $%s", p.APIKeyEnv)
			case p.Profile != "":
				fmt.Fprintf(&b, ", SigV4 with AWS profile %q", p.Profile)
			default:
				b.WriteString(", SigV4 with the default AWS credential chain")
			}
		case ProviderAnthropic:
			fmt.Fprintf(&b, " at %s, API key from $%s", redactURL(p.BaseURL), p.APIKeyEnv)
		}
		b.WriteByte('\n')
	}

	all := len(c.AllModels())
	fmt.Fprintf(&b, "models: %d listed, %d in total with the catalog", len(c.Models), all)
	if c.Routing.Catalog == CatalogDefault {
		fmt.Fprintf(&b, " (on %s", c.Routing.DefaultProvider)
		if c.Providers[c.Routing.DefaultProvider].Type == ProviderBedrock {
			fmt.Fprintf(&b, ", prefix %s", c.Routing.BedrockPrefix)
		}
		b.WriteByte(')')
	} else {
		b.WriteString(" (catalog off)")
	}
	fmt.Fprintf(&b, "; %d pattern rules\n", len(c.Routing.Patterns))

	if n := len(c.Keys); n > 0 {
		fmt.Fprintf(&b, "keys: %d static keys, plus the virtual keys in the database", n)
	} else {
		if open, why := c.OpenMode(); open {
			b.WriteString("keys: NONE CONFIGURED in the file: until a virtual key exists (tollgate keys create), any client key is accepted (" + why + ")")
		} else {
			b.WriteString("keys: NONE CONFIGURED in the file: until a virtual key exists (tollgate keys create), model calls are refused (" + why + ")")
		}
	}
	return b.String()
}
