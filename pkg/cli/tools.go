package cli

import (
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
)

// tool is a program edgek also is. It gets its command line untouched (args[0] is the tool's
// name), whether edgek is run by a link of that name (kubectl -> edgek) or as
// `edgek <name> args...`; see Tool.
type tool struct {
	name, usage string
	run         func(args []string) int
	// hidden tools are not listed in edgek's help (edgek runs containerd itself).
	hidden bool
}

func tools(r Runners) []tool {
	return []tool{
		{name: "kubectl", usage: "run kubectl against this edgek (uses " + config.DefaultKubeconfig + " unless told otherwise)", run: r.Kubectl},
		{name: "ctr", usage: "run ctr against edgek's containerd (namespace k8s.io; data dir from $EDGEK_DATA_DIR)", run: r.Ctr},
		{name: "crictl", usage: "run crictl against edgek's containerd (data dir from $EDGEK_DATA_DIR)", run: r.Crictl},
		{name: "containerd", usage: "the containerd daemon (run by edgek)", run: r.Containerd, hidden: true},
	}
}

// Tool returns the tool that the command line args calls, with its arguments (the tool's name
// first): by the program's name, or by edgek's first argument. It is the one way tools are
// reached, before edgek's own flags are parsed or its signal handling starts (tools handle
// signals themselves: kubectl port-forward stops on the first Ctrl-C).
func Tool(args []string, r Runners) (run func() int, ok bool) {
	if len(args) == 0 {
		return nil, false
	}
	for _, t := range tools(r) {
		if t.run == nil {
			continue
		}
		switch {
		case filepath.Base(args[0]) == t.name:
			return func() int { return t.run(append([]string{t.name}, args[1:]...)) }, true
		case len(args) > 1 && args[1] == t.name:
			return func() int { return t.run(args[1:]) }, true
		}
	}
	return nil, false
}

// toolCommands list the tools in edgek's help; Tool runs them before the command line is
// parsed, so their actions only run when the App is used without Tool (tests).
func toolCommands(r Runners) []*cli.Command {
	var cmds []*cli.Command
	for _, t := range tools(r) {
		cmds = append(cmds, &cli.Command{
			Name:            t.name,
			Usage:           t.usage,
			Hidden:          t.hidden,
			SkipFlagParsing: true,
			Action: func(cc *cli.Context) error {
				if code := t.run(append([]string{t.name}, cc.Args().Slice()...)); code != 0 {
					return cli.Exit("", code)
				}
				return nil
			},
		})
	}
	return cmds
}
