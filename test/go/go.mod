module tracker/test/go

go 1.26.0

require (
	connectrpc.com/connect/v2 v2.0.2
	github.com/tracker-dev/tracker/gen/go v0.0.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/protobuf v1.36.12
)

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261110000943-09e21b237f2c // indirect
)

// The client as committed in this repository, not a published version.
replace github.com/tracker-dev/tracker/gen/go => ../../gen/go
