package localstorage

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// Provisioner answers the claims of local-path StorageClasses on the server: a hostPath
// PersistentVolume pinned to the node the scheduler chose, in the storage dir that node
// publishes. Making and removing the directory is the node's (Node).
type Provisioner struct {
	Client kubernetes.Interface
	Log    *slog.Logger
}

var _ controller.Provisioner = (*Provisioner)(nil)

// Controller builds the controller that serves claims with p (its Run serves them until
// ctx ends; there is one server, so no leader election). Build it before the apiserver and
// the other in-process clients start: the library registers core/v1 in client-go's global
// scheme as it builds the controller, a map write that must not meet a concurrent decode.
func (p *Provisioner) Controller(ctx context.Context) *controller.ProvisionController {
	return controller.NewProvisionController(ctx, p.Client, ProvisionerName, p,
		controller.LeaderElection(false), controller.Threadiness(2))
}

// Provision implements controller.Provisioner.
func (p *Provisioner) Provision(ctx context.Context, o controller.ProvisionOptions) (*v1.PersistentVolume, controller.ProvisioningState, error) {
	claim := o.PVC
	if o.SelectedNodeName == "" {
		return nil, controller.ProvisioningFinished, fmt.Errorf("StorageClass %s: local-path volumes need volumeBindingMode: WaitForFirstConsumer (the volume is made on the node the pod is scheduled to)", o.StorageClass.Name)
	}
	for _, m := range claim.Spec.AccessModes {
		if m != v1.ReadWriteOnce && m != v1.ReadWriteOncePod {
			return nil, controller.ProvisioningFinished, fmt.Errorf("local-path volumes live on one node: access mode %s is not supported (use ReadWriteOnce or ReadWriteOncePod)", m)
		}
	}
	node, err := p.Client.CoreV1().Nodes().Get(ctx, o.SelectedNodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, controller.ProvisioningReschedule, fmt.Errorf("node %s is gone", o.SelectedNodeName)
	}
	if err != nil {
		return nil, controller.ProvisioningNoChange, fmt.Errorf("read node %s: %w", o.SelectedNodeName, err)
	}
	dir := node.Annotations[PathAnnotation]
	if dir == "" {
		return nil, controller.ProvisioningFinished, fmt.Errorf("node %s has not published its local storage dir (annotation %s): is its edgek running, and as new as the server?", node.Name, PathAnnotation)
	}
	hostname := node.Labels[v1.LabelHostname]
	if hostname == "" {
		hostname = node.Name
	}
	reclaim := v1.PersistentVolumeReclaimDelete
	if o.StorageClass.ReclaimPolicy != nil {
		reclaim = *o.StorageClass.ReclaimPolicy
	}
	modes := claim.Spec.AccessModes
	if len(modes) == 0 {
		modes = []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce}
	}
	directory := v1.HostPathDirectory // made by the node (mode 0777) before the pod mounts it
	filesystem := v1.PersistentVolumeFilesystem
	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: o.PVName, Labels: map[string]string{NodeLabel: NodeLabelValue(node.Name)}},
		Spec: v1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: reclaim,
			AccessModes:                   slices.Clone(modes),
			VolumeMode:                    &filesystem,
			Capacity:                      v1.ResourceList{v1.ResourceStorage: claim.Spec.Resources.Requests[v1.ResourceStorage]},
			PersistentVolumeSource: v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{
				Path: VolumePath(dir, o.PVName, claim.Namespace, claim.Name), Type: &directory,
			}},
			NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{hostname}}},
			}}}},
		},
	}
	p.Log.Info("provisioned a local-path volume", "volume", pv.Name, "claim", claim.Namespace+"/"+claim.Name, "node", node.Name, "path", pv.Spec.HostPath.Path)
	return pv, controller.ProvisioningFinished, nil
}

// Delete implements controller.Provisioner. The directory is the node's to remove: it does
// once the PersistentVolume is gone (Node), so there is nothing to do here.
func (p *Provisioner) Delete(_ context.Context, pv *v1.PersistentVolume) error {
	p.Log.Info("deleting a released local-path volume; its node removes the directory", "volume", pv.Name, "claim", claimOf(pv))
	return nil
}

func claimOf(pv *v1.PersistentVolume) string {
	if r := pv.Spec.ClaimRef; r != nil {
		return r.Namespace + "/" + r.Name
	}
	return ""
}
