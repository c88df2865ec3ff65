module github.com/windhover/windhover/benchmarks

go 1.26.0

replace github.com/windhover/windhover => ../

require (
	github.com/didip/tollbooth/v7 v7.0.2
	github.com/sethvargo/go-limiter v0.7.1
	github.com/windhover/windhover v0.0.0-00010101000000-000000000000
)

require (
	github.com/go-pkgz/expirable-cache/v3 v3.0.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
