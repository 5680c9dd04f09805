// Package localstorage is edgek's local-path storage (K3s's local-path-provisioner, in
// process): a PersistentVolumeClaim of the StorageClass local-path gets a directory on the
// node its pod was scheduled to, as a hostPath volume pinned to that node.
//
// Two halves, no pods and no images:
//   - the server's Provisioner (sig-storage-lib-external-provisioner) answers claims once
//     the scheduler has picked a node (WaitForFirstConsumer) with a PersistentVolume whose
//     path is under the storage dir that node publishes, and deletes it when released;
//   - every node's Node component publishes its storage dir (a Node annotation), makes the
//     directory of each volume pinned to it (mode 0777, as K3s, so that pods running as any
//     user can write) and removes it when the volume is gone, also after a downtime.
//
// Capacity is not enforced: a volume may use the whole disk (as K3s's local-path).
package localstorage

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// ProvisionerName is the StorageClass provisioner edgek serves.
	ProvisionerName = "edgek.io/local-path"
	// Addon is the bundled manifest of the StorageClass local-path (manifests/local-storage.yaml),
	// the name --disable takes.
	Addon = "local-storage"
	// PathAnnotation, on a Node, is the directory its local-path volumes live in.
	PathAnnotation = "edgek.io/local-storage-path"
	// NodeLabel, on a PersistentVolume, names the node it is pinned to (NodeLabelValue), so
	// that each node watches its own volumes only.
	NodeLabel = "edgek.io/local-path-node"
	// maxClaimInPath caps the claim name's part of a volume's directory name, which stays
	// well under the 255 bytes of a file name (a claim name may have 253).
	maxClaimInPath = 100
)

// NodeLabelValue is the NodeLabel value for the node name: the name itself, or, for a name
// longer than a label value may be (63), its start, "-" and 16 hex digits of its hash.
func NodeLabelValue(node string) string {
	if len(node) <= validation.LabelValueMaxLength {
		return node
	}
	sum := sha256.Sum256([]byte(node))
	hash := hex.EncodeToString(sum[:8])
	return strings.TrimRight(node[:validation.LabelValueMaxLength-1-len(hash)], ".-") + "-" + hash
}

// volumeDir matches the directories volumes get: <PV name>_<namespace>_<claim name>, the
// PV name being pvc-<claim UID> (K3s's layout).
var volumeDir = regexp.MustCompile(`^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}_[a-z0-9.-]+_[a-z0-9.-]+$`)

// VolumePath is where the volume pvName of the claim namespace/claim lives under dir.
// A long claim name is cut (the PV name alone is unique).
func VolumePath(dir, pvName, namespace, claim string) string {
	if len(claim) > maxClaimInPath {
		claim = strings.TrimRight(claim[:maxClaimInPath], ".-")
	}
	return filepath.Join(dir, pvName+"_"+namespace+"_"+claim)
}

// isVolumePath reports whether path is a volume directory directly under dir: the only
// paths a node ever creates or removes.
func isVolumePath(dir, path string) bool {
	return filepath.IsAbs(dir) && filepath.Clean(path) == path && filepath.Dir(path) == filepath.Clean(dir) &&
		volumeDir.MatchString(filepath.Base(path))
}
