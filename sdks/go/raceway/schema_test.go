package raceway

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var schemaDir = filepath.Join("..", "..", "..", "spec", "schemas")

var (
	schemaOnce     sync.Once
	compiledSchema *jsonschema.Schema
	schemaErr      error
)

// eventSchema is spec/schemas/event.schema.json, compiled once from the contract's directory.
func eventSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		compiledSchema, schemaErr = c.Compile(filepath.Join(schemaDir, "event.schema.json"))
	})
	if schemaErr != nil {
		t.Fatalf("compiling the event schema: %v", schemaErr)
	}
	return compiledSchema
}

// validateEventJSON checks one event's wire JSON against the contract's schema.
func validateEventJSON(t testing.TB, raw []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return eventSchema(t).Validate(doc)
}

func runEventsCase(t *testing.T, c vectorCase) {
	var input struct {
		Event json.RawMessage `json:"event"`
	}
	decodeInto(t, c.Input, &input)
	err := validateEventJSON(t, input.Event)
	assertSameJSON(t, c, map[string]bool{"valid": err == nil})
}
