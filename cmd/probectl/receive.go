package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/stream"
)

func newReceiveCmd() *cobra.Command {
	var listen, output string
	var sequenced bool
	cmd := &cobra.Command{
		Use:   "receive --listen :4444 [--sequenced] [-o json|text]",
		Short: "A reference receiver for the Apstra streaming format",
		Long: `Listen for probe-agent (or Apstra) streaming connections on one channel and
print one line per decoded message. With --sequenced, frames are
AosSequencedMessage and gaps in seq_num are reported on stderr as message loss.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "json" && output != "text" {
				return fmt.Errorf("-o: want json or text, got %q", output)
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return receive(ctx, l, sequenced, output, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":4444", "address to listen on")
	cmd.Flags().BoolVar(&sequenced, "sequenced", false, "frames are AosSequencedMessage (report seq_num gaps)")
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json (one line per message) or text (readable, local time)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "text"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func receive(ctx context.Context, l net.Listener, sequenced bool, output string, stdout, stderr io.Writer) error {
	var mu sync.Mutex
	w := bufio.NewWriter(stdout)
	var line []byte
	r := stream.NewReceiver(stream.ReceiverConfig{
		Sequenced: sequenced,
		Logger:    slog.New(slog.NewTextHandler(stderr, nil)),
		Handle: func(m stream.Received) {
			mu.Lock()
			defer mu.Unlock()
			var err error
			if output == "text" {
				line = line[:0]
				if m.Sequenced {
					line = fmt.Appendf(line, "#%d ", m.Seq)
				}
				line = appendTextMessage(line, m)
			} else if line, err = stream.AppendJSONLine(line[:0], m); err != nil {
				fmt.Fprintf(stderr, "cannot render message: %v\n", err)
				return
			}
			_, _ = w.Write(line)
			_ = w.Flush()
		},
		OnGap: func(g stream.Gap) {
			fmt.Fprintf(stderr, "sequence gap from %s: expected seq %d, got %d: %d message(s) lost\n", g.Sender, g.Expected, g.Got, g.Lost())
		},
	})
	fmt.Fprintf(stderr, "listening on %s (sequenced=%v)\n", l.Addr(), sequenced)
	errc := make(chan error, 1)
	go func() { errc <- r.Serve(l) }()
	select {
	case <-ctx.Done():
		r.Close()
		<-errc
		st := r.Stats()
		fmt.Fprintf(stderr, "received %d messages on %d connections; %d gaps, %d lost, %d duplicates skipped\n", st.Messages, st.Connections, st.Gaps, st.Lost, st.Duplicates)
		return nil
	case err := <-errc:
		return err
	}
}

// appendTextMessage renders a received message as the agent's readable
// line (local time, plain decimal values).
func appendTextMessage(b []byte, m stream.Received) []byte {
	return agent.AppendText(b, agent.ChannelOf(m.Message), m.Message)
}
