package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/edgek-io/edgek/pkg/config"
)

// A setting is one command-line flag and where its value goes in a configuration of type T.
// The flag's name is written once: the same declaration makes the flag and reads it back,
// so adding a flag is one line here plus its use in the component (see docs/DECISIONS.md).
type setting[T any] struct {
	flags []cli.Flag
	read  func(cc *cli.Context, into *T) error
}

// settings are the flags of one command (or of one part of its configuration).
type settings[T any] []setting[T]

// Flags returns the command-line flags, in declaration order.
func (s settings[T]) Flags() []cli.Flag {
	var flags []cli.Flag
	for _, st := range s {
		flags = append(flags, st.flags...)
	}
	return flags
}

// Read fills into from the parsed flags and returns every problem found, joined.
func (s settings[T]) Read(cc *cli.Context, into *T) error {
	var errs []error
	for _, st := range s {
		if st.read != nil {
			errs = append(errs, st.read(cc, into))
		}
	}
	return errors.Join(errs...)
}

// within makes settings of a part of a configuration (config.NodeSettings, say) settings of
// the whole (config.Server), so that one declaration serves every command that has the part.
func within[P, T any](s settings[P], part func(*T) *P) settings[T] {
	out := make(settings[T], 0, len(s))
	for _, st := range s {
		read := st.read
		out = append(out, setting[T]{flags: st.flags, read: func(cc *cli.Context, t *T) error {
			if read == nil {
				return nil
			}
			return read(cc, part(t))
		}})
	}
	return out
}

// flagOnly is a flag another setting reads (--token-file, read by --token's setting).
func flagOnly[T any](f cli.Flag) setting[T] { return setting[T]{flags: []cli.Flag{f}} }

func stringSetting[T any](name, value, usage string, field func(*T) *string, envAliases ...string) setting[T] {
	return setting[T]{flags: []cli.Flag{str(name, value, usage, envAliases...)}, read: func(cc *cli.Context, t *T) error {
		*field(t) = cc.String(name)
		return nil
	}}
}

func stringsSetting[T any](name, usage string, field func(*T) *[]string) setting[T] {
	return setting[T]{flags: []cli.Flag{strs(name, usage)}, read: func(cc *cli.Context, t *T) error {
		*field(t) = cc.StringSlice(name)
		return nil
	}}
}

func boolSetting[T any](name, usage string, field func(*T) *bool) setting[T] {
	return setting[T]{flags: []cli.Flag{boolean(name, usage)}, read: func(cc *cli.Context, t *T) error {
		*field(t) = cc.Bool(name)
		return nil
	}}
}

func intSetting[T any](name string, value int, usage string, field func(*T) *int) setting[T] {
	f := &cli.IntFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name)}
	return setting[T]{flags: []cli.Flag{f}, read: func(cc *cli.Context, t *T) error {
		*field(t) = cc.Int(name)
		return nil
	}}
}

func durationSetting[T any](name string, value time.Duration, usage string, field func(*T) *time.Duration) setting[T] {
	f := &cli.DurationFlag{Name: name, Value: value, Usage: usage, EnvVars: env(name)}
	return setting[T]{flags: []cli.Flag{f}, read: func(cc *cli.Context, t *T) error {
		*field(t) = cc.Duration(name)
		return nil
	}}
}

// addrSetting is an IP address flag; empty leaves the zero Addr (a default is chosen later).
func addrSetting[T any](name, value, usage string, field func(*T) *netip.Addr) setting[T] {
	return setting[T]{flags: []cli.Flag{str(name, value, usage)}, read: func(cc *cli.Context, t *T) error {
		v := cc.String(name)
		if v == "" {
			*field(t) = netip.Addr{}
			return nil
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return fmt.Errorf("--%s %q is not an IP address", name, v)
		}
		*field(t) = a
		return nil
	}}
}

