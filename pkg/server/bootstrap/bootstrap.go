// Package bootstrap is what a server sets up in its cluster, through the apiserver, beyond
// Kubernetes' defaults: the RBAC edgek's nodes need, the bootstrap token and node settings
// published for joining agents, and the control-plane role labels of a server's own node.
// Only servers use it (pkg/server, pkg/tokencmd); nodes never import it.
package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coreapply "k8s.io/client-go/applyconfigurations/core/v1"
	rbacapply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgek-io/edgek/pkg/join"
)

// Join is what a server publishes so that agents can join it.
type Join struct {
	// BootstrapToken ("<id>.<secret>") authenticates joining agents until their kubelet
	// has its own certificate.
	BootstrapToken string
	// NodeConfig is the data of the ConfigMap agents read their cluster settings from.
	NodeConfig map[string]string
}

const managedBy = "edgek"

// Apply sets up (with server-side apply, so it is idempotent) what edgek's nodes need beyond
// Kubernetes' defaults:
//   - nodes read PersistentVolumes, to keep the directories of local-path volumes;
//   - flannel runs with the kubelet's credentials and watches every Node (the Node
//     authorizer only lets a node read its own); it keeps them because it annotates its own
//     Node, which NodeRestriction confines for node credentials and RBAC could not;
//   - the bootstrap token of joining agents, allowed to read the node ConfigMap and to
//     request a node client certificate (that edgek's node identity approver judges), and
//     nodes allowed to renew theirs (the controller-manager approves that).
//
// cs has the admin credentials.
func Apply(ctx context.Context, cs kubernetes.Interface, j Join) error {
	opts := metav1.ApplyOptions{FieldManager: managedBy, Force: true}
	label := map[string]string{"app.kubernetes.io/managed-by": managedBy}
	group := func(name string) *rbacapply.SubjectApplyConfiguration {
		return rbacapply.Subject().WithAPIGroup(rbacv1.GroupName).WithKind("Group").WithName(name)
	}
	crb := func(name, role string, subjects ...*rbacapply.SubjectApplyConfiguration) error {
		b := rbacapply.ClusterRoleBinding(name).WithLabels(label).
			WithRoleRef(rbacapply.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(role)).
			WithSubjects(subjects...)
		_, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, b, opts)
		if apierrors.IsInvalid(err) {
			// roleRef cannot change: an older edgek bound another role under this name.
			if err = cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}); err == nil {
				_, err = cs.RbacV1().ClusterRoleBindings().Apply(ctx, b, opts)
			}
		}
		if err != nil {
			return fmt.Errorf("apply ClusterRoleBinding %s: %w", name, err)
		}
		return nil
	}
	for _, r := range []*rbacapply.ClusterRoleApplyConfiguration{
		rbacapply.ClusterRole("edgek:flannel").WithLabels(label).WithRules(
			rbacapply.PolicyRule().WithAPIGroups("").WithResources("nodes").WithVerbs("get", "list", "watch")),
		// Each node watches the local-path volumes pinned to it, to make and remove their
		// directories (pkg/localstorage); PersistentVolumes hold no secrets.
		rbacapply.ClusterRole("edgek:local-storage-node").WithLabels(label).WithRules(
			rbacapply.PolicyRule().WithAPIGroups("").WithResources("persistentvolumes").WithVerbs("get", "list", "watch")),
		// Each node's network policy controller (pkg/netpol), with kube-proxy's identity.
		rbacapply.ClusterRole("edgek:network-policy").WithLabels(label).WithRules(
			// (its own Node it reads as kube-proxy does, through system:node-proxier)
			rbacapply.PolicyRule().WithAPIGroups("").WithResources("pods", "namespaces").WithVerbs("list", "watch"),
			rbacapply.PolicyRule().WithAPIGroups("networking.k8s.io").WithResources("networkpolicies").WithVerbs("list", "watch")),
	} {
		if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, r, opts); err != nil {
			return fmt.Errorf("apply ClusterRole %s: %w", *r.Name, err)
		}
	}
	for _, b := range []struct {
		name, role string
		subject    *rbacapply.SubjectApplyConfiguration
	}{
		{"edgek:flannel", "edgek:flannel", group("system:nodes")},
		{"edgek:local-storage-node", "edgek:local-storage-node", group("system:nodes")},
		{"edgek:network-policy", "edgek:network-policy",
			rbacapply.Subject().WithAPIGroup(rbacv1.GroupName).WithKind("User").WithName("system:kube-proxy")},
		{"edgek:node-bootstrapper", "system:node-bootstrapper", group(join.BootstrapGroup)},
		{"edgek:node-autoapprove-renewal", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", group("system:nodes")},
		// The apiserver's client certificate for kubelets (logs, exec, port-forward) is in no
		// group: this role, not system:masters.
		{"edgek:kube-apiserver-kubelet-client", "system:kubelet-api-admin",
			rbacapply.Subject().WithAPIGroup(rbacv1.GroupName).WithKind("User").WithName("system:kube-apiserver")},
	} {
		if err := crb(b.name, b.role, b.subject); err != nil {
			return err
		}
	}
	// Bindings of older edgek versions: the controller-manager approved every bootstrap
	// token's node certificate before node identities (edgek's approver judges them now), and
	// every node credential could do what kube-proxy does before joined nodes' kube-proxy had
	// its own identity (system:kube-proxy, bound to system:node-proxier by Kubernetes).
	for _, old := range []string{"edgek:node-autoapprove-bootstrap", "edgek:node-proxier"} {
		if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, old, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete ClusterRoleBinding %s: %w", old, err)
		}
	}
	ns := join.ConfigMapNamespace
	role := rbacapply.Role("edgek:node-config", ns).WithLabels(label).WithRules(
		rbacapply.PolicyRule().WithAPIGroups("").WithResources("configmaps").
			WithResourceNames(join.ConfigMapName).WithVerbs("get"))
	if _, err := cs.RbacV1().Roles(ns).Apply(ctx, role, opts); err != nil {
		return fmt.Errorf("apply Role edgek:node-config: %w", err)
	}
	rb := rbacapply.RoleBinding("edgek:node-config", ns).WithLabels(label).
		WithRoleRef(rbacapply.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName("edgek:node-config")).
		WithSubjects(group(join.BootstrapGroup), group("system:nodes"))
	if _, err := cs.RbacV1().RoleBindings(ns).Apply(ctx, rb, opts); err != nil {
		return fmt.Errorf("apply RoleBinding edgek:node-config: %w", err)
	}
	cm := coreapply.ConfigMap(join.ConfigMapName, ns).WithLabels(label).WithData(j.NodeConfig)
	if _, err := cs.CoreV1().ConfigMaps(ns).Apply(ctx, cm, opts); err != nil {
		return fmt.Errorf("apply ConfigMap %s: %w", join.ConfigMapName, err)
	}
	return PublishServerToken(ctx, cs, j.BootstrapToken)
}

