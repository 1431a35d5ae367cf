package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text to the loader, seeded with every file in
// testdata/. The loader must never panic, and it must either return a
// configuration that validates or a *ValidationError.
func FuzzParse(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseWith(data, "fuzz.yaml", testEnv)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("ParseWith = %v (%T), want a *ValidationError with problems", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseWith succeeded but Validate() = %v", err)
		}
		_ = c.Describe()
		_ = c.AllModels()
	})
}

// seedFuzz adds every testdata file and a few tricky inputs to the corpus.
func seedFuzz(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: ${X:-${Y}}\n"))
	f.Add([]byte("providers: {b: {type: bedrock}}\nrouting: {patterns: [{match: '*', model: '{name'}]}\n"))
}
