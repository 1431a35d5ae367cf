package anthropic

// FieldPath escapes gjson/sjson path syntax in a top-level body field name,
// so that rules such as drop_fields: [context_management] name exactly one
// top-level field and never a path or pattern.
func FieldPath(k string) string {
	var b []byte
	for i := 0; i < len(k); i++ {
		switch k[i] {
		case '.', '*', '?', '|', '#', '@', '\\', '!', '=', '<', '>', '%':
			b = append(b, '\\')
		}
		b = append(b, k[i])
	}
	return string(b)
}
