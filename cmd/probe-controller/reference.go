package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newDocsCmd prints the probe-controller(1) man page, generated from the
// commands themselves so that it cannot drift from them; packaging/build.sh
// runs it. Hidden: it is for the build, not for operators.
func newDocsCmd(root *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: "docs", Short: "Print the command reference (man page)", Hidden: true}
	cmd.AddCommand(&cobra.Command{
		Use: "man", Short: "The probe-controller(1) man page in roff", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return writeManPage(cmd.OutOrStdout(), root) },
	})
	return cmd
}

// documented lists the commands the man page covers, depth first.
func documented(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		// completion is added by cobra at run time; the page names it in
		// FILES instead.
		if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		out = append(out, documented(sub)...)
	}
	return out
}

// roff escapes text for a man page body line.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

func description(c *cobra.Command) string {
	if c.Long != "" {
		return c.Long
	}
	return c.Short
}

func writeManPage(w io.Writer, root *cobra.Command) error {
	var b strings.Builder
	b.WriteString(".TH PROBE-CONTROLLER 1 \"\" \"probe-controller " + roff(version) + "\" \"User Commands\"\n")
	b.WriteString(".SH NAME\nprobe\\-controller \\- " + roff(root.Short) + "\n")
	b.WriteString(".SH SYNOPSIS\n.B probe\\-controller\n.I command\n[\\fIflags\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n" + roff(description(root)) + "\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range documented(root)[1:] {
		fmt.Fprintf(&b, ".SS %s\n.nf\n%s\n.fi\n.PP\n%s\n", roff(c.CommandPath()), roff(c.UseLine()), roff(description(c)))
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			name := "--" + f.Name
			if f.Shorthand != "" {
				name = "-" + f.Shorthand + ", " + name
			}
			typ, usage := pflag.UnquoteUsage(f)
			fmt.Fprintf(&b, ".TP\n.B %s", roff(name))
			if typ != "" {
				fmt.Fprintf(&b, " \\fI%s\\fR", roff(typ))
			}
			fmt.Fprintf(&b, "\n%s\n", roff(usage))
		})
	}
	b.WriteString(".SH FILES\n.TP\n/etc/probe\\-controller/controller.yaml\nconfiguration (\\fBprobe\\-controller config example\\fR prints a documented one)\n" +
		".TP\n/var/lib/probe\\-controller/\nthe fabric probe set and its generation\n")
	b.WriteString(".SH SEE ALSO\n.BR probe\\-agent (1),\n.BR probectl (1),\n.BR systemctl (1),\n/usr/share/doc/probe\\-controller/\n")
	_, err := io.WriteString(w, b.String())
	return err
}
