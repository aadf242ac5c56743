//! The database capture settings (spec 7): options, environment variables, defaults and error
//! codes.

use raceway_client::{ConfigErrorCode, Options};

fn resolve(
    options: Options,
    env: &'static [(&'static str, &'static str)],
) -> Result<raceway_client::Config, raceway_client::ConfigError> {
    let lookup = move |name: &str| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    Options {
        service_name: Some("order".into()),
        ..options
    }
    .resolve_with_env(&lookup)
}

#[test]
fn defaults_capture_queries_without_values_under_the_default_key() {
    let config = resolve(Options::default(), &[]).unwrap();
    assert!(config.capture_queries);
    assert!(!config.capture_values);
    assert_eq!(config.digest_key.as_str(), "raceway-digest-v1");
}

#[test]
fn the_environment_fills_what_code_leaves_out_and_code_wins() {
    let env = &[
        ("RACEWAY_DB_CAPTURE", " Off "),
        ("RACEWAY_DB_CAPTURE_VALUES", "yes"),
        ("RACEWAY_DIGEST_KEY", "  shop-secret "),
    ];
    let config = resolve(Options::default(), env).unwrap();
    assert!(!config.capture_queries);
    assert!(config.capture_values);
    assert_eq!(config.digest_key.as_str(), "shop-secret");
    let options = Options {
        capture_queries: Some(true),
        capture_values: Some(false),
        digest_key: Some("mine".into()),
        ..Options::default()
    };
    let config = resolve(options, env).unwrap();
    assert!(config.capture_queries);
    assert!(!config.capture_values);
    assert_eq!(config.digest_key.as_str(), "mine");
    // Blank variables count as unset.
    let config = resolve(Options::default(), &[("RACEWAY_DIGEST_KEY", "  ")]).unwrap();
    assert_eq!(config.digest_key.as_str(), "raceway-digest-v1");
}

#[test]
fn bad_values_are_refused_with_their_codes_and_the_key_is_never_shown() {
    let code = |options: Options, env: &'static [(&'static str, &'static str)]| {
        resolve(options, env).unwrap_err().code
    };
    assert_eq!(
        code(Options::default(), &[("RACEWAY_DB_CAPTURE", "maybe")]),
        ConfigErrorCode::InvalidDbCapture
    );
    assert_eq!(
        code(Options::default(), &[("RACEWAY_DB_CAPTURE_VALUES", "2")]),
        ConfigErrorCode::InvalidDbCaptureValues
    );
    let blank_key = Options {
        digest_key: Some(" ".into()),
        ..Options::default()
    };
    let error = resolve(blank_key, &[]).unwrap_err();
    assert_eq!(error.code, ConfigErrorCode::InvalidDigestKey);
    assert_eq!(error.code.as_str(), "RACEWAY_INVALID_DIGEST_KEY");
    let config = resolve(
        Options {
            digest_key: Some("top-secret-key".into()),
            ..Options::default()
        },
        &[],
    )
    .unwrap();
    assert!(!format!("{config:?}").contains("top-secret-key"));
}
