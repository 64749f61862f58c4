package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newDocsCmd prints the command reference, generated from the commands
// themselves so that it cannot drift: Markdown for docs/ and a man page
// for the package (packaging/build.sh runs it).
func newDocsCmd(root *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: "docs", Short: "Print the command reference (markdown or man page)", Hidden: true}
	cmd.AddCommand(&cobra.Command{
		Use: "markdown", Short: "The command reference in Markdown (docs/cli.md)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return writeMarkdownReference(cmd.OutOrStdout(), root) },
	}, &cobra.Command{
		Use: "man", Short: "The probe-agent(1) man page in roff", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return writeManPage(cmd.OutOrStdout(), root) },
	})
	return cmd
}

// documented lists the commands a reference covers, depth first.
func documented(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		// completion is added by cobra at run time; the reference names it
		// in its introduction instead.
		if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		out = append(out, documented(sub)...)
	}
	return out
}

// flagLines renders a command's own flags as name, value type and usage.
func flagLines(c *cobra.Command) [][3]string {
	var out [][3]string
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		}
		typ, usage := pflag.UnquoteUsage(f)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		out = append(out, [3]string{name, typ, usage})
	})
	return out
}

func description(c *cobra.Command) string {
	if c.Long != "" {
		return c.Long
	}
	return c.Short
}

func writeMarkdownReference(w io.Writer, root *cobra.Command) error {
	var b strings.Builder
	b.WriteString("# probe-agent command reference\n\n")
	b.WriteString("Generated from the commands by `probe-agent docs markdown` (kept current by\n`TestCLIReferenceUpToDate`; rewrite with `go test ./cmd/probe-agent -run TestCLIReference -update`).\nThe package installs it as a man page, `man probe-agent`, and shell completions\n(`probe-agent completion bash|zsh|fish|powershell` prints them).\n")
	for _, c := range documented(root) {
		fmt.Fprintf(&b, "\n## %s\n\n```\n%s\n```\n\n%s\n", c.CommandPath(), c.UseLine(), description(c))
		if fl := flagLines(c); len(fl) > 0 {
			b.WriteString("\n| Flag | Value | Meaning |\n|---|---|---|\n")
			for _, f := range fl {
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f[0], f[1], strings.ReplaceAll(f[2], "|", `\|`))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// roff escapes text for a man page body line.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = `\&` + l
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func writeManPage(w io.Writer, root *cobra.Command) error {
	var b strings.Builder
	b.WriteString(".TH PROBE-AGENT 1 \"\" \"probe-agent " + roff(version) + "\" \"User Commands\"\n")
	b.WriteString(".SH NAME\nprobe\\-agent \\- " + roff(root.Short) + "\n")
	b.WriteString(".SH SYNOPSIS\n.B probe\\-agent\n.I command\n[\\fIflags\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n" + roff(description(root)) + "\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range documented(root)[1:] {
		fmt.Fprintf(&b, ".SS %s\n.nf\n%s\n.fi\n.PP\n%s\n", roff(c.CommandPath()), roff(c.UseLine()), roff(description(c)))
		for _, f := range flagLines(c) {
			fmt.Fprintf(&b, ".TP\n.B %s", roff(f[0]))
			if f[1] != "" {
				fmt.Fprintf(&b, " \\fI%s\\fR", roff(f[1]))
			}
			fmt.Fprintf(&b, "\n%s\n", roff(f[2]))
		}
	}
	b.WriteString(".SH FILES\n.TP\n/etc/probe\\-agent/agent.yaml\nconfiguration (\\fBprobe\\-agent config example\\fR prints a documented one)\n.TP\n/etc/probe\\-agent/probes.d/\nprobe documents, one JSON file each\n.TP\n/var/lib/probe\\-agent/\nprobes applied through the control plane or the REST API\n")
	b.WriteString(".SH SEE ALSO\n.BR probectl (1),\n.BR systemctl (1),\n/usr/share/doc/probe\\-agent/\n")
	_, err := io.WriteString(w, b.String())
	return err
}
