package killall

import (
	"bufio"
	"context"
	"fmt"
	"strings"
)

// isEdgekName reports whether an iptables chain, target or set name is one of edgek's
// components': KUBE-* (kube-proxy, kubelet, the network policy controller's chains and
// sets), FLANNEL-* (flannel), CNI-* (bridge and portmap CNI plugins).
func isEdgekName(s string) bool {
	return strings.HasPrefix(s, "KUBE-") || strings.HasPrefix(s, "FLANNEL") || strings.HasPrefix(s, "CNI-")
}

// filterIPTablesSave removes edgek's chains and rules from an iptables-save dump. It returns
// an iptables-restore input holding only the tables that changed (restoring a table replaces
// it whole, so the others are not touched) and the lines removed. A rule is edgek's when any
// of its words (its chain, its target, a set name) is an edgek name, or when its comment
// mentions flannel ("flanneld masq", "flanneld forward").
func filterIPTablesSave(dump string) (restore string, removed []string) {
	return filterSave(dump, isEdgekName, true)
}

// FilterSave removes from an iptables-save dump the chains whose names owned accepts and
// every rule that names one (a jump to it, a set it matches), as filterIPTablesSave does
// for all of edgek's. It returns the iptables-restore input (only the changed tables) and
// the lines removed.
func FilterSave(dump string, owned func(name string) bool) (restore string, removed []string) {
	return filterSave(dump, owned, false)
}

func filterSave(dump string, owned func(string) bool, flannelComments bool) (restore string, removed []string) {
	var out, table strings.Builder
	changed := false
	inTable := false
	sc := bufio.NewScanner(strings.NewReader(dump))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "*"):
			table.Reset()
			changed, inTable = false, true
		case trimmed == "COMMIT":
			if inTable && changed {
				out.WriteString(table.String())
				out.WriteString("COMMIT\n")
			}
			inTable = false
			continue
		case !inTable || trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case strings.HasPrefix(trimmed, ":"):
			chain, _, _ := strings.Cut(trimmed[1:], " ")
			if owned(chain) {
				removed = append(removed, line)
				changed = true
				continue
			}
		default:
			if ownedRule(trimmed, owned, flannelComments) {
				removed = append(removed, line)
				changed = true
				continue
			}
		}
		table.WriteString(line)
		table.WriteByte('\n')
	}
	return out.String(), removed
}

func ownedRule(rule string, owned func(string) bool, flannelComments bool) bool {
	words := splitRule(rule)
	for i, w := range words {
		if owned(w) {
			return true
		}
		if flannelComments && w == "--comment" && i+1 < len(words) && strings.Contains(strings.ToLower(words[i+1]), "flannel") {
			return true
		}
	}
	return false
}

// splitRule splits an iptables-save rule into words, as the shell would: double quotes
// group, a backslash escapes the next character.
func splitRule(s string) []string {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == '"':
			quoted = !quoted
			inWord = true
		case (c == ' ' || c == '\t') && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// nftTable is an nftables table: family and name.
type nftTable struct{ family, name string }

// edgekNftTables are the tables of kube-proxy's and flannel's nftables modes.
var edgekNftTables = []nftTable{
	{"ip", "kube-proxy"}, {"ip6", "kube-proxy"},
	{"ip", "flannel-ipv4"}, {"ip6", "flannel-ipv6"},
}

// selectNftTables returns edgek's tables in `nft list tables` output ("table ip kube-proxy").
func selectNftTables(list string) []nftTable {
	var out []nftTable
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "table" {
			continue
		}
		for _, t := range edgekNftTables {
			if t.family == f[1] && t.name == f[2] {
				out = append(out, t)
			}
		}
	}
	return out
}

func (r *run) cleanFirewall(ctx context.Context) {
	for _, cmd := range []string{"iptables", "ip6tables"} {
		r.cleanIPTables(ctx, cmd)
	}
	r.cleanIPSets(ctx)
	if _, err := r.sys.LookPath("nft"); err != nil {
		r.log.Info("nft is not installed: no nftables tables to remove")
		return
	}
	list, err := r.sys.Run(ctx, "", "nft", "list", "tables")
	if err != nil {
		r.fail(fmt.Errorf("list nftables tables: %w", err))
		return
	}
	tables := selectNftTables(list)
	if len(tables) == 0 {
		r.log.Info("no edgek nftables tables")
	}
	for _, t := range tables {
		if r.act("delete nftables table", "family", t.family, "table", t.name) {
			if _, err := r.sys.Run(ctx, "", "nft", "delete", "table", t.family, t.name); err != nil {
				r.fail(fmt.Errorf("delete nftables table %s %s: %w", t.family, t.name, err))
			}
		}
	}
}

// cleanIPSets destroys the network policy controller's ipsets (KUBE-SRC-*, KUBE-DST-*, ...),
// which the iptables rules removed before were the only users of.
func (r *run) cleanIPSets(ctx context.Context) {
	if _, err := r.sys.LookPath("ipset"); err != nil {
		r.log.Info("ipset is not installed: no sets to remove")
		return
	}
	list, err := r.sys.Run(ctx, "", "ipset", "list", "-n")
	if err != nil {
		r.fail(fmt.Errorf("list ipsets: %w", err))
		return
	}
	var sets []string
	for _, name := range strings.Fields(list) {
		if isEdgekName(name) {
			sets = append(sets, name)
		}
	}
	if len(sets) == 0 {
		r.log.Info("no edgek ipsets")
	}
	for _, name := range sets {
		if r.act("destroy ipset", "set", name) {
			if _, err := r.sys.Run(ctx, "", "ipset", "destroy", name); err != nil {
				r.fail(fmt.Errorf("destroy ipset %s: %w", name, err))
			}
		}
	}
}

// cleanIPTables removes edgek's rules with cmd-save | filter | cmd-restore.
func (r *run) cleanIPTables(ctx context.Context, cmd string) {
	save, restore := cmd+"-save", cmd+"-restore"
	for _, c := range []string{save, restore} {
		if _, err := r.sys.LookPath(c); err != nil {
			r.log.Info(c + " is not installed: skipping " + cmd)
			return
		}
	}
	dump, err := r.sys.Run(ctx, "", save)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", save, err))
		return
	}
	input, removed := filterIPTablesSave(dump)
	if len(removed) == 0 {
		r.log.Info("no edgek rules", "command", cmd)
		return
	}
	for _, l := range removed {
		r.log.Debug("edgek rule", "command", cmd, "rule", l)
	}
	if r.act("remove edgek rules", "command", cmd, "lines", len(removed)) {
		if _, err := r.sys.Run(ctx, input, restore); err != nil {
			r.fail(fmt.Errorf("%s: %w", restore, err))
		}
	}
}
