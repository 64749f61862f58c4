package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/controller"
)

// TestCorruptStoreDoesNotStopTheBinary: probe-controller run with a
// probes.json that does not parse (null, {}, truncated) starts (it used to
// exit with the load error: a restart loop under systemd), sets the file
// aside, logs an Error naming it and where it went, runs the probes_dir
// probe and shows the corruption on /status and /metrics.
func TestCorruptStoreDoesNotStopTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	_, ctlBin := buildBinaries(t)
	lab, _ := filepath.Abs("../../containerlab/leaf-spine-linux.clab.yml")
	seed, err := os.ReadFile("../../controller/testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, store string }{
		{"null", "null"},
		{"empty object", "{}"},
		{"truncated", `{"generation": 4, "probes": [{"id": "lost", "label": "lo`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			state, probes := filepath.Join(dir, "state"), filepath.Join(dir, "probes")
			for _, d := range []string{state, probes} {
				if err := os.MkdirAll(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			snap := filepath.Join(state, "probes.json")
			if err := os.WriteFile(snap, []byte(tc.store), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(probes, "seed.json"), seed, 0o644); err != nil {
				t.Fatal(err)
			}
			api := freeAddr(t)
			var systems []string
			for _, leaf := range []string{"leaf1", "leaf2", "leaf3", "leaf4"} {
				// Nothing listens there: the sessions retry, which is all
				// this test needs of them.
				systems = append(systems, fmt.Sprintf("    %s: {address: %q}", leaf, freeAddr(t)))
			}
			cfg := filepath.Join(dir, "controller.yaml")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf("blueprint_id: dc1\ntopology: {file: %q}\nagents:\n  defaults: {insecure: true}\n  systems:\n%s\napi: {listen: %q}\nstate_dir: %q\nprobes_dir: %q\n",
				lab, strings.Join(systems, "\n"), api, state, probes)), 0o644); err != nil {
				t.Fatal(err)
			}
			logFile := filepath.Join(dir, "controller.log")
			p := start(t, logFile, ctlBin, "run", "--config", cfg)
			diag := func() string { data, _ := os.ReadFile(logFile); return "controller log:\n" + string(data) }
			var st controller.Status
			waitUntil(t, 15*time.Second, "/status", diag, func() bool {
				select {
				case <-p.exited:
					t.Fatalf("probe-controller exited with a corrupt store\n%s", diag())
				default:
				}
				resp, err := http.Get("http://" + api + "/status")
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				return json.NewDecoder(resp.Body).Decode(&st) == nil
			})
			if st.StoreCorrupt != 1 || len(st.StoreSetAside) != 1 || !strings.HasPrefix(st.StoreSetAside[0], snap+".corrupt-") {
				t.Errorf("/status: store_corrupt %d, store_set_aside %v", st.StoreCorrupt, st.StoreSetAside)
			}
			if len(st.Probes) != 1 || st.Probes[0].ID != "server-imbalance" || st.Probes[0].Error != "" {
				t.Errorf("/status probes %+v, want the probes_dir probe", st.Probes)
			}
			if kept, err := os.ReadFile(st.StoreSetAside[0]); err != nil || string(kept) != tc.store {
				t.Errorf("the corrupt file was not kept as it was: %q, %v", kept, err)
			}
			resp, err := http.Get("http://" + api + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(metrics), "\nprobe_controller_store_corrupt_total 1\n") {
				t.Errorf("/metrics has no probe_controller_store_corrupt_total 1")
			}
			log := diag()
			if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "probe store is corrupt") || !strings.Contains(log, st.StoreSetAside[0]) {
				t.Errorf("no Error naming the file set aside\n%s", log)
			}
			p.signal(t, syscall.SIGTERM)
		})
	}
}
