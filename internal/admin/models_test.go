package admin_test

import (
	"testing"

	"github.com/tollgate-gw/tollgate/internal/store/storetest"
)

// TestModelsGolden walks through runtime models on an admin API without a
// gateway (the database's models alone): create, list, get, patch, clear
// the price, delete, and the errors, on SQLite and PostgreSQL alike. The
// gateway's merged listing (file, catalog, patterns, clashes) and the test
// call are covered through a real gateway in internal/server.
func TestModelsGolden(t *testing.T) {
	storetest.Run(t, func(t *testing.T, open storetest.Opener) {
		e := newEnv(t, open)
		e.golden("models_create", 201, "POST", "/admin/models", `{"name":"team-sonnet","strategy":"weighted",`+
			`"targets":[{"provider":"bedrock","model":"us.anthropic.claude-sonnet-4-5-20250929-v1:0","weight":3,"max_concurrent":8,"queue_timeout_ms":1500},`+
			`{"provider":"west","model":"us.anthropic.claude-sonnet-4-5-20250929-v1:0","weight":1}],`+
			`"drop_betas":["context-management-2025-06-27"],"drop_fields":["context_management"],`+
			`"price":{"input":3,"output":15,"cache_write_5m":3.75,"cache_write_1h":6,"cache_read":0.3}}`)
		e.must(201, "POST", "/admin/models", `{"name":"other","targets":[{"provider":"anthropic","model":"claude-haiku-4-5-20251001"}]}`)
		e.golden("models_list", 200, "GET", "/admin/models", "")
		e.golden("models_get", 200, "GET", "/admin/models/TEAM-SONNET", "")
		e.golden("models_patch", 200, "PATCH", "/admin/models/team-sonnet", `{"display_name":"Team Sonnet","price":null}`)
		e.golden("models_create_conflict", 409, "POST", "/admin/models", `{"name":"Other","targets":[{"provider":"bedrock","model":"x"}]}`)
		e.golden("models_create_invalid", 400, "POST", "/admin/models", `{"name":"bad","targets":[{"provider":"bedrock","model":""}]}`)
		e.golden("models_create_no_targets", 400, "POST", "/admin/models", `{"name":"bad"}`)
		e.golden("models_test_detached", 501, "POST", "/admin/models/other/test", "")
		e.golden("models_delete", 204, "DELETE", "/admin/models/other", "")
		e.golden("models_delete_unknown", 404, "DELETE", "/admin/models/other", "")
		if n := e.changes.Load(); n != 4 {
			t.Errorf("OnChange called %d times, want 4 (two creates, one patch, one delete)", n)
		}
	})
}
