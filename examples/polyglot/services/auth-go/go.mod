module github.com/raceway-dev/raceway/examples/polyglot/auth

go 1.23

require github.com/raceway-dev/raceway/sdks/go v0.0.0

// The SDK from this repository, as a user's module would take a published version.
replace github.com/raceway-dev/raceway/sdks/go => ../../../../sdks/go
