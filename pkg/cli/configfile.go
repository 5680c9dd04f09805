package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/edgek-io/edgek/pkg/config"
)

// applyConfigFile fills every flag that was set neither on the command line nor through
// the environment from the config file and then <file>.d/*.yaml (in name order; a later
// file overrides an earlier one, and a key ending in "+" appends to a list instead).
// Precedence is therefore: command line > environment > config file > defaults.
func applyConfigFile(ctx *cli.Context, known map[string]bool) error {
	path, explicit := ctx.String(configFlagName), ctx.IsSet(configFlagName)
	if path == "" {
		// EDGEK_CONFIG_FILE= (empty) means the default, as an unset variable does, and does
		// not hide EDGEK_CONFIG (the flag takes the first variable set, even if empty).
		path, explicit = config.DefaultConfigFile, false
		if alias := os.Getenv("EDGEK_CONFIG"); alias != "" {
			path, explicit = alias, true
		}
	}
	values, err := loadConfigFiles(path, explicit)
	if err != nil {
		return err
	}
	ownFlags := map[string]cli.Flag{}
	for _, f := range ctx.Command.Flags {
		ownFlags[f.Names()[0]] = f
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if _, ok := ownFlags[key]; !ok {
			if known[key] {
				continue // a flag of another edgek command sharing the file
			}
			return fmt.Errorf("config file %s: unknown key %q (keys are long flag names, see edgek %s --help)", path, key, ctx.Command.Name)
		}
		if key == configFlagName || ctx.IsSet(key) {
			continue
		}
		for _, v := range values[key] {
			if err := ctx.Set(key, v); err != nil {
				return fmt.Errorf("config file %s: key %q: %w", path, key, err)
			}
		}
	}
	return nil
}

// loadConfigFiles reads path and path.d/*.yaml into flag values. A missing file is only an
// error when the user named it.
func loadConfigFiles(path string, explicit bool) (map[string][]string, error) {
	values := map[string][]string{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := mergeConfig(values, path, data); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist) && !explicit:
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("config file %s does not exist (given by --config, EDGEK_CONFIG_FILE or EDGEK_CONFIG)", path)
	default:
		return nil, fmt.Errorf("read config file: %w", err)
	}
	dropins, err := filepath.Glob(path + ".d/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list %s.d: %w", path, err)
	}
	slices.Sort(dropins)
	for _, p := range dropins {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		if err := mergeConfig(values, p, data); err != nil {
			return nil, err
		}
	}
	return values, nil
}

func mergeConfig(values map[string][]string, path string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config file %s is not valid YAML: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config file %s: line %d: want a mapping of flag names to values", path, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, root.Content[i+1]
		vals, err := flagValues(val)
		if err != nil {
			return fmt.Errorf("config file %s: line %d: key %q: %w", path, val.Line, key, err)
		}
		if base, ok := strings.CutSuffix(key, "+"); ok {
			values[base] = append(values[base], vals...)
			continue
		}
		values[key] = vals
	}
	return nil
}

// flagValues turns a YAML value into the strings a flag is set with. Scalars are taken as
// written, so that write-kubeconfig-mode: 0644 stays octal.
func flagValues(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return nil, errors.New("list items must be plain values")
			}
			out = append(out, item.Value)
		}
		return out, nil
	default:
		return nil, errors.New("value must be a string, number, boolean or list")
	}
}
