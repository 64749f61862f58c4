// Package e2e holds the end-to-end tests of the whole system: real
// binaries (probe-agent on every switch, probe-controller) on a lab fabric
// of network namespaces with real traffic between its servers, checked
// from the outside through the controller's API, the agents' APIs and an
// independent streaming receiver. The tests need root and skip otherwise;
// the package has no code of its own.
package e2e
