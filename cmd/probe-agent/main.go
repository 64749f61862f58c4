// Command probe-agent is the on-device daemon: it reads interface counters,
// evaluates the edge part of IBA probes and streams the results in the
// Apstra streaming format.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/replay"
	_ "github.com/probe-agent/probe-agent/probe/processors" // the processor catalog
)

// version is set at link time from `git describe` (see the Makefile).
var version = "dev"

func init() {
	// Nothing reads the runtime's heap profile (the agent serves no pprof),
	// but sampling is on because gRPC links runtime/pprof: its bucket table
	// alone is 1.4 MB, much of it resident once allocations are sampled
	// (docs/PERFORMANCE.md). Off before the agent allocates anything.
	runtime.MemProfileRate = 0
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "probe-agent:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "probe-agent",
		Short:         "Evaluate IBA probes on a switch or server and stream the results",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newConfigCmd(), newCollectCmd(), newVersionCmd())
	root.AddCommand(newDocsCmd(root))
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the Go version it was built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "probe-agent %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func newRunCmd() *cobra.Command {
	var configFile, output string
	var demo bool
	cmd := &cobra.Command{
		Use:   "run [--config FILE]",
		Short: "Run the agent",
		Long: `Run the agent: read counters every interval, evaluate the probes, and send
stage changes, anomalies and link events to the configured receivers, or print
them on stdout when none is configured.

Without --config the agent reads this host's interfaces over netlink and runs
the built-in demo probe. SIGHUP reloads the configuration file and the probe
files: identity, interval, collector, streaming, output, log level and
probes_dir apply at once (unchanged probes keep their state); state_dir,
control and api need a restart; a file that does not load changes nothing.
Once the collector is open the agent gives up CAP_SYS_ADMIN, which only
entering collector.netlink.netns needs: a reload naming a namespace other
than the one entered at start is refused and needs a restart.
SIGTERM and SIGINT flush queued messages for up to shutdown_timeout and
exit 0 (messages still unsent are logged). A closed stdout (a pipe whose
reader exited) is logged once; the agent keeps running and drops printed
messages.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// GOGC 25, chosen on whole-agent numbers (make bench-agent,
			// docs/PERFORMANCE.md "GOGC 25 ... whole agent"): where the
			// tick allocates little, 25 and 100 are within the spread on
			// CPU and RSS; where it allocated per message (every item
			// streamed at 4,000 interfaces, before streaming encoded
			// straight from the stages) 100 saved CPU but cost 2.4-3.8 MiB
			// of RSS, which the switch cannot spare. GOGC still overrides.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(25)
			}
			cfg := agent.Defaults()
			if configFile != "" {
				var err error
				if cfg, err = agent.Load(configFile); err != nil {
					return err
				}
			} else {
				// Without a configuration nothing is persisted: a try-out
				// must not need or touch /var/lib.
				demo = true
				cfg.StateDir = ""
				cfg.API.Listen = ""
			}
			if output != "" {
				cfg.Output = output
			}
			level := new(slog.LevelVar)
			_ = level.UnmarshalText([]byte(cfg.LogLevel))
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			// A reader of stdout that exits (`probe-agent run | head`)
			// must not kill the agent with SIGPIPE, silently: with the
			// signal caught, the write fails with EPIPE, the printer logs
			// it once and drops later lines, and the agent keeps running
			// (its APIs, streams and control plane do not need stdout).
			sigpipe := make(chan os.Signal, 1)
			signal.Notify(sigpipe, syscall.SIGPIPE)
			defer signal.Stop(sigpipe)
			go func() {
				for range sigpipe {
				}
			}()
			a, err := agent.New(cfg, agent.Options{Logger: log, Stdout: cmd.OutOrStdout(), Demo: demo, LogLevel: level})
			if err != nil {
				return err
			}
			// The collector is open: what it needed CAP_SYS_ADMIN for
			// (entering collector.netlink.netns) is done.
			dropNamespaceCapability(log)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						if err := reload(ctx, a, configFile, output, log); err != nil {
							log.Error("reload failed; the running configuration is unchanged", "err", err)
						}
					}
				}
			}()
			runCtx, fail := context.WithCancelCause(ctx)
			defer fail(nil)
			fitListeners(&cfg, log)
			waitControl, err := startControl(runCtx, a, cfg, log, fail)
			if err != nil {
				return err
			}
			if err := startAPI(runCtx, a, cfg, log); err != nil {
				return err
			}
			err = a.Run(runCtx)
			fail(nil)
			if err != nil && ctx.Err() != nil {
				// Stopped by SIGTERM or SIGINT: messages a receiver did not
				// take within shutdown_timeout are lost, which the log
				// says, but the stop itself is a normal one (exit 0), not
				// a failure for systemd to restart or alert on.
				log.Warn("stopped with messages unsent", "err", err)
				err = nil
			}
			err = errors.Join(err, waitControl())
			if err == nil {
				log.Info("stopped")
			}
			return err
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "configuration `FILE` (YAML; probe-agent config example prints one)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "stdout format when no streaming receiver is configured: json or text")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "text"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().BoolVar(&demo, "demo", false, "also run the built-in demo probe")
	return cmd
}

// reload handles SIGHUP: the configuration file again (when there is one),
// then the probe files.
func reload(ctx context.Context, a *agent.Agent, configFile, output string, log *slog.Logger) error {
	if configFile == "" {
		return a.Reload(ctx)
	}
	cfg, err := agent.Load(configFile)
	if err != nil {
		return err
	}
	if output != "" {
		cfg.Output = output
	}
	log.Info("reloading configuration", "file", configFile)
	return a.Reconfigure(ctx, cfg)
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Configuration helpers"}
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a documented example configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(agent.ExampleConfig)
			return err
		},
	}, &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := agent.Load(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", args[0])
			return nil
		},
	})
	return cmd
}

func newCollectCmd() *cobra.Command {
	cfg := agent.Defaults()
	var interval time.Duration
	var count int
	var target string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "collect --collector netlink|gnmi [--netns NAME] [--target HOST:PORT] [--interval 1s] [--count N]",
		Short: "Print interface counters as replay-format JSON lines",
		Long: `Read interface counters with a collector and print them as JSON lines in the
replay format (one line per interface per interval), ready for
probectl simulate --counters or the agent's replay collector.

With --collector gnmi it first waits up to --wait for the target's first
data and exits non-zero with the target's error (refused, TLS,
authentication, rejected subscription) when there is none; a stream lost
later also ends it with an error rather than repeating old values.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.SystemID == "" {
				cfg.SystemID = agent.Defaults().SystemID
			}
			cfg.Interval = agent.Duration(interval)
			if target != "" {
				cfg.Collector.GNMI.Target = target
			}
			if cfg.Collector.Type == "replay" {
				return errors.New("--collector: collect reads a live source: netlink or gnmi")
			}
			log := newLogger("warn")
			col, err := agent.NewCollector(cfg, log)
			if err != nil {
				return err
			}
			defer col.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := waitConnected(ctx, col, wait); err != nil {
				return err
			}
			return collect(ctx, col, interval, count, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Collector.Type, "collector", "netlink", "netlink or gnmi")
	f.StringVar(&cfg.Collector.Netlink.Netns, "netns", "", "network namespace to read (netlink)")
	f.StringVar(&target, "target", "", "gNMI target host:port")
	f.StringVar(&cfg.Collector.GNMI.Username, "username", "", "gNMI username")
	f.StringVar(&cfg.Collector.GNMI.Password, "password", "", "gNMI password")
	f.BoolVar(&cfg.Collector.GNMI.Insecure, "insecure", false, "gNMI without TLS (labs)")
	f.BoolVar(&cfg.Collector.GNMI.TLS.SkipVerify, "tls-skip-verify", false, "accept any gNMI server certificate (labs)")
	f.StringVar(&cfg.Collector.GNMI.TLS.CA, "tls-ca", "", "CA file for the gNMI target")
	f.StringVar(&cfg.Collector.GNMI.Encoding, "encoding", "proto", "gNMI encoding to ask for first: proto, json_ietf or json (a refused one falls back to the next)")
	f.StringVar(&cfg.SystemID, "system-id", "", "system_id written on every line (default: the hostname)")
	f.DurationVar(&interval, "interval", time.Second, "time between samples")
	f.IntVar(&count, "count", 0, "stop after this many samples (0: until interrupted)")
	f.DurationVar(&wait, "wait", 10*time.Second, "how long to wait for a gNMI target's first data")
	return cmd
}

// connectWaiter is a collector that connects in the background (gNMI).
type connectWaiter interface {
	WaitConnected(ctx context.Context) error
}

// waitConnected waits for a background collector's first data, so that a
// target that is down is an error with its reason, not an empty output.
func waitConnected(ctx context.Context, col collectors.Collector, wait time.Duration) error {
	w, ok := col.(connectWaiter)
	if !ok {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := w.WaitConnected(wctx); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted
		}
		return fmt.Errorf("collect: %w", err)
	}
	return nil
}

func collect(ctx context.Context, col collectors.Collector, interval time.Duration, count int, w interface{ Write([]byte) (int, error) }) error {
	var b collectors.Batch
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 0; count == 0 || n < count; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
		cctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		err := col.Collect(cctx, &b)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("collect: %w", err)
		}
		if b.Time.IsZero() {
			b.Time = time.Now()
		}
		if err := replay.WriteBatch(w, &b); err != nil {
			if strings.Contains(err.Error(), "broken pipe") {
				return nil
			}
			return err
		}
	}
	return nil
}