// prefixSetting is a CIDR flag, stored masked (10.42.1.0/16 is 10.42.0.0/16).
func prefixSetting[T any](name, value, usage string, field func(*T) *netip.Prefix) setting[T] {
	return setting[T]{flags: []cli.Flag{str(name, value, usage)}, read: func(cc *cli.Context, t *T) error {
		p, err := netip.ParsePrefix(cc.String(name))
		*field(t) = p.Masked()
		if err != nil {
			return fmt.Errorf("--%s %q is not a CIDR like 10.42.0.0/16", name, cc.String(name))
		}
		return nil
	}}
}

// nodeSettings are the flags of a node's own settings, shared by `edgek server` and
// `edgek agent`.
func nodeSettings() settings[config.NodeSettings] {
	type n = config.NodeSettings
	return settings[n]{
		{flags: []cli.Flag{str("node-name", "", "node name (default: hostname)")}, read: func(cc *cli.Context, s *n) error {
			s.NodeName = strings.ToLower(cc.String("node-name"))
			return nil
		}},
		addrSetting("node-ip", "", "IP address this node advertises (default: address of the default-route interface)", func(s *n) *netip.Addr { return &s.NodeIP }),
		stringSetting("flannel-iface", "", "interface for pod traffic between nodes (default: the one holding the node IP)", func(s *n) *string { return &s.FlannelIface }),
		stringsSetting("kubelet-arg", "extra kubelet flag as key=value (repeatable)", func(s *n) *[]string { return &s.ExtraKubeletArgs }),
		stringsSetting("kube-proxy-arg", "extra kube-proxy flag as key=value (repeatable)", func(s *n) *[]string { return &s.ExtraKubeProxyArgs }),
		stringsSetting("node-label", "label for this node as key=value (repeatable)", func(s *n) *[]string { return &s.NodeLabels }),
		stringsSetting("node-taint", "taint for this node as key=value:Effect (repeatable)", func(s *n) *[]string { return &s.NodeTaints }),
		stringSetting("private-registry", config.DefaultRegistriesFile, "registries.yaml with mirrors, credentials and TLS for registries (K3s format)", func(s *n) *string { return &s.PrivateRegistry }),
		stringSetting("resolv-conf", "", "resolv.conf that pods inherit (default: /etc/resolv.conf, or systemd-resolved's upstream list)", func(s *n) *string { return &s.ResolvConf }),
		stringSetting("default-local-storage-path", "", "directory of this node's local-path volumes (default: <data-dir>/storage)", func(s *n) *string { return &s.LocalStoragePath }),
		boolSetting("protect-kernel-defaults", "refuse to start if the kernel settings differ from the kubelet's, instead of changing them", func(s *n) *bool { return &s.ProtectKernelDefaults }),
	}
}

// tokenSettings are --token and --token-file, the same on a server (the secret agents join
// with) and on an agent (the secret it joins with). field gets --token, else the contents of
// --token-file, trimmed.
func tokenSettings[T any](field func(*T) *string) settings[T] {
	token := str("token", "", "join token: on a server, the secret agents join with (default: generated at first start, kept in <data-dir>/server/token); on an agent, the server's token or one from edgek token create")
	return settings[T]{
		{flags: []cli.Flag{token}, read: func(cc *cli.Context, t *T) error {
			v, err := tokenFrom(cc)
			*field(t) = v
			return err
		}},
		flagOnly[T](str("token-file", "", "file holding the join token (instead of --token)")),
	}
}

// tokenFrom returns --token, else the contents of --token-file (trimmed).
func tokenFrom(cc *cli.Context) (string, error) {
	if t := strings.TrimSpace(cc.String("token")); t != "" {
		return t, nil
	}
	f := cc.String("token-file")
	if f == "" {
		return "", nil
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// hostDefaults fills what a node's settings take from the host: its name and address.
func hostDefaults(n *config.NodeSettings) error {
	if n.NodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("read hostname: %w (set --node-name)", err)
		}
		n.NodeName = strings.ToLower(host)
	}
	if !n.NodeIP.IsValid() {
		detected, err := config.DetectNodeIP()
		if err != nil {
			return err
		}
		n.NodeIP = detected
	}
	return nil
}
