package deploy

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// cluster is what the controller needs from the API server; kube implements it, tests fake
// it (client-go's fake dynamic client cannot create objects with server-side apply).
type cluster interface {
	// ensureCRD creates or updates the Addon CRD and waits until it is established.
	ensureCRD(ctx context.Context) error
	// apply applies obj with server-side apply and returns its reference, with the namespace
	// it went to ("default" for a namespaced object without one, none for a cluster-scoped
	// object).
	apply(ctx context.Context, obj *unstructured.Unstructured) (objectRef, error)
	// crdsApplied waits (briefly) for CRDs just applied to be established and makes their
	// kinds known to apply.
	crdsApplied(ctx context.Context, names []string)
	// delete deletes an object (a namespaced one without namespace in "default") made from
	// the manifest file source, and reports whether it did; a missing object or kind is not an
	// error. An object whose sourceAnnotation names another file is left (another manifest
	// took it over); one without the annotation (applied before edgek set it) is deleted
	// unless strict.
	delete(ctx context.Context, ref objectRef, source string, strict bool) (bool, error)

	// getAddon returns the Addon of that name, or nil if there is none.
	getAddon(ctx context.Context, name string) (*addon, error)
	listAddons(ctx context.Context) ([]*addon, error)
	// putAddon creates or replaces an Addon (spec and status) and sets a.UID.
	putAddon(ctx context.Context, a *addon) error
	// deleteAddon deletes an Addon; a missing one is not an error.
	deleteAddon(ctx context.Context, name string) error
	// event emits an Event about an Addon.
	event(ctx context.Context, a *addon, eventType, reason, message string) error
}
