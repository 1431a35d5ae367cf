package gateway

import (
	"log/slog"

	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/keys"
)

// openMode decides, once at start, whether the gateway may be open while no
// client key exists (see config.Config.OpenMode), closes the key cache when
// it may not, and says loudly which it is. Virtual keys may still appear
// later, so "open" here means "open until the first key".
func openMode(cfg *config.Config, c *keys.Cache, staticKeys int, log *slog.Logger) {
	if staticKeys > 0 {
		return
	}
	allowed, why := cfg.OpenMode()
	if !allowed {
		c.RefuseOpen()
		log.Warn("no static client keys configured and open mode is off: model calls are refused until a virtual key exists",
			"reason", why, "fix", "tollgate keys create, or server.open_without_keys: true")
		return
	}
	log.Warn("OPEN MODE: until the first virtual key is created, this gateway admits every caller without a key",
		"reason", why, "metric", "tollgate_open_mode")
}
