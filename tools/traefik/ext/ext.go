// Package ext stands in for Traefik's dynamic-configuration extension module. Traefik's go.mod
// replaces it with a directory of its repository that the published module does not carry, so
// this wrapper supplies the two (empty) types the open-source build embeds.
package ext

// HTTP extends Traefik's dynamic HTTP configuration; empty in the open-source build.
type HTTP struct{}

// Router extends Traefik's dynamic router configuration; empty in the open-source build.
type Router struct{}