// PublishServerToken makes bootstrapToken ("<id>.<secret>") the bootstrap token of agents
// joining with the server's token, and removes the one the server had before (its token
// changed): that one no longer joins anyone. Tokens made by edgek token create stay.
func PublishServerToken(ctx context.Context, cs kubernetes.Interface, bootstrapToken string) error {
	opts := metav1.ApplyOptions{FieldManager: managedBy, Force: true}
	id, secret, ok := strings.Cut(bootstrapToken, ".")
	if !ok {
		return fmt.Errorf("bootstrap token is not <id>.<secret>")
	}
	tok := coreapply.Secret("bootstrap-token-"+id, "kube-system").WithLabels(map[string]string{"app.kubernetes.io/managed-by": managedBy}).
		WithType(corev1.SecretTypeBootstrapToken).WithData(map[string][]byte{
		"description":                    []byte(ServerTokenDescription),
		"token-id":                       []byte(id),
		"token-secret":                   []byte(secret),
		"usage-bootstrap-authentication": []byte("true"),
		"auth-extra-groups":              []byte(join.BootstrapGroup),
	})
	if _, err := cs.CoreV1().Secrets("kube-system").Apply(ctx, tok, opts); err != nil {
		return fmt.Errorf("apply bootstrap token Secret: %w", err)
	}
	secrets, err := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/managed-by=" + managedBy,
		FieldSelector: "type=" + string(corev1.SecretTypeBootstrapToken),
	})
	if err != nil {
		return fmt.Errorf("list bootstrap token Secrets: %w", err)
	}
	for _, old := range secrets.Items {
		if old.Name == "bootstrap-token-"+id {
			continue
		}
		if err := cs.CoreV1().Secrets("kube-system").Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old bootstrap token Secret %s: %w", old.Name, err)
		}
	}
	return nil
}

// ServerTokenDescription is the description of the server token's bootstrap token.
const ServerTokenDescription = "edgek: agents joining with the server's token"

// LabelServerNode marks the node of a server with the control-plane role labels K3s users
// expect (the kubelet may not set node-role labels on itself: NodeRestriction refuses them).
// It waits for the node to be registered. cs has the admin credentials.
func LabelServerNode(ctx context.Context, cs kubernetes.Interface, nodeName string) error {
	patch := []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":"true","node-role.kubernetes.io/master":"true"}}}`)
	for {
		_, err := cs.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "edgek"})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("label node %s: %w", nodeName, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("label node %s: %w", nodeName, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
