module github.com/raceway-dev/raceway/sdks/go/racewaysql

go 1.23

require github.com/raceway-dev/raceway/sdks/go v0.0.0

// The SDK from this checkout, developed in step with it.
replace github.com/raceway-dev/raceway/sdks/go => ../
