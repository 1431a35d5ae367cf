package admin

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/goccy/go-yaml"
)

// openapiYAML is the reference of this API. It is written as YAML, which
// takes comments and reads well in review, and served as JSON, which every
// OpenAPI tool and jq reads.
//
//go:embed openapi.yaml
var openapiYAML []byte

// openapiJSON converts the document once, on first request. The conversion
// keeps the order of the YAML, so the JSON reads the same way.
var openapiJSON = sync.OnceValues(func() ([]byte, error) {
	j, err := yaml.YAMLToJSON(openapiYAML)
	if err != nil {
		return nil, fmt.Errorf("admin: openapi.yaml: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, j, "", "  "); err != nil {
		return nil, fmt.Errorf("admin: openapi.yaml as JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
})

// openapi serves GET /admin/openapi.json. It is behind the admin key like
// every other admin path, since ServeHTTP authenticates before routing so
// that nobody without the key can map the endpoints; the document is
// public in the repository anyway (docs/admin-api.openapi.yaml).
func (a *API) openapi(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	b, err := openapiJSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}
