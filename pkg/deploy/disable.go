package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// disableAddons deletes, for each disabled bundled addon not handled yet, the objects it
// created and its Addon. The objects are those the Addon lists or, without an Addon (or with
// an empty list), those of the bundled manifest that carry its source annotation. An Addon of
// the same name made from another file (a user's own coredns.yml, say), and objects another
// file has taken over, are left alone. A failure is logged and retried at the next scan.
func (c *Controller) disableAddons(ctx context.Context) {
	for _, name := range c.o.Disabled {
		if c.disabledDone[name] {
			continue
		}
		file, ok := c.bundledFile(name)
		if !ok {
			c.log.Warn("disabled addon is not a bundled addon, ignored", "addon", name,
				"bundled", c.bundledNames())
			c.disabledDone[name] = true
			continue
		}
		if err := c.disable(ctx, name, file); err != nil {
			c.log.Error("cannot remove a disabled addon", "addon", name, "err", err)
			continue
		}
		c.disabledDone[name] = true
	}
}

func (c *Controller) disable(ctx context.Context, name, file string) error {
	a, err := c.cl.getAddon(ctx, name)
	if err != nil {
		return fmt.Errorf("read addon: %w", err)
	}
	if a != nil && a.Source != "" && a.Source != file {
		c.log.Info("disabled addon: its name is used by another manifest, which stays",
			"addon", name, "file", a.Source)
		return nil
	}
	var refs []objectRef
	strict := false // the Addon lists what the bundled file made
	if a != nil {
		refs = a.Status.Objects
	}
	if len(refs) == 0 {
		strict = true
		objs, err := decodeManifest(c.o.Bundled[file])
		if err != nil {
			return fmt.Errorf("bundled manifest %s: %w", file, err)
		}
		for _, o := range applyOrder(objs) {
			refs = append(refs, refOf(o))
		}
	}
	var errs []error
	deleted := 0
	for _, ref := range pruneList(refs, nil) {
		ok, err := c.cl.delete(ctx, ref, file, strict)
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", ref, err))
		}
		if ok {
			deleted++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if a != nil {
		if err := c.cl.deleteAddon(ctx, name); err != nil {
			return fmt.Errorf("delete addon: %w", err)
		}
	}
	if a != nil || deleted > 0 {
		c.log.Info("disabled addon removed from the cluster", "addon", name, "deleted", deleted)
	}
	return nil
}

// bundledFile returns the bundled manifest of an addon name.
func (c *Controller) bundledFile(name string) (string, bool) {
	for file := range c.o.Bundled {
		if addonName(file) == name {
			return file, true
		}
	}
	return "", false
}

func (c *Controller) bundledNames() []string {
	var names []string
	for _, file := range slices.Sorted(maps.Keys(c.o.Bundled)) {
		names = append(names, addonName(file))
	}
	return names
}
