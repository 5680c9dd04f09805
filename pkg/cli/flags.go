package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
)

// env returns the environment variable that mirrors a flag: EDGEK_<FLAG>.
func env(flag string, aliases ...string) []string {
	vars := []string{"EDGEK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	for _, a := range aliases {
		if !slices.Contains(vars, a) {
			vars = append(vars, a)
		}
	}
	return vars
}

func str(name, value, usage string, aliases ...string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name, aliases...)}
}

func strs(name, usage string) *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: name, Usage: usage, EnvVars: env(name)}
}

func boolean(name, usage string) *cli.BoolFlag {
	return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: env(name)}
}

// configFlagName names the config file. Its own value cannot come from a config file.
const configFlagName = "config"

// The flags are built anew for every App: urfave/cli keeps parse state in flag values, which
// must not leak from one run (or test) to the next.
func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name: configFlagName, Aliases: []string{"c"}, Value: config.DefaultConfigFile,
		Usage: "YAML config file; keys are long flag names (plus <file>.d/*.yaml)",
		// EDGEK_CONFIG_FILE as K3s's K3S_CONFIG_FILE; EDGEK_CONFIG as every other flag's.
		EnvVars: []string{"EDGEK_CONFIG_FILE", "EDGEK_CONFIG"},
	}
}

// Flags that several commands have; their names are read back by commands without settings.
const (
	debugFlagName   = "debug"
	dataDirFlagName = "data-dir"
	dataDirUsage    = "directory for all state"
)

func debugFlag() cli.Flag { return boolean(debugFlagName, "log at debug level") }

func dataDirFlag() cli.Flag {
	return str(dataDirFlagName, config.DefaultDataDir, dataDirUsage, "EDGEK_DATA_DIR")
}

// noArgs refuses positional arguments (urfave/cli takes flags only before them, so a stray
// word usually means a flag that was not parsed).
func noArgs(cc *cli.Context) error {
	if cc.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", cc.Args().First())
	}
	return nil
}
