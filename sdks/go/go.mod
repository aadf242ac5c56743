module github.com/raceway-dev/raceway/sdks/go

go 1.23

require github.com/santhosh-tekuri/jsonschema/v6 v6.0.3

require golang.org/x/text v0.14.0 // indirect
