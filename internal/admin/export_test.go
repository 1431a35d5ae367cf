package admin

// Patterns returns the ServeMux patterns the API registers, in order, so
// that the OpenAPI tests read the route table instead of a copy of it.
func (a *API) Patterns() []string {
	var out []string
	for _, r := range a.routes() {
		out = append(out, r.pattern)
	}
	return out
}
