// Command probe-controller is the fabric's central daemon: it pushes each
// probe-agent its part of every fabric probe and evaluates the rest
// centrally on the partial aggregates the agents stream back
// (docs/controller.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/controller"
)

// version is set at link time from `git describe` (see the Makefile).
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "probe-controller:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "probe-controller",
		Short:         "Push each probe-agent its part of the fabric's probes and evaluate the rest centrally",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newConfigCmd(), newVersionCmd())
	root.AddCommand(newDocsCmd(root))
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the Go version it was built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "probe-controller %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Configuration helpers"}
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print an annotated example configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(controller.ExampleConfig)
			return err
		},
	}, &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file and its topology",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := controller.LoadConfig(args[0])
			if err != nil {
				return err
			}
			f, err := controller.LoadFabric(&cfg)
			if err != nil {
				return err
			}
			for _, w := range f.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			for _, a := range f.Agents {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\n", a.Name, a.Device, a.Role, a.Address)
			}
			return nil
		},
	})
	return cmd
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func newRunCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the controller",
		Long: `Run the controller: load the topology and the fabric probe set, push every
agent its part, evaluate the central parts every interval. SIGHUP reloads the
configuration file, the topology and probes_dir; SIGTERM and SIGINT stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile == "" {
				return errors.New("--config is required (probe-controller config example prints one)")
			}
			cfg, err := controller.LoadConfig(configFile)
			if err != nil {
				return err
			}
			log := newLogger(cfg.LogLevel)
			ctl, err := controller.New(cfg, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)

			var srv *http.Server
			if cfg.API.Listen != "" {
				var lis net.Listener
				var err error
				if lis, srv, err = ctl.ListenAPIServer(); err != nil {
					return err
				}
				go func() {
					if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
						log.Error("HTTP listener failed", "err", err)
					}
				}()
				log.Info("listening", "addr", lis.Addr().String(), "paths", "/api/blueprints/"+cfg.BlueprintID+"/... /metrics /healthz /readyz /status")
			}
			done := make(chan error, 1)
			go func() { done <- ctl.Run(ctx) }()
			log.Info("probe-controller running", "version", version, "blueprint", cfg.BlueprintID, "generation", ctl.Generation())
			_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
			for {
				select {
				case <-hup:
					_, _ = daemon.SdNotify(false, daemon.SdNotifyReloading)
					next, err := controller.LoadConfig(configFile)
					if err == nil {
						err = ctl.Reload(next)
					}
					if err != nil {
						log.Error("reload failed; keeping the running configuration", "err", err)
					}
					_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
				case err := <-done:
					_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
					if srv != nil {
						sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						_ = srv.Shutdown(sctx)
						cancel()
					}
					log.Info("probe-controller stopped")
					return err
				}
			}
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "configuration file (YAML)")
	return cmd
}
