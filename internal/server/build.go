package server

import (
	"context"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/keys"
	"github.com/tollgate-gw/tollgate/internal/provider"
	"github.com/tollgate-gw/tollgate/internal/router"
)

// BuildOptions adjust FromConfig for embedders such as `tollgate demo` and
// tests.
type BuildOptions struct {
	// Credentials overrides the AWS credential chain per Bedrock provider
	// name.
	Credentials map[string]aws.CredentialsProvider
}

// FromConfig builds a Server and its providers from a validated config. AWS
// credentials and API keys are resolved here, once.
func FromConfig(ctx context.Context, cfg *config.Config, log *slog.Logger, bo BuildOptions) (*Server, error) {
	rt, err := router.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	providers := make(map[string]provider.Provider, len(cfg.Providers))
	retries := make(map[string]int, len(cfg.Providers))
	region := ""
	for name, pc := range cfg.Providers {
		p, err := newProvider(ctx, name, pc, bo.Credentials[name], log)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", name, err)
		}
		providers[name] = p
		if pc.MaxRetries != nil {
			retries[name] = *pc.MaxRetries
		}
		if pc.Type == config.ProviderBedrock && (region == "" || name == cfg.Routing.DefaultProvider) {
			region = pc.Region
		}
	}
	var ks []keys.StaticKey
	for _, k := range cfg.Keys {
		ks = append(ks, keys.StaticKey{Name: k.Name, Secret: k.Secret})
	}
	return New(Options{
		Router:       rt,
		Providers:    providers,
		Auth:         keys.NewStatic(ks),
		Logger:       log,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		PingInterval: cfg.Server.PingInterval,
		MaxRetries:   retries,
		Region:       region,
	})
}

func newProvider(ctx context.Context, name string, pc config.Provider, creds aws.CredentialsProvider, log *slog.Logger) (provider.Provider, error) {
	to := provider.TransportOptions{
		ConnectTimeout:      pc.ConnectTimeout,
		FirstByteTimeout:    pc.FirstByteTimeout,
		MaxIdleConnsPerHost: pc.MaxIdleConnsPerHost,
	}
	switch pc.Type {
	case config.ProviderBedrock:
		o := provider.BedrockOptions{Name: name, Region: pc.Region, Endpoint: pc.Endpoint, Profile: pc.Profile,
			Credentials: creds, Transport: to, Logger: log.With("provider", name)}
		if pc.APIKeyEnv != "" {
			o.APIKey = os.Getenv(pc.APIKeyEnv)
			if o.APIKey == "" {
				return nil, fmt.Errorf("api_key_env %s is empty or unset", pc.APIKeyEnv)
			}
		}
		return provider.NewBedrock(ctx, o)
	case config.ProviderAnthropic:
		env := pc.APIKeyEnv
		if env == "" {
			env = "ANTHROPIC_API_KEY"
		}
		key := os.Getenv(env)
		if key == "" {
			return nil, fmt.Errorf("the Anthropic API key variable %s is empty or unset", env)
		}
		return provider.NewAnthropic(provider.AnthropicOptions{Name: name, BaseURL: pc.BaseURL, APIKey: key, Transport: to})
	}
	return nil, fmt.Errorf("unknown provider type %q", pc.Type)
}

// CheckUpstreams resolves each Bedrock provider's credentials once and logs
// the outcome, so a missing AWS setup shows at start, not on the first call.
func (s *Server) CheckUpstreams(ctx context.Context) {
	names := make([]string, 0, len(s.providers))
	for n := range s.providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, ok := s.providers[n].(*provider.Bedrock)
		if !ok {
			continue
		}
		src, err := b.CheckCredentials(ctx)
		if err != nil {
			s.log.Warn("no usable AWS credentials yet; Bedrock calls will fail until they are available",
				"provider", n, "region", b.Region(), "err", strings.TrimSpace(err.Error()))
			continue
		}
		s.log.Info("AWS credentials found", "provider", n, "region", b.Region(), "source", src)
	}
}
