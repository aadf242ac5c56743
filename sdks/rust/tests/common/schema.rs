use std::path::PathBuf;
use std::sync::OnceLock;

/// A validator for `spec/schemas/event.schema.json`, read in place.
pub fn event_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/schemas/event.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("json");
        jsonschema::draft202012::new(&schema).expect("a valid schema")
    })
}

/// Panics with the schema errors when `event` is not a valid event.
pub fn assert_valid_event(event: &serde_json::Value) {
    let errors: Vec<String> = event_validator()
        .iter_errors(event)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "invalid event {event}: {errors:?}");
}
