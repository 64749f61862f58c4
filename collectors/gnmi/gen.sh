#!/bin/sh
# Regenerates oc/oc.go, the typed OpenConfig interface structs, from the YANG
# modules that ship inside the ygot module itself (so no YANG is vendored
# here). Run through `go generate ./collectors/gnmi`. Only the tests import
# package oc: it is the model the decoder's static table (model.go) is
# checked against; after regenerating, run `go test ./collectors/gnmi`.
set -eu
ygot=github.com/openconfig/ygot@v0.36.0
go mod download "$ygot"
modcache=$(go env GOMODCACHE)
Y="$modcache/$ygot/demo/getting_started/yang"
go run github.com/openconfig/ygot/generator@v0.36.0 -path="$Y" -output_file=oc/oc.go \
  -package_name=oc -generate_fakeroot -fakeroot_name=device -compress_paths=true \
  -exclude_modules=ietf-interfaces -generate_getters -generate_leaf_getters \
  -generate_simple_unions -shorten_enum_leaf_names -typedef_enum_with_defmod \
  -prefer_operational_state -ignore_shadow_schema_paths "$Y/openconfig-interfaces.yang"
# The generator writes absolute module-cache paths into comments; replace them
# so the committed file does not depend on whose machine generated it.
sed -i "s|$modcache|\$GOMODCACHE|g" oc/oc.go
gofmt -w oc/oc.go
