// Package packaging holds no code: its tests build the probe-agent .deb and
// .rpm packages with build.sh and check them, the maintainer scripts and the
// systemd unit. See docs/packaging.md.
package packaging
