package k8s

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"

	"github.com/edgek-io/edgek/pkg/config"
)

// Kubectl runs kubectl with args (without the program name) and returns its exit code.
// When neither --kubeconfig nor $KUBECONFIG is given, defaultKubeconfig is used if it exists.
func Kubectl(args []string, defaultKubeconfig string) int {
	if kc := config.KubectlDefault(args, os.Getenv("KUBECONFIG"), defaultKubeconfig); kc != "" {
		os.Setenv("KUBECONFIG", kc)
	}
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	command := cmd.NewDefaultKubectlCommandWithArgs(cmd.KubectlOptions{
		PluginHandler: cmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     append([]string{"kubectl"}, args...),
		ConfigFlags: genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().
			WithDiscoveryBurst(300).WithDiscoveryQPS(50.0).WithWarningPrinter(streams),
		IOStreams: streams,
	})
	command.SetArgs(args)
	return cli.Run(command)
}
